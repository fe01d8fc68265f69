"""A small DLRM (Naumov et al., 2019) in Flax linen."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp


class _Mlp(nn.Module):
  """Dense layers with an activation (and optional layer norm) after each but the last."""

  widths: Sequence[int]
  activation: str
  layer_norm: bool
  final_activation: bool

  @nn.compact
  def __call__(self, x):
    act = getattr(nn, self.activation)
    for i, width in enumerate(self.widths):
      x = nn.Dense(width, name=f'Dense_{i}')(x)
      if i < len(self.widths) - 1 or self.final_activation:
        if self.layer_norm:
          x = nn.LayerNorm(name=f'LayerNorm_{i}')(x)
        x = act(x)
    return x


class SmallDlrm(nn.Module):
  r"""Embeddings, bottom MLP, pairwise dot interactions, top MLP.

  The dense features go through the bottom MLP to a vector of the embedding
  width; with the ``F`` categorical embeddings that makes ``F + 1`` vectors
  :math:`v_a`, whose dot products :math:`\langle v_a, v_b \rangle` (``a < b``)
  are concatenated with the bottom output and fed to the top MLP, which ends
  in one logit. All categorical fields share one table, each at its offset.

  Call with ``dense [B, D]`` and ``categorical [B, F]`` (ints); returns ``[B, 1]``.

  References:
    Naumov et al., Deep Learning Recommendation Model for Personalization and
    Recommendation Systems, 2019, https://arxiv.org/abs/1906.00091
  """

  vocab_sizes: Sequence[int]
  embed_dim: int = 8
  bottom_widths: Sequence[int] = (32,)
  top_widths: Sequence[int] = (64, 32)
  activation: str = 'relu'
  layer_norm: bool = False

  @nn.compact
  def __call__(self, dense, categorical, train: bool = False):
    del train  # No dropout or batch norm.
    offsets = jnp.asarray([0] + list(self.vocab_sizes[:-1])).cumsum()
    table = nn.Embed(
      sum(self.vocab_sizes),
      self.embed_dim,
      name='Embed_0',
      embedding_init=nn.initializers.normal(1.0 / self.embed_dim**0.5),
    )
    embedded = table(categorical + offsets)  # [B, F, E]
    bottom = _Mlp(
      tuple(self.bottom_widths) + (self.embed_dim,),
      self.activation,
      self.layer_norm,
      final_activation=True,
      name='Bottom',
    )(dense)
    vectors = jnp.concatenate([bottom[:, None, :], embedded], axis=1)  # [B, F+1, E]
    dots = jnp.einsum('bae,bce->bac', vectors, vectors)
    upper_a, upper_c = jnp.triu_indices(vectors.shape[1], k=1)
    features = jnp.concatenate([bottom, dots[:, upper_a, upper_c]], axis=-1)
    top = _Mlp(
      tuple(self.top_widths), self.activation, self.layer_norm, final_activation=True, name='Top'
    )(features)
    return nn.Dense(1, name='Dense_out')(top)
