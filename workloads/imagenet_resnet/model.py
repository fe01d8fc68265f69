"""ResNet-50 v1 in Flax, with the parameter tree of AlgoPerf's JAX ``imagenet_resnet`` model.

Tree (``params`` and ``batch_stats`` alike): ``Conv_init``, ``BatchNorm_init``, sixteen
``BottleneckResNetBlock_{i}`` (each ``Conv_0..2``, ``BatchNorm_0..2`` and, where the shape
or stride changes, ``Conv_proj`` / ``BatchNorm_proj``), and the classifier ``Dense_0``.
Convolutions have no bias; BatchNorm keeps running statistics with momentum 0.9 and
epsilon 1e-5; the last BatchNorm of every block starts with scale ``bn_init_scale``
(0 in the base workload: each block starts as the identity); the classifier kernel is
drawn from N(0, 0.01^2).

Reference: He et al., "Deep Residual Learning for Image Recognition" (2015),
https://arxiv.org/abs/1512.03385.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import jax.numpy as jnp
from flax import linen as nn


class BottleneckResNetBlock(nn.Module):
  """1x1 reduce, 3x3 (strided), 1x1 expand to ``4 * filters``, plus the shortcut."""

  filters: int
  strides: int
  act: Callable
  bn_init_scale: float
  norm: Callable

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(nn.Conv, use_bias=False)
    stride = (self.strides, self.strides)
    h = self.act(self.norm()(conv(self.filters, (1, 1))(x)))
    h = self.act(self.norm()(conv(self.filters, (3, 3), stride)(h)))
    h = conv(4 * self.filters, (1, 1))(h)
    h = self.norm(scale_init=nn.initializers.constant(self.bn_init_scale))(h)
    shortcut = x
    if x.shape != h.shape or self.strides != 1:
      shortcut = conv(4 * self.filters, (1, 1), stride, name='Conv_proj')(x)
      shortcut = self.norm(name='BatchNorm_proj')(shortcut)
    return self.act(shortcut + h)


class ResNet(nn.Module):
  """ResNet v1 with bottleneck blocks; ``stage_sizes=(3, 4, 6, 3)`` is ResNet-50.

  Attributes:
    num_classes: classifier outputs.
    stage_sizes: blocks per stage.
    num_filters: width of the first stage (doubling per stage).
    act: the activation (ReLU; SiLU or GELU in the variants).
    bn_init_scale: initial scale of each block's last BatchNorm.
  """

  num_classes: int = 1000
  stage_sizes: Sequence[int] = (3, 4, 6, 3)
  num_filters: int = 64
  act: Callable = nn.relu
  bn_init_scale: float = 0.0

  @nn.compact
  def __call__(
    self, x, update_batch_norm: bool = True, use_running_average_bn: Optional[bool] = None
  ):
    if use_running_average_bn is None:  # AlgoPerf's default: running stats unless updating.
      use_running_average_bn = not update_batch_norm
    norm = functools.partial(
      nn.BatchNorm, use_running_average=use_running_average_bn, momentum=0.9, epsilon=1e-5
    )
    x = nn.Conv(
      self.num_filters, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], use_bias=False, name='Conv_init'
    )(x)
    x = self.act(norm(name='BatchNorm_init')(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, num_blocks in enumerate(self.stage_sizes):
      for block in range(num_blocks):
        x = BottleneckResNetBlock(
          filters=self.num_filters * 2**stage,
          strides=2 if stage > 0 and block == 0 else 1,
          act=self.act,
          bn_init_scale=self.bn_init_scale,
          norm=norm,
        )(x)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(stddev=0.01))(x)
