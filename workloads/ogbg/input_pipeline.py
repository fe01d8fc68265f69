"""OGB-molpcba from a TFDS data dir as padded ``jraph.GraphsTuple`` batches, as AlgoPerf batches it.

Each molecule becomes one graph with both directions of every bond (edges doubled, senders
and receivers swapped for the second copy) and its 128 labels. ``jraph.dynamically_batch``
packs consecutive graphs into one fixed-size sub-batch per device: at most ``b + 1`` graphs,
``26 b + 1`` nodes and ``56 b`` edges, with ``b = global_batch_size // local_device_count``
(26 and 56 are about the mean graph sizes), padded up to exactly those sizes, the last graph
holding the padding. So a batch holds at most ``b`` real graphs per device, and fewer when
the graphs are large. Labels that are NaN (unmeasured) become 0 with weight 0; the labels of
padding graphs get weight 0.

A batch is ``{'inputs': GraphsTuple, 'targets': [G, 128], 'weights': [G, 128]}``: the
per-device sub-batches joined by ``jraph.batch_np`` (node indices offset, as AlgoPerf v0.6's
JAX pipeline does), so every array splits along axis 0 into exactly one sub-batch per device.
Training batches are placed that way over the local devices
(:func:`algoperf_like.jax_sharding_utils.place_batch`).

Order: training (and ``eval_train``) shuffles the file order with one seed and the examples
with another (a 2**15 buffer), both drawn from ``data_rng`` as AlgoPerf draws them, and
repeats; validation and test keep the stored order, once. The stream is deterministic, so a
position is two counts: the batches produced and the graphs they consumed. Restoring skips
that many examples in tf.data (no Python work per skipped graph) and batches again from there,
which gives the same batches because dynamic batching restarts at each batch boundary.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional

import jax
import numpy as np

from algoperf_like.workloads.common import full_scale

TFDS_NAME = 'ogbg_molpcba:0.1.3'
DATASET = 'ogbg'  # The `datasets prepare` name.
NUM_FEATURES_NODE, NUM_FEATURES_EDGE, NUM_LABELS = 9, 3, 128
AVG_NODES_PER_GRAPH = 26
AVG_EDGES_PER_GRAPH = 56
SHUFFLE_BUFFER = 2**15
TFDS_SPLIT = {'train': 'train', 'eval_train': 'train', 'validation': 'validation', 'test': 'test'}

Batch = Dict[str, Any]


def builder(data_dir: str):
  """The TFDS builder of ``ogbg_molpcba:0.1.3`` under ``data_dir``."""
  import tensorflow_datasets as tfds

  return tfds.builder(TFDS_NAME, data_dir=data_dir)


def require_prepared(data_dir: str):
  """The prepared builder, or a one-line :class:`full_scale.DatasetMissingError`."""
  b = builder(data_dir)
  if not b.is_prepared():
    full_scale.require_path(b.data_dir, DATASET, data_dir, what=TFDS_NAME)
  return b


def shuffle_seeds(data_rng) -> tuple:
  """(file seed, example seed): the first word of each half of ``split(data_rng)``."""
  keys = jax.random.split(data_rng)
  if jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
    keys = jax.random.key_data(keys)
  keys = np.asarray(keys)
  return int(keys[0].ravel()[0]), int(keys[1].ravel()[0])


def examples(data_dir: str, split: str, data_rng=None, skip: int = 0):
  """The tf.data stream of one split's examples (shuffled and repeated for training)."""
  import tensorflow_datasets as tfds

  shuffle = split in ('train', 'eval_train')
  file_seed, example_seed = shuffle_seeds(data_rng) if shuffle else (None, None)
  ds = require_prepared(data_dir).as_dataset(
    split=TFDS_SPLIT[split],
    shuffle_files=shuffle,
    read_config=tfds.ReadConfig(add_tfds_id=True, shuffle_seed=file_seed),
  )
  if shuffle:
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=example_seed).repeat()
  if skip:
    ds = ds.skip(skip)
  return ds


