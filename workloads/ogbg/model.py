"""AlgoPerf's ogbg graph network (Flax linen over ``jraph.GraphsTuple``), its parameter tree.

Node and edge features are embedded to ``latent_dim`` (modules ``node_embedding`` and
``edge_embedding``); every graph starts with zero globals of width ``num_outputs``. Then
``num_message_passing_steps`` full graph-network blocks (Battaglia et al., 2018) update
edges, nodes and globals in that order, each through an MLP on the concatenation of its
inputs (jraph's ``GraphNetwork`` with sum aggregation); a last dense layer maps the globals to
the ``num_outputs`` logits of each graph.

Each MLP layer is Dense, LayerNorm, activation, dropout. Unnamed modules are created in call
order inside :class:`GNN`, so their names (``Dense_0`` ... ``Dense_15``, ``LayerNorm_0`` ...
``LayerNorm_14`` in the base configuration) and the dropout keys (module ``Dropout_k`` asks
for the ``'dropout'`` stream) are those of AlgoPerf's JAX model.

References:
  Battaglia et al., Relational inductive biases, deep learning, and graph networks, 2018,
  https://arxiv.org/abs/1806.01261
"""

from __future__ import annotations

from typing import Callable, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

DROPOUT_RATE = 0.1  # AlgoPerf's default, used when the caller passes none.
ACTIVATIONS = {'relu': nn.relu, 'gelu': nn.gelu, 'silu': nn.silu}


class Dropout(nn.Module):
  """Inverted dropout whose rate is an argument of the call, so it can be traced.

  No Python branch on ``rate``: changing it does not recompile. The mask is a Bernoulli draw
  with keep probability ``1 - rate`` from this module's ``'dropout'`` key.
  """

  @nn.compact
  def __call__(self, x: jnp.ndarray, rate, deterministic: bool) -> jnp.ndarray:
    if deterministic:
      return x
    keep = 1.0 - rate
    mask = jax.random.bernoulli(self.make_rng('dropout'), p=keep, shape=x.shape)
    return jax.lax.select(mask, x / keep, jnp.zeros_like(x))


def _mlp(
  dims: Sequence[int], activation: Callable, train: bool, dropout_rate
) -> Callable[..., jnp.ndarray]:
  """An MLP on the concatenated (last-axis) arguments; its modules join the caller's scope."""

  @jraph.concatenated_args
  def apply(x):
    for width in dims:
      x = nn.Dense(width)(x)
      x = nn.LayerNorm()(x)
      x = activation(x)
      x = Dropout()(x, dropout_rate, deterministic=not train)
    return x

  return apply


class GNN(nn.Module):
  """Graph network from node/edge features to per-graph logits.

  Call with a ``jraph.GraphsTuple`` (no globals needed), ``train`` and ``dropout_rate``
  (may be traced); returns ``[num_graphs, num_outputs]`` logits, padding graphs included.
  """

  num_outputs: int = 128
  latent_dim: int = 256
  hidden_dims: Tuple[int, ...] = (256,)
  num_message_passing_steps: int = 5
  activation: str = 'relu'

  @nn.compact
  def __call__(self, graph: jraph.GraphsTuple, train: bool, dropout_rate=DROPOUT_RATE):
    if self.activation not in ACTIVATIONS:
      raise ValueError(f'activation {self.activation!r}: one of {sorted(ACTIVATIONS)}')
    activation = ACTIVATIONS[self.activation]
    num_graphs = graph.n_node.shape[0]
    graph = graph._replace(
      nodes=nn.Dense(self.latent_dim, name='node_embedding')(graph.nodes),
      edges=nn.Dense(self.latent_dim, name='edge_embedding')(graph.edges),
      globals=jnp.zeros((num_graphs, self.num_outputs)),
    )
    for _ in range(self.num_message_passing_steps):
      block = jraph.GraphNetwork(
        update_edge_fn=_mlp(self.hidden_dims, activation, train, dropout_rate),
        update_node_fn=_mlp(self.hidden_dims, activation, train, dropout_rate),
        update_global_fn=_mlp(self.hidden_dims, activation, train, dropout_rate),
      )
      graph = block(graph)
    return nn.Dense(self.num_outputs)(graph.globals)
