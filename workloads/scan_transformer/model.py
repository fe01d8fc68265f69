"""A tiny transformer encoder-decoder (Flax linen), pre- or post-layer-norm.

The architecture of AlgoPerf's WMT transformer (Vaswani et al., 2017,
https://arxiv.org/abs/1706.03762) at toy scale: a token embedding shared by
encoder and decoder, fixed sinusoidal positions, ``num_layers`` encoder blocks
(self-attention, MLP) and decoder blocks (causal self-attention, attention to
the encoder, MLP), and a dense output layer.

Each sub-layer ``f`` is wrapped either pre-norm, ``x + f(LN(x))`` with a final
layer norm after the stack (the default, as AlgoPerf's ``wmt``), or post-norm,
``LN(x + f(x))`` (the original transformer, as AlgoPerf's ``wmt_post_ln``).
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_dense_init = nn.initializers.xavier_uniform()


def sinusoidal_positions(length: int, width: int) -> np.ndarray:
  r"""Fixed position encodings, shape ``[length, width]``.

  .. math::
    P_{p, i} = \sin(p\, \omega_i),\quad P_{p, i + w/2} = \cos(p\, \omega_i),\qquad
    \omega_i = 10^{-4\, i / (w/2 - 1)}
  """
  half = width // 2
  frequencies = np.exp(-np.log(10_000.0) * np.arange(half) / max(half - 1, 1))
  angles = np.arange(length)[:, None] * frequencies[None, :]
  return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


class Residual(nn.Module):
  """``x + drop(f(LN(x)))`` (pre-norm) or ``LN(x + drop(f(x)))`` (post-norm)."""

  post_layer_norm: bool
  dropout_rate: float

  @nn.compact
  def __call__(self, sublayer: Callable, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    norm = nn.LayerNorm(name='layer_norm')
    y = sublayer(x if self.post_layer_norm else norm(x))
    x = x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    return norm(x) if self.post_layer_norm else x


class Mlp(nn.Module):
  """Dense ``mlp_dim`` -> activation -> dense back to the input width."""

  mlp_dim: int
  activation: str

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    h = getattr(nn, self.activation)(
      nn.Dense(self.mlp_dim, kernel_init=_dense_init, name='Dense_0')(x)
    )
    return nn.Dense(x.shape[-1], kernel_init=_dense_init, name='Dense_1')(h)


def _attention(num_heads: int, name: str) -> nn.MultiHeadDotProductAttention:
  return nn.MultiHeadDotProductAttention(
    num_heads=num_heads, kernel_init=_dense_init, use_bias=False, deterministic=True, name=name
  )


class EncoderBlock(nn.Module):
  num_heads: int
  mlp_dim: int
  activation: str
  post_layer_norm: bool
  dropout_rate: float

  @nn.compact
  def __call__(self, x, mask, train):
    attention = _attention(self.num_heads, 'self_attention')
    x = Residual(self.post_layer_norm, self.dropout_rate, name='attention_residual')(
      lambda y: attention(y, y, mask=mask), x, train
    )
    mlp = Mlp(self.mlp_dim, self.activation, name='mlp')
    return Residual(self.post_layer_norm, self.dropout_rate, name='mlp_residual')(mlp, x, train)


class DecoderBlock(nn.Module):
  num_heads: int
  mlp_dim: int
  activation: str
  post_layer_norm: bool
  dropout_rate: float

  @nn.compact
  def __call__(self, x, encoded, self_mask, cross_mask, train):
    self_attention = _attention(self.num_heads, 'self_attention')
    x = Residual(self.post_layer_norm, self.dropout_rate, name='self_attention_residual')(
      lambda y: self_attention(y, y, mask=self_mask), x, train
    )
    cross_attention = _attention(self.num_heads, 'cross_attention')
    x = Residual(self.post_layer_norm, self.dropout_rate, name='cross_attention_residual')(
      lambda y: cross_attention(y, encoded, mask=cross_mask), x, train
    )
    mlp = Mlp(self.mlp_dim, self.activation, name='mlp')
    return Residual(self.post_layer_norm, self.dropout_rate, name='mlp_residual')(mlp, x, train)


class Seq2SeqTransformer(nn.Module):
  """Source tokens ``[B, S]`` and decoder input tokens ``[B, T]`` -> logits ``[B, T, V]``.

  Token id ``pad_id`` marks source padding (masked out of attention); the
  decoder is causal, so its padding (after the sequence end) never reaches a
  real position.
  """

  vocab_size: int
  d_model: int = 64
  num_heads: int = 4
  mlp_dim: int = 128
  num_encoder_layers: int = 1
  num_decoder_layers: int = 1
  activation: str = 'relu'
  post_layer_norm: bool = False
  dropout_rate: float = 0.0
  pad_id: int = 0

  def setup(self):
    self.embedding = nn.Embed(
      self.vocab_size, self.d_model, embedding_init=nn.initializers.normal(stddev=1.0)
    )
    block = dict(
      num_heads=self.num_heads,
      mlp_dim=self.mlp_dim,
      activation=self.activation,
      post_layer_norm=self.post_layer_norm,
      dropout_rate=self.dropout_rate,
    )
    self.encoder_blocks = [
      EncoderBlock(**block, name=f'encoder_{i}') for i in range(self.num_encoder_layers)
    ]
    self.decoder_blocks = [
      DecoderBlock(**block, name=f'decoder_{i}') for i in range(self.num_decoder_layers)
    ]
    if not self.post_layer_norm:  # Pre-norm stacks end with a layer norm.
      self.encoder_norm = nn.LayerNorm(name='encoder_layer_norm')
      self.decoder_norm = nn.LayerNorm(name='decoder_layer_norm')
    self.dropout = nn.Dropout(self.dropout_rate)
    self.output = nn.Dense(self.vocab_size, kernel_init=_dense_init, name='output')

  def _embed(self, tokens, train):
    x = self.embedding(tokens) + sinusoidal_positions(tokens.shape[1], self.d_model)
    return self.dropout(x, deterministic=not train)

  def encode(self, inputs: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    """Encoder states ``[B, S, d_model]``."""
    valid = inputs != self.pad_id
    mask = nn.make_attention_mask(valid, valid)
    x = self._embed(inputs, train)
    for block in self.encoder_blocks:
      x = block(x, mask, train)
    return x if self.post_layer_norm else self.encoder_norm(x)

  def decode(
    self,
    encoded: jnp.ndarray,
    inputs: jnp.ndarray,
    decoder_inputs: jnp.ndarray,
    train: bool = False,
  ) -> jnp.ndarray:
    """Next-token logits ``[B, T, V]`` at every decoder position."""
    self_mask = nn.make_causal_mask(decoder_inputs)
    cross_mask = nn.make_attention_mask(jnp.ones(decoder_inputs.shape, bool), inputs != self.pad_id)
    y = self._embed(decoder_inputs, train)
    for block in self.decoder_blocks:
      y = block(y, encoded, self_mask, cross_mask, train)
    y = y if self.post_layer_norm else self.decoder_norm(y)
    return self.output(y)

  def __call__(
    self, inputs: jnp.ndarray, decoder_inputs: jnp.ndarray, train: bool = False
  ) -> jnp.ndarray:
    return self.decode(self.encode(inputs, train), inputs, decoder_inputs, train)


def shift_right(targets: jnp.ndarray, bos_id: int) -> jnp.ndarray:
  """Decoder inputs for teacher forcing: ``[BOS, t_0, ..., t_{T-2}]``."""
  bos = jnp.full(targets.shape[:1] + (1,), bos_id, targets.dtype)
  return jnp.concatenate([bos, targets[:, :-1]], axis=1)


def greedy_decode(
  model: Seq2SeqTransformer, params, inputs: jnp.ndarray, length: int, bos_id: int
) -> jnp.ndarray:
  """Greedy decoding of ``length`` tokens, ``[B, length]`` (jit-able).

  Step ``t`` runs the decoder on the tokens chosen so far (positions after ``t``
  are masked by causality) and appends the most likely token. No key/value
  cache: at this size recomputing the prefix is cheap and keeps one code path.
  """
  variables = {'params': params}
  encoded = model.apply(variables, inputs, method=Seq2SeqTransformer.encode)
  tokens = jnp.zeros((inputs.shape[0], length), jnp.int32)

  def step(t, tokens):
    decoder_inputs = shift_right(tokens, bos_id)
    logits = model.apply(
      variables, encoded, inputs, decoder_inputs, method=Seq2SeqTransformer.decode
    )
    next_token = jnp.argmax(
      jax.lax.dynamic_index_in_dim(logits, t, axis=1, keepdims=False), axis=-1
    ).astype(jnp.int32)
    return jax.lax.dynamic_update_index_in_dim(tokens, next_token, t, axis=1)

  return jax.lax.fori_loop(0, length, step, tokens)
