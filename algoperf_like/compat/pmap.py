"""The pmap-era API of AlgoPerf (v0.5, and v0.6 submissions still written for it).

Such a submission expects its params and model state replicated with a leading axis
of local devices (``flax.jax_utils.replicate``), batches shaped
``(local_devices, per_device_batch, ...)``, and steps ``jax.pmap``-ed over
``axis_name='batch'``. The runner converts at the edges: it replicates what
``init_model_fn`` returns, reshapes each batch of the input queue, and takes the first
replica for evaluation (every replica is the same after a ``pmean``/``psum`` step).
"""

from __future__ import annotations

from typing import Any, Iterator

import jax


def replicate(tree: Any) -> Any:
  """Every array of ``tree`` with a leading axis of local devices, one copy on each."""
  from flax import jax_utils

  return jax_utils.replicate(tree)


def unreplicate(tree: Any) -> Any:
  """The first replica of every array of ``tree``."""
  return jax.tree.map(lambda x: x[0], tree)


def shard_batch(batch: Any) -> Any:
  """Reshape every array of ``batch`` to ``(local_devices, per_device, ...)``."""
  n = jax.local_device_count()
  return jax.tree.map(lambda x: x.reshape((n, -1) + tuple(x.shape[1:])), batch)


class ShardedQueue:
  """An input queue whose batches have the pmap layout; checkpointable when the
  queue it wraps is (``get_state``/``set_state`` pass through)."""

  def __init__(self, queue: Iterator) -> None:
    self._queue = queue

  def __iter__(self) -> 'ShardedQueue':
    return self

  def __next__(self) -> Any:
    return shard_batch(next(self._queue))

  def __getattr__(self, name: str) -> Any:
    if name in ('get_state', 'set_state'):
      return getattr(self._queue, name)
    raise AttributeError(name)