def to_graph(example: Dict[str, np.ndarray]):
  """One molecule as a ``jraph.GraphsTuple`` with bidirectional edges; labels in ``globals``."""
  import jraph

  edge_index = example['edge_index']
  senders, receivers = edge_index[:, 0], edge_index[:, 1]
  return jraph.GraphsTuple(
    n_node=np.asarray(example['num_nodes']).reshape(1),
    n_edge=np.asarray([2 * len(edge_index)]),
    nodes=example['node_feat'],
    edges=np.concatenate([example['edge_feat'], example['edge_feat']]),
    senders=np.concatenate([senders, receivers]),
    receivers=np.concatenate([receivers, senders]),
    globals=example['labels'][None, :],
  )


def labels_and_weights(labels: np.ndarray, graph_mask: np.ndarray):
  """NaN labels to 0 with weight 0, and weight 0 for every label of a padding graph."""
  missing = np.isnan(labels)
  weights = (~missing).astype(np.float32) * graph_mask[:, None].astype(np.float32)
  return np.where(missing, 0.0, labels).astype(np.float32), weights


class GraphBatches:
  """Batches of ``num_shards`` padded sub-batches of at most ``per_shard`` graphs each.

  Iterates ``graphs`` (an iterator of single-graph ``GraphsTuple``s). Counts the batches
  produced and the real graphs they hold (``get_state``), so that a new stream skipped by
  that many graphs continues it. Stops when the graphs run out before a batch is full (the
  last, partial batch is dropped, as AlgoPerf drops it) or after ``num_batches``.
  """

  def __init__(
    self,
    make_graphs: Callable[[int], Iterator],
    per_shard: int,
    num_shards: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable[[Batch], Batch]] = None,
  ) -> None:
    self.make_graphs, self.per_shard, self.num_shards = make_graphs, per_shard, num_shards
    self.num_batches, self.place = num_batches, place
    self.set_state({'batches_produced': 0, 'graphs_consumed': 0})

  def get_state(self) -> dict:
    return {'batches_produced': self.produced, 'graphs_consumed': self.consumed}

  def set_state(self, state: dict) -> None:
    import jraph

    self.produced = int(state['batches_produced'])
    self.consumed = int(state['graphs_consumed'])
    self._sub_batches = jraph.dynamically_batch(
      self.make_graphs(self.consumed),
      n_node=AVG_NODES_PER_GRAPH * self.per_shard + 1,
      n_edge=AVG_EDGES_PER_GRAPH * self.per_shard,
      n_graph=self.per_shard + 1,
    )

  def __iter__(self) -> Iterator[Batch]:
    return self

  def __next__(self) -> Batch:
    import jraph

    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    graphs, targets, weights = [], [], []
    for _ in range(self.num_shards):
      sub = next(self._sub_batches)  # StopIteration ends the stream: a partial batch is dropped.
      mask = jraph.get_graph_padding_mask(sub)
      labels, w = labels_and_weights(sub.globals, mask)
      graphs.append(sub._replace(globals={}))
      targets.append(labels)
      weights.append(w)
      self.consumed += int(mask.sum())
    batch = {
      'inputs': jraph.batch_np(graphs),
      'targets': np.concatenate(targets),
      'weights': np.concatenate(weights),
    }
    self.produced += 1
    return self.place(batch) if self.place else batch


def batches(
  data_dir: str,
  split: str,
  global_batch_size: int,
  data_rng=None,
  num_shards: Optional[int] = None,
  num_batches: Optional[int] = None,
  place: Optional[Callable[[Batch], Batch]] = None,
) -> GraphBatches:
  """The batch stream of ``split`` (see the module docstring); ``num_shards``: local devices."""
  import tensorflow_datasets as tfds

  num_shards = num_shards or jax.local_device_count()
  per_shard = global_batch_size // num_shards
  if per_shard < 1:
    raise ValueError(f'global batch size {global_batch_size} < {num_shards} devices')
  require_prepared(data_dir)  # Fail now, in one line, rather than at the first batch.

  def make_graphs(skip: int) -> Iterator:
    return map(to_graph, tfds.as_numpy(examples(data_dir, split, data_rng, skip)))

  return GraphBatches(make_graphs, per_shard, num_shards, num_batches, place)
