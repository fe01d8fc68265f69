"""Flax layers that several CPU workloads share."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class Conv1D(nn.Module):
  r"""1-D convolution over ``[B, T, C]`` as one matrix product of stacked shifts ("im2col").

  The same function as ``nn.Conv(features, (kernel_size,), strides, padding='SAME')``
  (kernel ``[kernel_size, C, features]``), written as gathers plus a single
  matmul because XLA's CPU backend runs small-channel 1-D convolutions and
  their gradients several times slower than the equivalent dense product:

  .. math::
    y_{t} = b + \sum_{i=0}^{k-1} W_i^\top x_{s t + i - p}, \qquad
    p = \lfloor \max((\lceil T/s \rceil - 1) s + k - T, 0) / 2 \rfloor

  with zero padding outside ``[0, T)``.

  Attributes:
    features: output channels.
    kernel_size: taps :math:`k`.
    strides: stride :math:`s`; the output has ``ceil(T / s)`` frames.
  """

  features: int
  kernel_size: int = 3
  strides: int = 1
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    k, s = self.kernel_size, self.strides
    length, channels = x.shape[-2], x.shape[-1]
    kernel = self.param('kernel', self.kernel_init, (k, channels, self.features))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    frames = -(-length // s)
    total_pad = max((frames - 1) * s + k - length, 0)
    x = jnp.pad(x, ((0, 0), (total_pad // 2, total_pad - total_pad // 2), (0, 0)))
    stop = (frames - 1) * s + 1
    columns = jnp.concatenate([x[:, i : i + stop : s] for i in range(k)], axis=-1)
    return columns @ kernel.reshape(k * channels, self.features) + bias
