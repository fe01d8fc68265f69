"""Layers both LibriSpeech models share, named and initialised as in AlgoPerf's JAX models.

- :class:`Dropout`: the rate is given at call time (a submission's ``dropout_rate``),
  with no Python branch on it, so changing it does not recompile;
- :class:`LayerNorm`: ``(x - mean) / sqrt(var + 1e-6) * (1 + scale) + bias``, ``scale``
  initialised to zeros (lingvo's convention);
- :class:`BatchNorm`: statistics over the unpadded positions only, the same
  ``(1 + scale)`` convention, running averages in ``batch_stats`` (momentum 0.999, eps 1e-3);
- :class:`Conv2dSubsampling`: a 3x3 convolution of stride 2 over (time, frequency), with the
  paddings subsampled alike.
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

xavier = nn.initializers.xavier_uniform()


class Dropout(nn.Module):
  """Inverted dropout whose rate is an argument of the call (``make_rng('dropout')``)."""

  rate: float = 0.0

  @nn.compact
  def __call__(self, x, deterministic: bool, rate: Optional[float] = None):
    if deterministic:
      return x
    keep = 1.0 - (self.rate if rate is None else rate)
    mask = jax.random.bernoulli(self.make_rng('dropout'), p=keep, shape=x.shape)
    return jax.lax.select(mask, x / keep, jnp.zeros_like(x))


class LayerNorm(nn.Module):
  """Layer normalisation over the last axis with a zero-initialised ``1 + scale``."""

  dim: int
  epsilon: float = 1e-6

  @nn.compact
  def __call__(self, x):
    scale = self.param('scale', nn.initializers.zeros, [self.dim])
    bias = self.param('bias', nn.initializers.zeros, [self.dim])
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * (1 + scale) + bias


class BatchNorm(nn.Module):
  """Batch normalisation of ``[B, T, dim]`` that ignores padded positions.

  ``use_running_average``: normalise with ``batch_stats`` (evaluation); otherwise with
  the batch's masked mean and variance, folded into the running averages when
  ``update_stats``. The running averages keep their shape ``[dim]`` (AlgoPerf's turn into
  ``[1, 1, dim]`` at the first update, the same values, and a retrace).
  """

  dim: int
  momentum: float = 0.999
  epsilon: float = 0.001

  @nn.compact
  def __call__(self, x, paddings, update_stats: bool, use_running_average: bool):
    ra_mean = self.variable('batch_stats', 'mean', lambda: jnp.zeros((self.dim,), jnp.float32))
    ra_var = self.variable('batch_stats', 'var', lambda: jnp.ones((self.dim,), jnp.float32))
    scale = self.param('scale', nn.initializers.zeros, (self.dim,), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros, (self.dim,), jnp.float32)
    valid = 1.0 - paddings[..., None]
    if use_running_average:
      mean, var = ra_mean.value, ra_var.value
    else:
      axes = tuple(range(x.ndim - 1))
      count = jnp.maximum(jnp.sum(jnp.ones_like(x) * valid, axis=axes, keepdims=True), 1.0)
      mean = jnp.sum(x * valid, axis=axes, keepdims=True) / count
      var = jnp.sum((x - mean) * (x - mean) * valid, axis=axes, keepdims=True) / count
      if update_stats:  # Kept of shape [dim] (AlgoPerf's become [1, 1, dim] here).
        m = self.momentum
        ra_mean.value = m * ra_mean.value + (1 - m) * mean.reshape(self.dim)
        ra_var.value = m * ra_var.value + (1 - m) * var.reshape(self.dim)
    y = (x - mean) * ((1 + scale) / jnp.sqrt(var + self.epsilon)) + bias
    return y * valid


class Conv2dSubsampling(nn.Module):
  """``[B, T, F, C_in] -> [B, ceil(T/2), ceil(F/2), C_out]``: strided 3x3 conv, activation."""

  input_channels: int
  output_channels: int
  activation: str = 'relu'

  @nn.compact
  def __call__(self, x, paddings):
    kernel = self.param('kernel', xavier, (3, 3, self.input_channels, self.output_channels))
    bias = self.param('bias', nn.initializers.zeros, (self.output_channels,), jnp.float32)
    y = jax.lax.conv_general_dilated(
      x,
      kernel,
      window_strides=(2, 2),
      padding='SAME',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
      feature_group_count=x.shape[3] // self.input_channels,
    )
    y = y + bias
    y = jnp.tanh(y) if self.activation == 'tanh' else nn.relu(y)
    out_paddings = paddings[:, ::2]  # A frame is padded where its first input frame is.
    return y * (1.0 - out_paddings[:, :, None, None]), out_paddings
