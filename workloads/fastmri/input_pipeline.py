"""fastMRI single-coil knee slices from ``.h5`` volumes, as AlgoPerf's input pipeline makes them.

Layout (what ``algoperf-like datasets prepare --dataset=fastmri`` writes, and what
AlgoPerf's ``dataset_setup.py`` writes below its ``fastmri/`` folder)::

    DATA_DIR/fastmri/knee_singlecoil_train/*.h5   (DATA_DIR itself may be that folder)
    DATA_DIR/fastmri/knee_singlecoil_val/*.h5
    DATA_DIR/fastmri/knee_singlecoil_test/*.h5    (extracted, not read: no targets)

Each volume holds ``kspace`` (slices x 640 x W, complex64), ``reconstruction_esc``
(slices x 320 x 320) and the attribute ``max``. Splits, as AlgoPerf's: ``train`` and
``eval_train`` from the train volumes; ``validation`` the slices of the first 100
validation volumes (sorted by name), ``test`` those of the others.

One example per slice (:func:`process_slice`): an undersampling mask over the k-space
columns (the central 8% of columns, and each other column with the probability that
makes the acceleration 4), the inverse FFT of the masked k-space (centred,
orthonormally scaled), a centre crop to the target's 320x320, its magnitude,
normalised by its own mean and standard deviation and clipped to [-6, 6]; the target
normalised with the same two numbers. Examples carry ``mean``, ``std`` and
``volume_max`` for SSIM.

Randomness, as AlgoPerf's: a training slice keeps one random mask for the whole run
(drawn from the data seed and the slice's index); evaluation uses one fixed mask per
k-space width, drawn exactly as AlgoPerf draws it (``tf.random.stateless_uniform``
with the seed of ``jax.random.PRNGKey(0)``), so validation and test inputs are
AlgoPerf's bit for bit up to FFT rounding.

Differs from AlgoPerf (which interleaves files through a 16-batch shuffle buffer in
tf.data): the training stream visits every slice once per epoch in an order drawn
from ``(data seed, epoch)``; batch ``k`` is a pure function of the seed and ``k``, so
the stream resumes exactly (``get_state`` / ``set_state``). Slices are read and
processed by a small thread pool (numpy's FFT and h5py reads release the GIL), a few
batches ahead. Eval-train is a fixed random subset (seed 0) of training slices.
"""

from __future__ import annotations

import concurrent.futures
import functools
import glob
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

TRAIN_DIR = 'knee_singlecoil_train'
VAL_DIR = 'knee_singlecoil_val'
TEST_DIR = 'knee_singlecoil_test'
NUM_VALIDATION_VOLUMES = 100  # The first 100 validation volumes; the rest are the test split.
CENTER_FRACTION = 0.08
ACCELERATION = 4
CLIP = 6.0
_EVAL_TRAIN_SEED = 0

Example = Dict[str, np.ndarray]


def dataset_root(data_dir: str) -> str:
  """The folder holding ``knee_singlecoil_*``: ``data_dir`` itself, or ``data_dir/fastmri``."""
  if os.path.isdir(os.path.join(data_dir, TRAIN_DIR)):
    return data_dir
  return os.path.join(data_dir, 'fastmri')


def split_files(
  root: str, split: str, num_validation_volumes: int = NUM_VALIDATION_VOLUMES
) -> List[str]:
  """The ``.h5`` volumes of ``split``, in AlgoPerf's order (sorted by file name)."""
  if split in ('train', 'eval_train'):
    return sorted(glob.glob(os.path.join(root, TRAIN_DIR, '*.h5')))
  val = sorted(glob.glob(os.path.join(root, VAL_DIR, '*.h5')))
  if split == 'validation':
    return val[:num_validation_volumes]
  if split == 'test':
    return val[num_validation_volumes:]
  raise ValueError(f'unknown split {split!r}')


@functools.lru_cache(maxsize=None)
def _slice_counts(path: str, mtime: float) -> Tuple[int, float]:
  del mtime  # Part of the cache key only.
  import h5py

  with h5py.File(path, 'r') as f:
    return int(f['kspace'].shape[0]), float(f.attrs.get('max', 0.0))


