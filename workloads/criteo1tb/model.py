"""DLRM-small and its residual variant, with AlgoPerf's parameter tree (Flax linen).

The input is one ``[B, 39]`` float array: 13 log-transformed dense features, then the 26
hashed categorical ids (as floats, the way AlgoPerf's pipeline hands them over). All 26
fields share one embedding table of ``vocab_size`` rows; an id is looked up modulo
``vocab_size``.

* :class:`DlrmSmall` (Naumov et al., 2019): a bottom MLP maps the dense features to one
  ``embed_dim`` vector; it and the 26 embeddings interact by pairwise dot products (the
  upper triangle, diagonal included, of the ``27 x 27`` Gram matrix); the top MLP maps
  the bottom output and those products to one logit. Optional layer norm after every
  hidden activation and over the embeddings (``criteo1tb_layernorm``), and an
  ``embedding_init_multiplier`` that replaces the ``1/sqrt(vocab_size)`` scale of the
  uniform table init (``criteo1tb_embed_init``).
* :class:`DlrmResNet`: residual bottom and top MLPs, the embeddings concatenated instead
  of interacted (``criteo1tb_resnet``).

Module names (``Dense_0`` ... ``Dense_7``, ``LayerNorm_*``, ``embedding_table``),
initialisers and the order of operations are those of AlgoPerf's JAX models, so the
same parameters give the same logits and the same ``'params'`` key gives the same
initial parameters.

References:
  Naumov et al., 2019, "Deep Learning Recommendation Model for Personalization and
  Recommendation Systems", https://arxiv.org/abs/1906.00091.
"""

from __future__ import annotations

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

NUM_CATEGORICAL = 26


class Dropout(nn.Module):
  """Inverted dropout whose rate is given at call time (a traced rate does not recompile).

  Draws its mask from the ``'dropout'`` rng stream as ``bernoulli(1 - rate)``, as
  AlgoPerf's ``jax_utils.Dropout`` does, so masks agree for the same key.
  """

  @nn.compact
  def __call__(self, x: jnp.ndarray, rate, deterministic: bool) -> jnp.ndarray:
    if deterministic:
      return x
    keep = 1.0 - rate
    mask = jax.random.bernoulli(self.make_rng('dropout'), p=keep, shape=x.shape)
    return jax.lax.select(mask, x / keep, jnp.zeros_like(x))


def _normal(stddev: float):
  return nn.initializers.normal(stddev=stddev)


def _split_inputs(x: jnp.ndarray, num_dense: int):
  dense, categorical = x[:, :num_dense], x[:, num_dense:]
  return dense, categorical.astype(jnp.int32)


def pairwise_dots(features: jnp.ndarray) -> jnp.ndarray:
  """``[B, F, D] -> [B, F (F + 1) / 2]``: the Gram matrix's upper triangle, row by row."""
  gram = jnp.matmul(features, jnp.transpose(features, (0, 2, 1)))
  rows, cols = jnp.triu_indices(features.shape[1])
  return gram[:, rows, cols]


