"""Numpy batch iterators over in-memory splits.

Training batches are drawn by epochs: each epoch is a fresh permutation from a
seeded generator, and every example carries its ``example_id``. Evaluation
batches are sequential and padded to a fixed shape, with ``weights`` marking
real examples so padding never counts.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional

import numpy as np

Batch = Dict[str, np.ndarray]


def seed_from_rng(rng) -> int:
  """A 32-bit integer seed from a JAX key (raw uint32 array) or an int."""
  if isinstance(rng, (int, np.integer)):
    return int(rng) & 0xFFFFFFFF
  words = np.asarray(rng, dtype=np.uint32).ravel()
  return int(np.bitwise_xor.reduce(words * np.arange(1, len(words) + 1, dtype=np.uint32)))


class TrainBatches:
  """An endless stream of shuffled batches, epoch by epoch, dropping the remainder.

  Epoch ``e`` visits the examples in the order ``permutation_e`` drawn from
  ``numpy.random.default_rng(seed)``; every example carries its ``example_id``.
  The position is checkpointable: ``get_state()`` / ``set_state(state)``.

  Args:
    arrays: features of equal length along axis 0.
    batch_size: examples per batch.
    seed: seeds the epoch permutations.
    num_batches: stop after this many batches (None: never stop).
    place: applied to each batch before it is returned (e.g. sharding it over devices).
  """

  def __init__(
    self,
    arrays: Batch,
    batch_size: int,
    seed: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable[[Batch], Batch]] = None,
  ) -> None:
    self.arrays = arrays
    self.place = place
    self.n = len(next(iter(arrays.values())))
    if batch_size > self.n:
      raise ValueError(f'batch size {batch_size} exceeds the {self.n} training examples')
    self.batch_size, self.seed, self.num_batches = batch_size, seed, num_batches
    self.batches_per_epoch = self.n // batch_size
    self._weights = np.ones((batch_size,), np.float32)
    self.set_state({'batches_produced': 0})

  def get_state(self) -> dict:
    return {'batches_produced': self.produced}

  def set_state(self, state: dict) -> None:
    """Jump to a position: redraw the permutations of the epochs before it."""
    self.produced = int(state['batches_produced'])
    self._rng = np.random.default_rng(self.seed)
    epoch = self.produced // self.batches_per_epoch
    for _ in range(epoch + 1):
      self._order = self._rng.permutation(self.n)

  def __iter__(self) -> Iterator[Batch]:
    return self

  def __next__(self) -> Batch:
    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    within = self.produced % self.batches_per_epoch
    if within == 0 and self.produced > 0:
      self._order = self._rng.permutation(self.n)
    index = self._order[within * self.batch_size : (within + 1) * self.batch_size]
    batch = {k: v[index] for k, v in self.arrays.items()}
    batch['weights'] = self._weights
    self.produced += 1
    return self.place(batch) if self.place else batch


def eval_batches(
  arrays: Batch, batch_size: int, num_examples: Optional[int] = None
) -> Iterator[Batch]:
  """Sequential batches of the first ``num_examples``, the last one zero-padded.

  Each batch has ``weights`` (1 for a real example, 0 for padding).
  """
  n = len(next(iter(arrays.values())))
  n = n if num_examples is None else min(n, num_examples)
  for start in range(0, n, batch_size):
    stop = min(start + batch_size, n)
    pad = batch_size - (stop - start)
    batch = {
      k: np.concatenate([v[start:stop], np.zeros((pad,) + v.shape[1:], v.dtype)])
      if pad
      else v[start:stop]
      for k, v in arrays.items()
    }
    batch['weights'] = np.concatenate(
      [np.ones((stop - start,), np.float32), np.zeros((pad,), np.float32)]
    )
    yield batch