def slice_index(files: Sequence[str]) -> np.ndarray:
  """``[N, 2]`` int array of (file number, slice number), volume after volume."""
  rows = []
  for i, path in enumerate(files):
    count, _ = _slice_counts(path, os.path.getmtime(path))
    rows.extend((i, s) for s in range(count))
  return np.asarray(rows, np.int64).reshape(-1, 2)


def center_mask(num_cols: int) -> np.ndarray:
  """1 on the central ``CENTER_FRACTION`` of the columns (AlgoPerf's rounding), else 0."""
  num_low = int(np.float32(num_cols) * np.float32(CENTER_FRACTION))
  mask = np.zeros(num_cols, np.float32)
  start = (num_cols - num_low + 1) // 2
  mask[start : start + num_low] = 1.0
  return mask


def acceleration_probability(num_cols: int) -> np.float32:
  """Probability of keeping an outer column, so that 1 / ACCELERATION of all are kept."""
  cols = np.float32(num_cols)
  low = np.float32(int(cols * np.float32(CENTER_FRACTION)))
  return np.float32((cols / np.float32(ACCELERATION) - low) / (cols - low))  # float32, as AlgoPerf.


@functools.lru_cache(maxsize=None)
def eval_mask(num_cols: int) -> np.ndarray:
  """The fixed evaluation mask: uniforms drawn as AlgoPerf draws them (seed ``PRNGKey(0)``)."""
  import tensorflow as tf

  uniform = tf.random.stateless_uniform((num_cols,), seed=np.zeros(2, np.int64)).numpy()
  keep = (uniform < acceleration_probability(num_cols)).astype(np.float32)
  return np.maximum(center_mask(num_cols), keep)


def train_mask(num_cols: int, seed: int, example_id: int) -> np.ndarray:
  """A training slice's mask, fixed for the run: from ``(seed, example_id)``."""
  uniform = np.random.default_rng([seed, 1, example_id]).random(num_cols, dtype=np.float32)
  keep = (uniform < acceleration_probability(num_cols)).astype(np.float32)
  return np.maximum(center_mask(num_cols), keep)


def process_slice(
  kspace: np.ndarray, target: np.ndarray, volume_max: float, mask: np.ndarray
) -> Example:
  """One training or evaluation example from one slice (see the module docstring)."""
  masked = kspace * mask[None, :].astype(np.complex64)
  image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(masked, axes=(0, 1))), axes=(0, 1))
  image = image * np.sqrt(np.float32(kspace.shape[0] * kspace.shape[1]))
  top = (kspace.shape[0] - target.shape[0]) // 2
  left = (kspace.shape[1] - target.shape[1]) // 2
  image = image[top : top + target.shape[0], left : left + target.shape[1]]
  magnitude = np.abs(image).astype(np.float32)
  mean = np.float32(magnitude.mean())
  std = np.float32(magnitude.std())
  return {
    'inputs': np.clip((magnitude - mean) / std, -CLIP, CLIP).astype(np.float32),
    'targets': np.clip((target.astype(np.float32) - mean) / std, -CLIP, CLIP).astype(np.float32),
    'mean': mean,
    'std': std,
    'volume_max': np.float32(volume_max),
  }


class SliceReader:
  """Reads and processes slices of a split's volumes; ``mask_fn(num_cols, example_id)``."""

  def __init__(self, files: Sequence[str], mask_fn: Callable[[int, int], np.ndarray]) -> None:
    self.files = list(files)
    self.index = slice_index(self.files)
    self.mask_fn = mask_fn

  def __len__(self) -> int:
    return len(self.index)

  def example(self, example_id: int) -> Example:
    import h5py

    file_number, slice_number = self.index[example_id]
    with h5py.File(self.files[file_number], 'r') as f:
      kspace = f['kspace'][slice_number]
      target = f['reconstruction_esc'][slice_number]
      volume_max = float(f.attrs.get('max', 0.0))
    return process_slice(kspace, target, volume_max, self.mask_fn(kspace.shape[1], example_id))

  def batch(self, example_ids: Sequence[int], pool=None) -> Dict[str, np.ndarray]:
    examples = list(pool.map(self.example, example_ids) if pool else map(self.example, example_ids))
    return {k: np.stack([e[k] for e in examples]) for k in examples[0]}


