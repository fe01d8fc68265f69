"""AlgoPerf's WMT Transformer (Flax linen), with autoregressive decoding for beam search.

An encoder-decoder Transformer (Vaswani et al., 2017, https://arxiv.org/abs/1706.03762)
as in the Flax WMT example that AlgoPerf's ``wmt`` workload uses: one token embedding
``shared_embedding`` for the encoder input, the decoder input and (transposed, divided by
:math:`\\sqrt{d}`) the output logits; fixed sinusoidal positions (no parameters);
``num_layers`` encoder blocks (self-attention, MLP) and decoder blocks (causal
self-attention, attention to the encoder, MLP); attention without biases; Xavier-uniform
kernels and :math:`\\mathcal N(0, 10^{-6})` biases; embedding :math:`\\mathcal N(0, 1)`.

Each sub-layer ``f`` is wrapped pre-norm, ``x + drop(f(LN(x)))`` with a layer norm after each
stack (``pre_ln=True``), or post-norm, ``LN(x + drop(f(x)))``, without the stack norms. The
variants of AlgoPerf change only the configuration: ``pre_ln``, ``attention_temp`` (queries
are multiplied by it before the attention), ``activation`` and ``glu`` (the MLP's hidden
layer is ``act(W_0 x) * (W_1 x)``).

Module names (``shared_embedding``, ``encoder/encoderblock_0/MultiHeadDotProductAttention_0``,
``decoder/encoderdecoderblock_5/MlpBlock_0/Dense_2``, ...) and shapes are those of AlgoPerf's
JAX model, so the parameter trees are interchangeable.

Packed training batches carry ``*_position`` (position of each token within its sentence)
and ``*_segmentation`` (which sentence of the row a token belongs to): attention stays
within a sentence, and padding (token 0) is never attended to.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

DROPOUT_RATE = 0.1  # AlgoPerf's default when no rate is given.


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
  """Sizes and switches of the model (hashable: one jit per configuration)."""

  vocab_size: int = 32000
  emb_dim: int = 1024
  num_heads: int = 16
  num_layers: int = 6
  qkv_dim: int = 1024
  mlp_dim: int = 1024
  max_len: int = 256
  activation: Callable = nn.relu
  glu: bool = False
  attention_temp: float = 1.0
  pre_ln: bool = True
  deterministic: bool = False
  decode: bool = False
  dtype: Any = jnp.float32


_kernel_init = nn.initializers.xavier_uniform()
_bias_init = nn.initializers.normal(stddev=1e-6)
_embed_init = nn.initializers.normal(stddev=1.0)


def sinusoidal_table(max_len: int, width: int) -> np.ndarray:
  r"""Fixed position encodings, shape ``[1, max_len, width]``.

  .. math::
    P_{p, i} = \sin(p\, \omega_i),\quad P_{p, h + i} = \cos(p\, \omega_i),\qquad
    \omega_i = 10^{-4\, i / (h - 1)},\quad h = \lfloor w/2 \rfloor

  (the last column stays 0 when ``width`` is odd).
  """
  half = width // 2
  omega = np.exp(np.arange(half) * (-np.log(10_000.0) / (half - 1)))
  angles = np.arange(max_len, dtype=np.float64)[:, None] * omega[None, :]
  table = np.zeros((max_len, width), np.float32)
  table[:, :half] = np.sin(angles)
  table[:, half : 2 * half] = np.cos(angles)
  return table[None]


def shift_right(tokens: jnp.ndarray) -> jnp.ndarray:
  """Teacher forcing: the decoder sees ``[0, t_0, ..., t_{L-2}]`` for targets ``t``."""
  return jnp.pad(tokens, ((0, 0), (1, 0)))[:, :-1]


class Dropout(nn.Module):
  """Dropout whose rate is an argument of the call (it may be traced: no recompilation)."""

  @nn.compact
  def __call__(self, x: jnp.ndarray, rate, deterministic: bool) -> jnp.ndarray:
    if deterministic:
      return x
    keep = 1.0 - rate
    kept = jax.random.bernoulli(self.make_rng('dropout'), p=keep, shape=x.shape)
    return jnp.where(kept, x / keep, jnp.zeros_like(x))


class PositionEmbedding(nn.Module):
  """Adds the sinusoidal table; in decode mode, the row of the current step (cached index)."""

  config: TransformerConfig
  decode: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, positions: Optional[jnp.ndarray] = None) -> jnp.ndarray:
    cfg = self.config
    table = jnp.asarray(sinusoidal_table(cfg.max_len, x.shape[-1]))
    rows = table[:, : x.shape[1]]
    if self.decode:
      started = self.has_variable('cache', 'cache_index')
      index = self.variable('cache', 'cache_index', lambda: jnp.zeros((), jnp.uint32))
      if started:
        step = index.value
        index.value = step + 1
        rows = jax.lax.dynamic_slice_in_dim(table, step.astype(jnp.int32), 1, axis=1)
    if positions is None:
      return x + rows
    return x + rows[0][positions]


class MlpBlock(nn.Module):
  """Dense ``mlp_dim`` -> activation (times a second dense when GLU) -> dense back."""

  config: TransformerConfig

  @nn.compact
  def __call__(self, x: jnp.ndarray, dropout_rate) -> jnp.ndarray:
    cfg = self.config

    def dense(features, name):
      return nn.Dense(
        features, dtype=cfg.dtype, kernel_init=_kernel_init, bias_init=_bias_init, name=name
      )

    hidden = cfg.activation(dense(cfg.mlp_dim, 'Dense_0')(x))
    if cfg.glu:
      hidden = hidden * dense(cfg.mlp_dim, 'Dense_1')(x)
    hidden = Dropout(name='Dropout_0')(hidden, dropout_rate, cfg.deterministic)
    out = dense(x.shape[-1], 'Dense_2' if cfg.glu else 'Dense_1')(hidden)
    return Dropout(name='Dropout_1')(out, dropout_rate, cfg.deterministic)


def _attention(cfg: TransformerConfig, index: int, decode: bool = False):
  return nn.MultiHeadDotProductAttention(
    num_heads=cfg.num_heads,
    qkv_features=cfg.qkv_dim,
    dtype=cfg.dtype,
    kernel_init=_kernel_init,
    bias_init=_bias_init,
    use_bias=False,
    broadcast_dropout=False,
    dropout_rate=0.0,
    deterministic=cfg.deterministic,
    decode=decode,
    name=f'MultiHeadDotProductAttention_{index}',
  )


class _Sublayers:
  """Numbering of a block's layer norms and dropouts in AlgoPerf's creation order."""

  def __init__(self, cfg: TransformerConfig) -> None:
    self.cfg, self.norms, self.drops = cfg, 0, 0

  def norm(self, x):
    self.norms += 1
    return nn.LayerNorm(dtype=self.cfg.dtype, name=f'LayerNorm_{self.norms - 1}')(x)

  def drop(self, x, rate):
    self.drops += 1
    return Dropout(name=f'Dropout_{self.drops - 1}')(x, rate, self.cfg.deterministic)

  def before(self, x):
    return self.norm(x) if self.cfg.pre_ln else x

  def after(self, x):
    return x if self.cfg.pre_ln else self.norm(x)


class Encoder1DBlock(nn.Module):
  """Self-attention then MLP, each in its residual wrapper."""

  config: TransformerConfig

  @nn.compact
  def __call__(self, x: jnp.ndarray, mask, dropout_rate) -> jnp.ndarray:
    cfg, sub = self.config, _Sublayers(self.config)
    h = sub.before(x)
    h = _attention(cfg, 0)(cfg.attention_temp * h, h, mask=mask)
    x = sub.after(x + sub.drop(h, dropout_rate))
    h = MlpBlock(cfg, name='MlpBlock_0')(sub.before(x), dropout_rate)
    return sub.after(x + h)


class EncoderDecoder1DBlock(nn.Module):
  """Causal self-attention, attention to the encoder output, MLP."""

  config: TransformerConfig

  @nn.compact
  def __call__(self, y, encoded, self_mask, cross_mask, dropout_rate) -> jnp.ndarray:
    cfg, sub = self.config, _Sublayers(self.config)
    h = sub.before(y)
    h = _attention(cfg, 0, decode=cfg.decode)(cfg.attention_temp * h, h, mask=self_mask)
    y = sub.after(y + sub.drop(h, dropout_rate))
    h = sub.before(y)
    h = _attention(cfg, 1)(cfg.attention_temp * h, encoded, mask=cross_mask)
    y = sub.after(y + sub.drop(h, dropout_rate))
    h = MlpBlock(cfg, name='MlpBlock_0')(sub.before(y), dropout_rate)
    return sub.after(y + h)


class Encoder(nn.Module):
  config: TransformerConfig
  shared_embedding: Any = None

  @nn.compact
  def __call__(self, inputs, positions, mask, dropout_rate) -> jnp.ndarray:
    cfg = self.config
    x = self.shared_embedding(inputs.astype(jnp.int32))
    x = PositionEmbedding(cfg, name='posembed_input')(x, positions)
    x = Dropout(name='Dropout_0')(x, dropout_rate, cfg.deterministic).astype(cfg.dtype)
    for i in range(cfg.num_layers):
      x = Encoder1DBlock(cfg, name=f'encoderblock_{i}')(x, mask, dropout_rate)
    if cfg.pre_ln:
      x = nn.LayerNorm(dtype=cfg.dtype, name='encoder_layernorm')(x)
    return x


class Decoder(nn.Module):
  config: TransformerConfig
  shared_embedding: Any = None

  @nn.compact
  def __call__(
    self, encoded, targets, positions, self_mask, cross_mask, dropout_rate
  ) -> jnp.ndarray:
    cfg = self.config
    y = targets.astype(jnp.int32)
    y = self.shared_embedding(y if cfg.decode else shift_right(y))
    y = PositionEmbedding(cfg, decode=cfg.decode, name='posembed_output')(y, positions)
    y = Dropout(name='Dropout_0')(y, dropout_rate, cfg.deterministic).astype(cfg.dtype)
    for i in range(cfg.num_layers):
      y = EncoderDecoder1DBlock(cfg, name=f'encoderdecoderblock_{i}')(
        y, encoded, self_mask, cross_mask, dropout_rate
      )
    if cfg.pre_ln:
      y = nn.LayerNorm(dtype=cfg.dtype, name='encoderdecoder_layernorm')(y)
    logits = self.shared_embedding.attend(y.astype(jnp.float32))
    return logits / jnp.sqrt(y.shape[-1])


def _pair_mask(query_ids, key_ids, fn, dtype):
  return nn.make_attention_mask(query_ids, key_ids, fn, dtype=dtype)


class Transformer(nn.Module):
  """The whole model: ``__call__`` (teacher forcing), ``encode`` and ``decode``."""

  config: TransformerConfig

  def setup(self) -> None:
    cfg = self.config
    self.shared_embedding = nn.Embed(cfg.vocab_size, cfg.emb_dim, embedding_init=_embed_init)
    self.encoder = Encoder(cfg, shared_embedding=self.shared_embedding)
    self.decoder = Decoder(cfg, shared_embedding=self.shared_embedding)

  def encode(
    self, inputs, inputs_positions=None, inputs_segmentation=None, dropout_rate=DROPOUT_RATE
  ):
    dtype = self.config.dtype
    mask = _pair_mask(inputs > 0, inputs > 0, jnp.multiply, dtype)
    if inputs_segmentation is not None:
      same = _pair_mask(inputs_segmentation, inputs_segmentation, jnp.equal, dtype)
      mask = nn.combine_masks(mask, same)
    return self.encoder(inputs, inputs_positions, mask, dropout_rate)

  def decode(
    self,
    encoded,
    inputs,
    targets,
    targets_positions=None,
    inputs_segmentation=None,
    targets_segmentation=None,
    dropout_rate=DROPOUT_RATE,
  ):
    """Logits of the targets; in decode mode, of one step (``targets`` is ``[B, 1]``)."""
    dtype = self.config.dtype
    if self.config.decode:  # One new token per call: the cache holds the past.
      self_mask = None
      cross_mask = _pair_mask(jnp.ones_like(targets) > 0, inputs > 0, jnp.multiply, dtype)
    else:
      self_mask = nn.combine_masks(
        _pair_mask(targets > 0, targets > 0, jnp.multiply, dtype),
        nn.make_causal_mask(targets, dtype=dtype),
      )
      cross_mask = _pair_mask(targets > 0, inputs > 0, jnp.multiply, dtype)
    if inputs_segmentation is not None:
      self_mask = nn.combine_masks(
        self_mask, _pair_mask(targets_segmentation, targets_segmentation, jnp.equal, dtype)
      )
      cross_mask = nn.combine_masks(
        cross_mask, _pair_mask(targets_segmentation, inputs_segmentation, jnp.equal, dtype)
      )
    logits = self.decoder(encoded, targets, targets_positions, self_mask, cross_mask, dropout_rate)
    return logits.astype(dtype)

  def __call__(
    self,
    inputs,
    targets,
    inputs_positions=None,
    targets_positions=None,
    inputs_segmentation=None,
    targets_segmentation=None,
    dropout_rate=DROPOUT_RATE,
  ):
    encoded = self.encode(inputs, inputs_positions, inputs_segmentation, dropout_rate)
    return self.decode(
      encoded,
      inputs,
      targets,
      targets_positions,
      inputs_segmentation,
      targets_segmentation,
      dropout_rate,
    )
