"""Conformer encoder with a CTC head (Gulati et al., 2020, https://arxiv.org/abs/2005.08100).

The parameter tree, shapes and initialisers are those of AlgoPerf's JAX ``Conformer``
(module names ``Subsample_0``, ``ConformerBlock_{i}``, ``LayerNorm_0``, ``Dense_0``, ...),
so AlgoPerf's parameters load as they are. Per block::

  x = x + 0.5 * FeedForward(x)
  x = x + MultiHeadedSelfAttention(x)
  x = x + ConvolutionBlock(x)
  x = x + 0.5 * FeedForward(x)
  x = LayerNorm(x)        # only with use_post_layer_norm

The input is audio; features are computed in the model
(:func:`~algoperf_like.workloads.librispeech.frontend.log_mel_features`), SpecAugment
is applied in training, two stride-2 convolutions subsample time by 4, and sinusoidal
position encodings are added. Attention scales queries by a learned per-dimension
``softplus(scale) / softplus(0)`` and multiplies the attention output by
``attention_temperature`` (as AlgoPerf does).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf_like.workloads.librispeech import frontend
from algoperf_like.workloads.librispeech.layers import (
  BatchNorm,
  Conv2dSubsampling,
  Dropout,
  LayerNorm,
  xavier,
)

DROPOUT_RATE = 0.1  # AlgoPerf's default for every dropout of the model.


@dataclasses.dataclass(frozen=True)
class ConformerConfig:
  vocab_size: int = 1024
  encoder_dim: int = 512
  num_attention_heads: int = 8
  num_encoder_layers: int = 4
  convolution_kernel_size: int = 5
  feed_forward_expansion_factor: int = 4
  freq_mask_count: int = 2
  freq_mask_max_bins: int = 27
  time_mask_count: int = 10
  time_mask_max_ratio: float = 0.05
  batch_norm_momentum: float = 0.999
  batch_norm_epsilon: float = 0.001
  use_specaug: bool = True
  attention_temperature: float = 1.0
  activation: str = 'swish'  # or 'gelu'
  use_post_layer_norm: bool = True


def _activation(name: str):
  if name not in ('swish', 'gelu'):
    raise ValueError(f'activation {name!r}: swish or gelu')
  return nn.swish if name == 'swish' else nn.gelu


def sinusoidal_positions(length: int, dim: int) -> jnp.ndarray:
  """``[1, length, dim]``: sin then cos of ``position / 10000^(i / (dim/2 - 1))``."""
  half = dim // 2
  increment = math.log(10_000.0) / max(half - 1, 1)
  inv_timescales = jnp.exp(jnp.arange(half, dtype=jnp.float32) * -increment)
  angles = jnp.arange(length, dtype=jnp.float32)[None, :, None] * inv_timescales[None, None]
  signal = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
  return jnp.pad(signal, ((0, 0), (0, 0), (0, dim % 2)))


class Subsample(nn.Module):
  """Two stride-2 convolutions, a projection to ``encoder_dim``, positions, dropout."""

  encoder_dim: int

  @nn.compact
  def __call__(self, x, paddings, train, dropout_rate):
    x = x[..., None]
    x, paddings = Conv2dSubsampling(1, self.encoder_dim)(x, paddings)
    x, paddings = Conv2dSubsampling(self.encoder_dim, self.encoder_dim)(x, paddings)
    batch, time, freq, channels = x.shape
    x = nn.Dense(self.encoder_dim, kernel_init=xavier)(x.reshape(batch, time, freq * channels))
    x = x + sinusoidal_positions(time, self.encoder_dim)
    return Dropout()(x, deterministic=not train, rate=dropout_rate), paddings


class FeedForwardModule(nn.Module):
  config: ConformerConfig

  @nn.compact
  def __call__(self, x, valid, train, dropout_rate):
    c = self.config
    x = LayerNorm(c.encoder_dim)(x)
    x = nn.Dense(c.encoder_dim * c.feed_forward_expansion_factor, kernel_init=xavier)(x)
    x = _activation(c.activation)(x)
    x = Dropout()(x, deterministic=not train, rate=dropout_rate) * valid
    x = nn.Dense(c.encoder_dim, kernel_init=xavier)(x) * valid
    return Dropout()(x, deterministic=not train, rate=dropout_rate)


class QueryScaler(nn.Module):
  """Multiplies queries by ``softplus(scale) / softplus(0)`` per dimension (1 at init)."""

  dim: int

  @nn.compact
  def __call__(self, q):
    scale = self.param('scale', nn.initializers.zeros, [self.dim])
    return q * (jnp.asarray(1.0 / math.log(2.0), q.dtype) * jax.nn.softplus(scale))


def _scaled_attention(query, key, value, mask=None, temperature=1.0, **kwargs):
  """Dot-product attention after :class:`QueryScaler` (created in the calling module)."""
  query = QueryScaler(query.shape[-1])(query)
  weights = nn.attention.dot_product_attention_weights(
    query,
    key,
    mask=mask,
    deterministic=True,
    dtype=kwargs.get('dtype') or jnp.float32,
    precision=kwargs.get('precision'),
  )
  out = jnp.einsum('...hqk,...khd->...qhd', weights, value, precision=kwargs.get('precision'))
  return out * temperature


class MultiHeadedSelfAttention(nn.Module):
  config: ConformerConfig

  @nn.compact
  def __call__(self, x, paddings, train, dropout_rate):
    c = self.config
    valid = (1 - paddings) > 0
    mask = nn.make_attention_mask(valid, valid, dtype=jnp.float32)
    x = LayerNorm(c.encoder_dim)(x)
    x = nn.MultiHeadDotProductAttention(
      num_heads=c.num_attention_heads,
      qkv_features=c.encoder_dim,
      kernel_init=xavier,
      bias_init=nn.initializers.zeros,
      use_bias=True,
      broadcast_dropout=False,
      dropout_rate=0.0,
      deterministic=not train,
      attention_fn=functools.partial(_scaled_attention, temperature=c.attention_temperature),
    )(x, mask=mask)
    return Dropout()(x, deterministic=not train, rate=dropout_rate)


class ConvolutionBlock(nn.Module):
  """LayerNorm, GLU, depthwise convolution over time, masked BatchNorm, activation, dense."""

  config: ConformerConfig

  @nn.compact
  def __call__(self, x, paddings, train, update_batch_norm, use_running_average, dropout_rate):
    c = self.config
    x = LayerNorm(c.encoder_dim)(x)
    gated = nn.Dense(c.encoder_dim, kernel_init=xavier)(x)
    gate = nn.Dense(c.encoder_dim, kernel_init=xavier)(x)
    x = gated * jax.nn.sigmoid(gate) * (1 - paddings[..., None])
    x = nn.Conv(
      c.encoder_dim,
      kernel_size=(c.convolution_kernel_size,),
      padding='SAME',
      feature_group_count=c.encoder_dim,
      use_bias=False,
      kernel_init=xavier,
    )(x)
    x = BatchNorm(c.encoder_dim, c.batch_norm_momentum, c.batch_norm_epsilon)(
      x, paddings, update_batch_norm, use_running_average
    )
    x = _activation(c.activation)(x)
    x = nn.Dense(c.encoder_dim, kernel_init=xavier)(x)
    return Dropout()(x, deterministic=not train, rate=dropout_rate)


class ConformerBlock(nn.Module):
  config: ConformerConfig

  @nn.compact
  def __call__(self, x, paddings, train, update_batch_norm, use_running_average, dropout_rate):
    c = self.config
    valid = (1 - paddings)[..., None]
    x = x + 0.5 * FeedForwardModule(c)(x, valid, train, dropout_rate)
    x = x + MultiHeadedSelfAttention(c)(x, paddings, train, dropout_rate)
    x = x + ConvolutionBlock(c)(
      x, paddings, train, update_batch_norm, use_running_average, dropout_rate
    )
    x = x + 0.5 * FeedForwardModule(c)(x, valid, train, dropout_rate)
    if c.use_post_layer_norm:
      x = LayerNorm(c.encoder_dim)(x)
    return x


class Conformer(nn.Module):
  """Audio ``[B, T]`` with paddings -> ``(logits [B, T', vocab], logit_paddings [B, T'])``."""

  config: ConformerConfig

  @nn.compact
  def __call__(
    self,
    inputs,
    input_paddings,
    train: bool,
    update_batch_norm: Optional[bool] = None,
    use_running_average_bn: Optional[bool] = None,
    dropout_rate: float = DROPOUT_RATE,
  ):
    c = self.config
    update_batch_norm = train if update_batch_norm is None else update_batch_norm
    if use_running_average_bn is None:
      use_running_average_bn = not train
    x, paddings = frontend.log_mel_features(inputs, input_paddings)
    specaug = frontend.SpecAugment(
      freq_mask_count=c.freq_mask_count,
      freq_mask_max_bins=c.freq_mask_max_bins,
      time_mask_count=c.time_mask_count,
      time_mask_max_ratio=c.time_mask_max_ratio,
      name='specaug',
    )
    if train and c.use_specaug:
      x, paddings = specaug(x, paddings)
    x, paddings = Subsample(c.encoder_dim)(x, paddings, train, dropout_rate)
    for _ in range(c.num_encoder_layers):
      x = ConformerBlock(c)(
        x, paddings, train, update_batch_norm, use_running_average_bn, dropout_rate
      )
    x = LayerNorm(c.encoder_dim)(x)
    return nn.Dense(c.vocab_size, kernel_init=xavier)(x), paddings
