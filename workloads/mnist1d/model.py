"""A small 1-D convolutional classifier for MNIST-1D (Flax linen)."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class Conv1DNet(nn.Module):
  """Three strided 1-D convolutions, then a two-layer MLP head.

  Input ``[B, 40]`` -> ``[B, num_classes]`` logits.
  """

  num_classes: int = 10
  channels: tuple = (32, 64, 64)
  hidden: int = 128
  activation: str = 'relu'

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    del train  # No dropout or batch norm in the base model.
    act = getattr(nn, self.activation)
    x = x[..., None]
    for i, width in enumerate(self.channels):
      x = act(nn.Conv(width, kernel_size=(5,), strides=(1 if i == 0 else 2,), name=f'Conv_{i}')(x))
    x = x.reshape((x.shape[0], -1))
    x = act(nn.Dense(self.hidden, name='Dense_0')(x))
    return nn.Dense(self.num_classes, name='Dense_out')(x)
