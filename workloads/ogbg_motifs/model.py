"""A small message-passing graph network on padded dense graphs (Flax linen)."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class DenseGraphNet(nn.Module):
  r"""Residual message passing, masked sum-and-mean readout, MLP head.

  With node states :math:`h^{(0)} = W_{in} x` and adjacency :math:`A`, each
  round updates every real node from itself and the sum of its neighbours:

  .. math::
    h^{(t+1)} = h^{(t)} + \mathrm{MLP}_t\bigl([\,h^{(t)},\ A h^{(t)}\,]\bigr) \odot m

  with :math:`m` the node mask. The graph vector is the masked sum and mean of
  the final states; a two-layer MLP maps it to ``num_labels`` logits.

  Call with ``x [B, N, F]``, ``adjacency [B, N, N]``, ``node_mask [B, N]``;
  returns ``[B, num_labels]`` logits.
  """

  num_labels: int
  hidden: int = 64
  num_rounds: int = 3
  activation: str = 'relu'
  layer_norm: bool = False

  @nn.compact
  def __call__(self, x, adjacency, node_mask, train: bool = False):
    del train  # No dropout or batch norm.
    act = getattr(nn, self.activation)
    mask = node_mask[..., None]
    adjacency = adjacency.astype(x.dtype)
    h = nn.Dense(self.hidden, name='Dense_in')(x) * mask
    for t in range(self.num_rounds):
      messages = jnp.einsum('bij,bjd->bid', adjacency, h)
      u = jnp.concatenate([h, messages], axis=-1)
      if self.layer_norm:
        u = nn.LayerNorm(name=f'LayerNorm_{t}')(u)
      u = act(nn.Dense(self.hidden, name=f'Dense_msg_{t}_0')(u))
      u = nn.Dense(self.hidden, name=f'Dense_msg_{t}_1')(u)
      h = h + u * mask
    total = h.sum(axis=1)
    mean = total / jnp.maximum(node_mask.sum(axis=1, keepdims=True), 1.0)
    g = jnp.concatenate([total, mean], axis=-1)
    g = act(nn.Dense(self.hidden, name='Dense_head')(g))
    return nn.Dense(self.num_labels, name='Dense_out')(g)