class DlrmSmall(nn.Module):
  """DLRM-small: bottom MLP, one shared embedding table, dot interaction, top MLP.

  Attributes:
    vocab_size: rows of the shared embedding table.
    num_dense_features: dense features at the front of the input.
    mlp_bottom_dims: widths of the bottom MLP (the last must be ``embed_dim``).
    mlp_top_dims: widths of the top MLP (the last is 1, the logit).
    embed_dim: width of an embedding row.
    use_layer_norm: layer norm after each hidden activation and over the embeddings.
    embedding_init_multiplier: scale of the uniform table init (None: ``1/sqrt(vocab)``).
  """

  vocab_size: int = 4_194_304
  num_dense_features: int = 13
  mlp_bottom_dims: Sequence[int] = (512, 256, 128)
  mlp_top_dims: Sequence[int] = (1024, 1024, 512, 256, 1)
  embed_dim: int = 128
  use_layer_norm: bool = False
  embedding_init_multiplier: Optional[float] = None

  def _table_init(self, key, shape, dtype=jnp.float32):
    if self.embedding_init_multiplier is None:
      scale = 1.0 / jnp.sqrt(self.vocab_size)
    else:
      scale = self.embedding_init_multiplier
    return jax.random.uniform(key, shape, dtype) * scale

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool, dropout_rate=0.0) -> jnp.ndarray:
    dense, categorical = _split_inputs(x, self.num_dense_features)
    batch = x.shape[0]
    norms = 0

    def layer_norm(h):
      nonlocal norms
      h = nn.LayerNorm(name=f'LayerNorm_{norms}')(h)
      norms += 1
      return h

    h = dense
    for i, width in enumerate(self.mlp_bottom_dims):
      h = nn.Dense(
        width,
        kernel_init=nn.initializers.glorot_uniform(),
        bias_init=_normal(jnp.sqrt(1.0 / width)),
        name=f'Dense_{i}',
      )(h)
      h = nn.relu(h)
      if self.use_layer_norm:
        h = layer_norm(h)
    bottom = h

    table = self.param('embedding_table', self._table_init, (self.vocab_size, self.embed_dim))
    ids = categorical.reshape(-1) % self.vocab_size
    embedded = table[ids].reshape(batch, -1, self.embed_dim)
    if self.use_layer_norm:
      embedded = layer_norm(embedded)
    stack = jnp.concatenate([bottom.reshape(batch, -1, self.embed_dim), embedded], axis=1)
    h = jnp.concatenate([bottom, pairwise_dots(stack)], axis=-1)

    first = len(self.mlp_bottom_dims)
    last = len(self.mlp_top_dims) - 1
    fan_in = h.shape[1]
    for i, width in enumerate(self.mlp_top_dims):
      h = nn.Dense(
        width,
        kernel_init=_normal(jnp.sqrt(2.0 / (fan_in + width))),
        bias_init=_normal(jnp.sqrt(1.0 / width)),
        name=f'Dense_{first + i}',
      )(h)
      fan_in = width
      if i < last:
        h = nn.relu(h)
        if self.use_layer_norm:
          h = layer_norm(h)
      if i == last - 1:
        h = Dropout(name='Dropout_0')(h, dropout_rate, deterministic=not train)
    return h


class DlrmResNet(nn.Module):
  """DLRM with residual MLPs and concatenated embeddings (``criteo1tb_resnet``).

  Attributes:
    vocab_size: rows of the shared embedding table.
    num_dense_features: dense features at the front of the input.
    mlp_bottom_dims: widths of the bottom MLP (equal after the first: residual sums).
    mlp_top_dims: widths of the top MLP (the last is 1, the logit).
    embed_dim: width of an embedding row.
  """

  vocab_size: int = 4_194_304
  num_dense_features: int = 13
  mlp_bottom_dims: Sequence[int] = (256, 256, 256)
  mlp_top_dims: Sequence[int] = (256, 256, 256, 256, 1)
  embed_dim: int = 128

  def _table_init(self, key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype) / jnp.sqrt(self.vocab_size)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool, dropout_rate=0.0) -> jnp.ndarray:
    dense, categorical = _split_inputs(x, self.num_dense_features)
    batch = x.shape[0]
    dims = self.mlp_bottom_dims
    h = nn.Dense(
      dims[0],
      kernel_init=nn.initializers.glorot_uniform(),
      bias_init=_normal(1.0 / dims[0] ** 0.5),
      name='Dense_0',
    )(dense)
    h = nn.relu(h)
    for i, width in enumerate(dims[1:], 1):
      step = nn.Dense(
        width,
        kernel_init=nn.initializers.glorot_uniform(),
        bias_init=_normal(1.0 / width**0.5),
        name=f'Dense_{i}',
      )(h)
      h = h + nn.relu(step)

    table = self.param('embedding_table', self._table_init, (self.vocab_size, self.embed_dim))
    ids = categorical.reshape(-1) % self.vocab_size
    embedded = table[ids].reshape(batch, NUM_CATEGORICAL * self.embed_dim)
    h = jnp.concatenate([h, embedded], axis=1)

    top = self.mlp_top_dims
    first = len(dims)
    h = nn.Dense(
      top[0],
      kernel_init=_normal(jnp.sqrt(2.0 / (h.shape[1] + top[0]))),
      bias_init=_normal(jnp.sqrt(1.0 / top[0])),
      name=f'Dense_{first}',
    )(h)
    h = nn.relu(h)
    for i in range(1, len(top) - 1):
      step = nn.Dense(
        top[i],
        kernel_init=_normal(jnp.sqrt(2.0 / (top[i - 1] + top[i]))),
        bias_init=_normal(jnp.sqrt(1.0 / top[i])),
        name=f'Dense_{first + i}',
      )(h)
      step = nn.relu(step)
      if i == len(top) - 2:
        step = Dropout(name='Dropout_0')(step, dropout_rate, deterministic=not train)
      h = h + step
    return nn.Dense(
      1,
      kernel_init=_normal(jnp.sqrt(2.0 / (top[-2] + 1))),
      bias_init=_normal(1.0),
      name=f'Dense_{first + len(top) - 1}',
    )(h)
