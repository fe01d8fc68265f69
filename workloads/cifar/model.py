"""ResNet-18 with a CIFAR stem, as AlgoPerf's JAX ``cifar`` model (Flax linen).

The stem is one 3x3 convolution (stride 1) and batch norm, no max pooling; four
stages of two basic blocks (64, 128, 256, 512 filters, stride 2 from the second
stage on); a 4x4 average pool, a global mean and a dense layer initialised from
``N(0, 0.01^2)``. Batch norm: momentum 0.9, epsilon 1e-5; the second norm of each
block starts with a zero scale. Module names (``Conv_init``, ``BatchNorm_init``,
``ResNetBlock_i/{Conv_0, BatchNorm_0, Conv_1, BatchNorm_1, Conv_proj,
BatchNorm_proj}``, ``Dense_0``) and so the parameter tree are AlgoPerf's.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, Tuple

import flax.linen as nn
import jax.numpy as jnp


class ResNetBlock(nn.Module):
  """Two 3x3 convolutions and a shortcut (a 1x1 projection where the shape changes)."""

  filters: int
  conv: Any
  norm: Any
  act: Callable
  strides: Tuple[int, int] = (1, 1)

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    y = self.act(self.norm()(self.conv(self.filters, (3, 3), self.strides)(x)))
    y = self.conv(self.filters, (3, 3))(y)
    y = self.norm(scale_init=nn.initializers.zeros)(y)
    shortcut = x
    if x.shape != y.shape or self.strides != (1, 1):
      shortcut = self.conv(self.filters, (1, 1), self.strides, name='Conv_proj')(x)
      shortcut = self.norm(name='BatchNorm_proj')(shortcut)
    return self.act(shortcut + y)


class CifarResNet(nn.Module):
  """``[B, 32, 32, 3]`` images -> ``[B, num_classes]`` logits.

  ``update_batch_norm`` uses (and updates) batch statistics, else the running
  averages; ``use_running_average_bn`` overrides that choice, as in AlgoPerf.
  """

  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  num_classes: int = 10
  num_filters: int = 64
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(
    self,
    x: jnp.ndarray,
    update_batch_norm: bool = True,
    use_running_average_bn: Optional[bool] = None,
  ) -> jnp.ndarray:
    if use_running_average_bn is None:
      use_running_average_bn = not update_batch_norm
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype)
    norm = functools.partial(
      nn.BatchNorm,
      use_running_average=use_running_average_bn,
      momentum=0.9,
      epsilon=1e-5,
      dtype=self.dtype,
    )
    x = conv(self.num_filters, (3, 3), (1, 1), padding=((1, 1), (1, 1)), name='Conv_init')(x)
    x = nn.relu(norm(name='BatchNorm_init')(x))
    for stage, num_blocks in enumerate(self.stage_sizes):
      for block in range(num_blocks):
        strides = (2, 2) if stage > 0 and block == 0 else (1, 1)
        x = ResNetBlock(
          self.num_filters * 2**stage, conv=conv, norm=norm, act=nn.relu, strides=strides
        )(x)
    x = nn.avg_pool(x, (4, 4), strides=(4, 4))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(
      self.num_classes, kernel_init=nn.initializers.normal(stddev=1e-2), dtype=self.dtype
    )(x)