class TrainBatches:
  """The endless, resumable training stream (``{'inputs', 'targets', 'mean', 'std',
  'volume_max', 'weights'}``); batch ``k`` depends on ``(seed, k)`` only."""

  def __init__(
    self,
    reader: SliceReader,
    batch_size: int,
    seed: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable] = None,
    workers: int = 8,
    prefetch: int = 2,
  ) -> None:
    if batch_size > len(reader):
      raise ValueError(f'batch size {batch_size} exceeds the {len(reader)} training slices')
    self.reader, self.batch_size, self.seed = reader, batch_size, seed
    self.num_batches, self.place, self.prefetch = num_batches, place, prefetch
    self.batches_per_epoch = len(reader) // batch_size
    # Batches are assembled one at a time, their examples read by ``workers`` threads.
    self._batch_pool = concurrent.futures.ThreadPoolExecutor(1)
    self._example_pool = concurrent.futures.ThreadPoolExecutor(workers)
    self._orders: Dict[int, np.ndarray] = {}
    self._pending: Dict[int, concurrent.futures.Future] = {}
    self.produced = 0

  def get_state(self) -> dict:
    return {'batches_produced': self.produced}

  def set_state(self, state: dict) -> None:
    self.produced = int(state['batches_produced'])
    self._pending.clear()

  def _order(self, epoch: int) -> np.ndarray:
    if epoch not in self._orders:
      self._orders = {
        epoch: np.random.default_rng([self.seed, 0, epoch]).permutation(len(self.reader))
      }
    return self._orders[epoch]

  def _ids(self, number: int) -> np.ndarray:
    epoch, within = divmod(number, self.batches_per_epoch)
    return self._order(epoch)[within * self.batch_size : (within + 1) * self.batch_size]

  def _submit(self, number: int) -> None:
    if number not in self._pending and (self.num_batches is None or number < self.num_batches):
      ids = self._ids(number)
      self._pending[number] = self._batch_pool.submit(self.reader.batch, ids, self._example_pool)

  def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
    return self

  def __next__(self) -> Dict[str, np.ndarray]:
    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    for number in range(self.produced, self.produced + 1 + self.prefetch):
      self._submit(number)
    batch = self._pending.pop(self.produced).result()
    batch['weights'] = np.ones((self.batch_size,), np.float32)
    self.produced += 1
    return self.place(batch) if self.place else batch


def eval_batches(
  reader: SliceReader, batch_size: int, num_examples: Optional[int] = None, ids=None
) -> List[Dict[str, np.ndarray]]:
  """All (or ``ids`` / the first ``num_examples``) slices in batches, the last zero-padded,
  ``weights`` 0 on padding (whose ``volume_max`` 0 SSIM treats as 1)."""
  ids = np.arange(len(reader)) if ids is None else np.asarray(ids)
  if num_examples is not None:
    ids = ids[:num_examples]
  out = []
  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    for start in range(0, len(ids), batch_size):
      batch = reader.batch(ids[start : start + batch_size], pool)
      real = len(batch['inputs'])
      pad = batch_size - real
      batch = {
        k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in batch.items()
      }
      batch['weights'] = np.concatenate([np.ones(real, np.float32), np.zeros(pad, np.float32)])
      out.append(batch)
  return out


def eval_train_ids(num_train: int, num_examples: int) -> np.ndarray:
  """The fixed eval-train subset: ``num_examples`` slices drawn with seed 0."""
  order = np.random.default_rng(_EVAL_TRAIN_SEED).permutation(num_train)
  return np.sort(order[: min(num_examples, num_train)])
