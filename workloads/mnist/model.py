"""AlgoPerf's MNIST model: one hidden layer of 128 sigmoid units (Flax linen).

Parameter tree as AlgoPerf's JAX ``mnist``: ``Dense_0`` (784 -> 128), ``Dense_1``
(128 -> 10), Flax's default initialisers.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

IMAGE_SHAPE = (28, 28, 1)


class MnistMLP(nn.Module):
  """``[B, 28, 28, 1]`` images -> ``[B, num_classes]`` logits."""

  hidden: int = 128
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    del train  # No dropout or normalisation.
    x = x.reshape((x.shape[0], -1))
    x = nn.sigmoid(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_classes)(x)
