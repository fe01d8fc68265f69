"""DeepSpeech 2 with a CTC head (Amodei et al., 2015, https://arxiv.org/abs/1512.02595).

The parameter tree, shapes and initialisers are those of AlgoPerf's JAX ``Deepspeech``:
``Subsample_0`` (two stride-2 convolutions, a projection), six ``BatchRNN_{i}`` layers
(a masked BatchNorm, or a LayerNorm with ``layernorm_everywhere``, then one bidirectional
LSTM of ``encoder_dim / 2`` units per direction, flax ``OptimizedLSTMCell`` parameters
under ``LSTM_0/LSTM/LSTMSequenceEncoder_{0,1}/cell``), three ``FeedForwardModule_{i}``,
an optional ``LayerNorm_0`` and the output ``Dense_0``. Residual connections around the
LSTM and feed-forward layers unless ``enable_residual_connections`` is off.

As in AlgoPerf: the backward LSTM reads each sequence's unpadded frames reversed (the
padding stays at the end), the LSTMs run over padded frames too, and with residual
connections the feed-forward layers' dropout stays at its default rate (0.1) whatever
``dropout_rate`` is given (AlgoPerf passes it to them only without residual connections).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from algoperf_like.workloads.librispeech import frontend
from algoperf_like.workloads.librispeech.layers import (
  BatchNorm,
  Conv2dSubsampling,
  Dropout,
  LayerNorm,
  xavier,
)

DROPOUT_RATE = 0.1


@dataclasses.dataclass(frozen=True)
class DeepspeechConfig:
  vocab_size: int = 1024
  encoder_dim: int = 512
  num_lstm_layers: int = 6
  num_ffn_layers: int = 3
  use_specaug: bool = True
  freq_mask_count: int = 2
  freq_mask_max_bins: int = 27
  time_mask_count: int = 10
  time_mask_max_ratio: float = 0.05
  batch_norm_momentum: float = 0.999
  batch_norm_epsilon: float = 0.001
  enable_residual_connections: bool = True
  enable_decoder_layer_norm: bool = True
  use_tanh: bool = False
  layernorm_everywhere: bool = False


def _norm(config: DeepspeechConfig, x, paddings, train):
  """The pre-norm of a layer, created in the calling module (``LayerNorm_0`` or
  ``BatchNorm_0``); BatchNorm uses batch statistics and updates them exactly when ``train``."""
  if config.layernorm_everywhere:
    return LayerNorm(config.encoder_dim)(x)
  return BatchNorm(config.encoder_dim, config.batch_norm_momentum, config.batch_norm_epsilon)(
    x, paddings, train, not train
  )


class Subsample(nn.Module):
  config: DeepspeechConfig

  @nn.compact
  def __call__(self, x, paddings, train, dropout_rate):
    c = self.config
    act = 'tanh' if c.use_tanh else 'relu'
    x, paddings = Conv2dSubsampling(1, c.encoder_dim, act)(x[..., None], paddings)
    x, paddings = Conv2dSubsampling(c.encoder_dim, c.encoder_dim, act)(x, paddings)
    batch, time, freq, channels = x.shape
    x = nn.Dense(c.encoder_dim, kernel_init=xavier)(x.reshape(batch, time, freq * channels))
    return Dropout()(x, deterministic=not train, rate=dropout_rate), paddings


def reverse_valid(x, lengths):
  """Reverse each sequence's first ``lengths[b]`` steps along axis 1; the rest reversed
  in place after them (its own inverse)."""
  time = x.shape[1]
  index = (lengths[:, None] - 1 - jnp.arange(time)[None, :]) % time
  return jnp.take_along_axis(x, index[:, :, None], axis=1)


class _Direction(nn.Module):
  """One LSTM direction over ``[B, T, D]``, a flax ``OptimizedLSTMCell`` named ``cell``."""

  hidden_size: int

  @nn.compact
  def __call__(self, x):
    scan = nn.scan(
      nn.OptimizedLSTMCell,
      variable_broadcast='params',
      split_rngs={'params': False},
      in_axes=1,
      out_axes=1,
    )
    cell = scan(self.hidden_size, name='cell')
    zeros = jnp.zeros((x.shape[0], self.hidden_size), x.dtype)
    _, outputs = cell((zeros, zeros), x)
    return outputs


class _BiLstm(nn.Module):
  hidden_size: int

  @nn.compact
  def __call__(self, x, lengths):
    forward = _Direction(self.hidden_size, name=f'{self.name}SequenceEncoder_0')(x)
    backward = _Direction(self.hidden_size, name=f'{self.name}SequenceEncoder_1')(
      reverse_valid(x, lengths)
    )
    return jnp.concatenate([forward, reverse_valid(backward, lengths)], axis=-1)


class LSTM(nn.Module):
  """A bidirectional LSTM layer (``hidden_size`` units per direction)."""

  hidden_size: int

  @nn.compact
  def __call__(self, x, lengths):
    return _BiLstm(self.hidden_size, name='LSTM')(x, lengths)


class BatchRNN(nn.Module):
  config: DeepspeechConfig

  @nn.compact
  def __call__(self, x, paddings, train):
    c = self.config
    lengths = jnp.sum(1 - paddings, axis=-1).astype(jnp.int32)
    x = _norm(c, x, paddings, train)
    return LSTM(c.encoder_dim // 2)(x, lengths)


class FeedForwardModule(nn.Module):
  config: DeepspeechConfig

  @nn.compact
  def __call__(self, x, paddings, train, dropout_rate=DROPOUT_RATE):
    c = self.config
    x = _norm(c, x, paddings, train)
    x = nn.Dense(c.encoder_dim, kernel_init=xavier)(x)
    x = (jnp.tanh(x) if c.use_tanh else nn.relu(x)) * (1 - paddings)[..., None]
    return Dropout()(x, deterministic=not train, rate=dropout_rate)


class Deepspeech(nn.Module):
  """Audio ``[B, T]`` with paddings -> ``(logits [B, T', vocab], logit_paddings [B, T'])``."""

  config: DeepspeechConfig

  @nn.compact
  def __call__(self, inputs, input_paddings, train: bool, dropout_rate: float = DROPOUT_RATE):
    c = self.config
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
    x, paddings = Subsample(c)(x, paddings, train, dropout_rate)
    for _ in range(c.num_lstm_layers):
      y = BatchRNN(c)(x, paddings, train)
      x = x + y if c.enable_residual_connections else y
    for _ in range(c.num_ffn_layers):
      if c.enable_residual_connections:
        x = x + FeedForwardModule(c)(x, paddings, train)
      else:
        x = FeedForwardModule(c)(x, paddings, train, dropout_rate)
    if c.enable_decoder_layer_norm:
      x = LayerNorm(c.encoder_dim)(x)
    return nn.Dense(c.vocab_size, kernel_init=xavier)(x), paddings
