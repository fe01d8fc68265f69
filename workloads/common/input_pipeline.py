"""Numpy batch iterators over in-memory splits.

Training batches are drawn by epochs: each epoch is a fresh permutation from a
seeded generator, and every example carries its ``example_id``. Evaluation
batches are sequential and padded to a fixed shape, with ``weights`` marking
real examples so padding never counts.
"""

from __future__ import annotations

from typing import Dict, Iterator, Optional

import numpy as np

Batch = Dict[str, np.ndarray]


def seed_from_rng(rng) -> int:
  """A 32-bit integer seed from a JAX key (raw uint32 array) or an int."""
  if isinstance(rng, (int, np.integer)):
    return int(rng) & 0xFFFFFFFF
  words = np.asarray(rng, dtype=np.uint32).ravel()
  return int(np.bitwise_xor.reduce(words * np.arange(1, len(words) + 1, dtype=np.uint32)))


def train_batches(arrays: Batch, batch_size: int, seed: int,
                  num_batches: Optional[int] = None) -> Iterator[Batch]:
  """An endless stream of shuffled batches, epoch by epoch, dropping the remainder.

  Args:
    arrays: features of equal length along axis 0 (must include 'example_id').
    batch_size: examples per batch.
    seed: seeds the epoch permutations (``numpy.random.default_rng``).
    num_batches: stop after this many batches (None: never stop).
  """
  n = len(next(iter(arrays.values())))
  if batch_size > n:
    raise ValueError(f'batch size {batch_size} exceeds the {n} training examples')
  rng = np.random.default_rng(seed)
  weights = np.ones((batch_size,), np.float32)
  produced = 0
  while True:
    order = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):
      if num_batches is not None and produced >= num_batches:
        return
      index = order[start:start + batch_size]
      batch = {k: v[index] for k, v in arrays.items()}
      batch['weights'] = weights
      produced += 1
      yield batch


def eval_batches(arrays: Batch, batch_size: int,
                 num_examples: Optional[int] = None) -> Iterator[Batch]:
  """Sequential batches of the first ``num_examples``, the last one zero-padded.

  Each batch has ``weights`` (1 for a real example, 0 for padding).
  """
  n = len(next(iter(arrays.values())))
  n = n if num_examples is None else min(n, num_examples)
  for start in range(0, n, batch_size):
    stop = min(start + batch_size, n)
    pad = batch_size - (stop - start)
    batch = {k: np.concatenate([v[start:stop], np.zeros((pad,) + v.shape[1:], v.dtype)])
             if pad else v[start:stop] for k, v in arrays.items()}
    batch['weights'] = np.concatenate(
        [np.ones((stop - start,), np.float32), np.zeros((pad,), np.float32)])
    yield batch
