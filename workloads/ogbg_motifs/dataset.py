"""Random small graphs labelled by the motifs they contain, as a TFDS builder.

Each graph has 8-16 nodes (padded to ``MAX_NODES``), every node one of
``NUM_NODE_TYPES`` types plus two uniform random features, and edges drawn
independently with a per-graph probability (Erdős–Rényi, density drawn per
graph). The targets are a multi-hot vector of ``NUM_LABELS`` motif
indicators (see :data:`LABEL_NAMES`), computed exactly from the adjacency
matrix, like OGB's molecular property flags. Everything is drawn with numpy
from a fixed seed, so the data are the same on every machine with no download.

Stored per graph: ``inputs`` (node features ``[MAX_NODES, NUM_FEATURES]``:
one-hot type then the two random features, zeros for padding nodes),
``adjacency`` (``[MAX_NODES, MAX_NODES]`` uint8, symmetric, no self-loops),
``node_mask`` (``[MAX_NODES]`` float32), ``targets`` (``[NUM_LABELS]`` float32)
and ``example_id``.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.common.array_builder import ArrayBuilder

SEED = 0
SPLIT_SIZES = {'train': 10_000, 'validation': 2_000, 'test': 2_000}
MIN_NODES, MAX_NODES = 8, 16
NUM_NODE_TYPES = 4
NUM_FEATURES = NUM_NODE_TYPES + 2
EDGE_PROB_RANGE = (0.08, 0.28)
LABEL_NAMES = (
  'triangle',  # three mutually adjacent nodes
  'three_triangles',  # at least three triangles
  'four_cycle',  # two nodes with >= 2 common neighbours
  'diamond',  # two triangles sharing an edge
  'connected',  # every real node reaches every other
  'type0_type1_distance_3',  # a type-0 and a type-1 node 3 edges apart (shortest path)
  'rainbow_triangle',  # a triangle whose nodes have three different types
  'type1_two_type2_nbrs',  # a type-1 node with >= 2 type-2 neighbours
)
NUM_LABELS = len(LABEL_NAMES)


def motif_labels(adjacency: np.ndarray, node_type: np.ndarray, node_mask: np.ndarray) -> np.ndarray:
  """The motif indicators of a batch of padded graphs.

  Args:
    adjacency: ``[G, N, N]`` 0/1, symmetric, zero diagonal, zero on padding.
    node_type: ``[G, N]`` integer types (any value on padding nodes).
    node_mask: ``[G, N]`` 1 for real nodes.

  Returns:
    ``[G, NUM_LABELS]`` float32 multi-hot labels, in :data:`LABEL_NAMES` order.
  """
  # Float32 matrix products are exact for these small counts, and fast (BLAS).
  a = adjacency.astype(np.float32)
  n = a.shape[-1]
  real = node_mask.astype(bool)
  a2 = a @ a
  num_triangles = np.round(np.trace(a2 @ a, axis1=1, axis2=2) / 6)
  # within_k[g, i, j]: j is at most k edges from i (by repeated squaring for k >= 4).
  reach = lambda x, y: np.minimum(x @ y, 1.0)  # noqa: E731
  within_1 = a + np.eye(n, dtype=np.float32)
  within_2 = reach(within_1, within_1)
  within_3 = reach(within_2, within_1)
  within_all, hops = within_2, 2
  while hops < n - 1:  # Every shortest path has at most n - 1 edges.
    within_all, hops = reach(within_all, within_all), 2 * hops
  real_pair = real[:, :, None] & real[:, None, :]
  is_type = [(node_type == t) & real for t in range(NUM_NODE_TYPES)]
  distance_3 = (within_3 > 0) & (within_2 == 0)
  # A rainbow triangle: an edge between two different types whose endpoints
  # share a neighbour of a third type.
  edge_types_differ = (a > 0) & (node_type[:, :, None] != node_type[:, None, :])
  rainbow = np.zeros(len(a), bool)
  for t in range(NUM_NODE_TYPES):
    common_of_type_t = (a * is_type[t][:, None, :].astype(np.float32)) @ a
    neither_is_t = ~(node_type == t)[:, :, None] & ~(node_type == t)[:, None, :]
    rainbow |= (edge_types_differ & neither_is_t & (common_of_type_t > 0)).any((-2, -1))
  labels = [
    num_triangles >= 1,
    num_triangles >= 3,
    ((a2 >= 2) & ~np.eye(n, dtype=bool)).any((-2, -1)),
    ((a * a2) >= 2).any((-2, -1)),
    ((within_all > 0) | ~real_pair).all((-2, -1)),
    (is_type[0][:, :, None] & is_type[1][:, None, :] & distance_3).any((-2, -1)),
    rainbow,
    (is_type[1] & ((a * is_type[2][:, None, :]).sum(-1) >= 2)).any(-1),
  ]
  return np.stack(labels, axis=-1).astype(np.float32)


def generate_graphs(num_graphs: int, rng: np.random.Generator) -> dict:
  """``num_graphs`` random graphs as padded arrays (see the module docstring)."""
  n = MAX_NODES
  num_nodes = rng.integers(MIN_NODES, MAX_NODES + 1, size=num_graphs)
  node_mask = (np.arange(n)[None, :] < num_nodes[:, None]).astype(np.float32)
  edge_prob = rng.uniform(*EDGE_PROB_RANGE, size=(num_graphs, 1, 1))
  upper = np.triu(rng.random((num_graphs, n, n)) < edge_prob, k=1)
  upper &= (node_mask[:, :, None] * node_mask[:, None, :]).astype(bool)
  adjacency = (upper | upper.transpose(0, 2, 1)).astype(np.uint8)
  node_type = rng.integers(0, NUM_NODE_TYPES, size=(num_graphs, n))
  extra = rng.uniform(-1.0, 1.0, size=(num_graphs, n, 2))
  one_hot = np.eye(NUM_NODE_TYPES)[node_type]
  inputs = np.concatenate([one_hot, extra], axis=-1) * node_mask[:, :, None]
  return {
    'inputs': inputs.astype(np.float32),
    'adjacency': adjacency,
    'node_mask': node_mask,
    'targets': motif_labels(adjacency, node_type, node_mask),
  }


def generate_arrays(seed: int = SEED) -> dict:
  """All splits: ``{split: {feature: array}}``, from one generator in split order."""
  rng = np.random.default_rng(seed)
  return {split: generate_graphs(size, rng) for split, size in SPLIT_SIZES.items()}


class OgbgMotifs(ArrayBuilder):
  """Random graphs with multi-label motif targets (an OGB-molpcba stand-in)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Erdős–Rényi graphs of 8-16 nodes, 8 motif labels (LABEL_NAMES), seed 0, 10k/2k/2k.'
  }
  # algoperf_like.workloads.common.tfds_data.fingerprint of each split, checked on every load.
  FINGERPRINTS = {
    'train': '3cd69df1953f4c38c23235f6fc379bd57934bf507cf7ed53d0dedaf010b1b435',
    'validation': '6368c8937758fbf4c26f54fbfb5b5a200c5545225392dbaa68e9b0675aa08d69',
    'test': 'efd4a4a523995bbc6bee3860db9b260951663b21bfcf52d7f0e0cca664acad78',
  }

  def features(self):
    return {
      'inputs': tfds.features.Tensor(shape=(MAX_NODES, NUM_FEATURES), dtype=np.float32),
      'adjacency': tfds.features.Tensor(shape=(MAX_NODES, MAX_NODES), dtype=np.uint8),
      'node_mask': tfds.features.Tensor(shape=(MAX_NODES,), dtype=np.float32),
      'targets': tfds.features.Tensor(shape=(NUM_LABELS,), dtype=np.float32),
    }

  def generate(self):
    return generate_arrays()
