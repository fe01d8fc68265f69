"""The Criteo 1TB click logs as AlgoPerf reads them: tab-separated day files, hashed ids.

Layout (what ``algoperf-like datasets prepare --dataset=criteo1tb`` writes, and what
AlgoPerf's ``dataset_setup.py`` writes): the 24 days of logs, each cut into files of
5,000,000 lines named ``day_{d}_{nn}`` (``nn`` = 00, 01, ...), in ``DATA_DIR/criteo1tb/``
(or directly in ``--data_dir``, so that AlgoPerf's own ``criteo1tb`` folder can be read).

Splits, as AlgoPerf's input pipeline defines them: ``train`` and ``eval_train`` are every
file of days 0 to 22; day 23's 36 files are cut in two, ``test`` the first 19
(``day_23_00`` to ``day_23_18``, 95,000,000 lines) and ``validation`` the other 17
(``day_23_19`` to ``day_23_35``, 83,274,637 lines).

A line is ``label, 13 integer features, 26 categorical features`` (8-digit hex), tab
separated, any field possibly empty. Parsing, as AlgoPerf's: an empty field or ``-1``
reads as 0 (label and integers) or ``'00000000'`` (categorical); integer feature ``x``
becomes ``log(max(x, 0) + 1)``; categorical field ``i`` (0-based) with string ``s``
becomes ``to_hash_bucket_fast(s + str(i), VOCAB_SIZES[i])`` (TensorFlow's FarmHash
fingerprint modulo the field's raw vocabulary size). A batch is ``inputs``: float32
``[B, 39]`` (the 13 dense features, then the 26 ids cast to float32, as AlgoPerf hands
them to the model), ``targets``: float32 ``[B]``, ``weights``: float32 ``[B]`` (1 for a
real example, 0 for padding).

Training order (``tf.data``, deterministic from the data seed): the training files are
listed in a seeded random order and shuffled again in a seeded buffer of 1024 files, read
line by line, batched dropping the remainder, repeated (a fresh seeded file order every
pass). AlgoPerf leaves the second shuffle unseeded; here it is seeded, so that the
stream is reproducible. The stream is checkpointable by counting: :class:`TrainStream`
records the batches it produced and, on restore, rebuilds the same stream and skips that
many batches before parsing (re-reading, not re-parsing, the lines it skips).

Evaluation reads a split's files in order (``eval_train``: the training files in a
seeded order), the first ``num_examples`` lines, in batches padded to the batch size.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np

from algoperf_like.workloads.common import full_scale

NUM_DENSE = 13
NUM_CATEGORICAL = 26
NUM_DAYS = 24
NUM_TRAIN_DAYS = 23  # Days 0..22; day 23 holds validation and test.
NUM_DAY_23_FILES = 36
NUM_TEST_FILES = NUM_DAY_23_FILES // 2 + 1  # day_23_00 .. day_23_18.
LINES_PER_FILE = 5_000_000
FILE_SHUFFLE_BUFFER = 1024
DATASET = 'criteo1tb'

# Raw vocabulary size of each categorical field, the hash modulus per field (from
# https://cloud.google.com/tpu/docs/tutorials/dlrm-dcn-2.x#run-model, as AlgoPerf uses).
VOCAB_SIZES = (
  39884406,
  39043,
  17289,
  7420,
  20263,
  3,
  7120,
  1543,
  63,
  38532951,
  2953546,
  403346,
  10,
  2208,
  11938,
  155,
  4,
  976,
  14,
  39979771,
  25641295,
  39664984,
  585935,
  12972,
  108,
  36,
)

Batch = Dict[str, np.ndarray]


def dataset_root(data_dir: str) -> str:
  """The folder holding the ``day_*`` files: ``data_dir/criteo1tb`` if it exists, else
  ``data_dir`` itself (AlgoPerf's ``--data_dir`` points at its ``criteo1tb`` folder)."""
  sub = os.path.join(data_dir, DATASET)
  return sub if os.path.isdir(sub) else data_dir


def day_file(day: int, part: int) -> str:
  """The name of part ``part`` of day ``day``'s log (``day_3_07``)."""
  return f'day_{day}_{part:02d}'


def split_files(data_dir: str, split: str) -> List[str]:
  """The files of a split, in AlgoPerf's order; a missing one is a ``DatasetMissingError``."""
  root = dataset_root(data_dir)
  if split in ('train', 'eval_train'):
    files = []
    for day in range(NUM_TRAIN_DAYS):
      found = sorted(glob.glob(os.path.join(root, f'day_{day}_*')))
      if not found:
        full_scale.require_path(
          os.path.join(root, day_file(day, 0)), DATASET, data_dir, f'day {day} of Criteo 1TB'
        )
      files.extend(found)
    return files
  if split == 'validation':
    parts = range(NUM_TEST_FILES, NUM_DAY_23_FILES)
  elif split == 'test':
    parts = range(0, NUM_TEST_FILES)
  else:
    raise ValueError(f'unknown split {split!r} (train, eval_train, validation, test)')
  files = [os.path.join(root, day_file(23, p)) for p in parts]
  for path in files:
    full_scale.require_path(path, DATASET, data_dir, f'the Criteo 1TB {split} split')
  return files


def parse_lines(lines):
  """TSV lines (a string tensor ``[B]``) to ``{'inputs': [B, 39], 'targets': [B]}``."""
  import tensorflow as tf

  defaults = [[0.0]] * (1 + NUM_DENSE) + [['00000000']] * NUM_CATEGORICAL
  fields = tf.io.decode_csv(lines, defaults, field_delim='\t', na_value='-1')
  dense = [tf.math.log(tf.nn.relu(f) + 1.0) for f in fields[1 : 1 + NUM_DENSE]]
  ids = [
    tf.strings.to_hash_bucket_fast(field + str(i), VOCAB_SIZES[i])
    for i, field in enumerate(fields[1 + NUM_DENSE :])
  ]
  dense = tf.stack(dense, axis=1)
  ids = tf.cast(tf.stack(ids, axis=1), dense.dtype)
  return {'inputs': tf.concat([dense, ids], axis=1), 'targets': tf.reshape(fields[0], [-1])}


def seed_from_key(rng: Any) -> int:
  """The data seed: the first word of a JAX key (raw ``uint32[2]`` or typed), as AlgoPerf."""
  if isinstance(rng, (int, np.integer)):
    return int(rng)
  import jax

  if jax.dtypes.issubdtype(getattr(rng, 'dtype', np.uint32), jax.dtypes.prng_key):
    rng = jax.random.key_data(rng)
  return int(np.asarray(rng).ravel()[0])


def _shuffled_lines(files: List[str], seed: int):
  import tensorflow as tf

  ds = tf.data.Dataset.from_tensor_slices(files)
  ds = ds.shuffle(len(files), seed=seed)  # The seeded file listing.
  ds = ds.shuffle(FILE_SHUFFLE_BUFFER, seed=seed)
  return ds.flat_map(tf.data.TextLineDataset)


def _parsed(ds):
  import tensorflow as tf

  ds = ds.map(parse_lines, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.prefetch(4)


def _numpy(batch) -> Batch:
  return {k: v._numpy() if hasattr(v, '_numpy') else np.asarray(v) for k, v in batch.items()}


class TrainStream:
  """The endless, seeded stream of training batches; checkpointable by batch count.

  Args:
    files: the training files (:func:`split_files`).
    batch_size: examples per batch (the remainder of each pass is dropped).
    seed: seeds the file order of every pass.
    num_batches: stop after this many batches (None: never).
    place: applied to each numpy batch (e.g. sharding it over devices).
  """

  def __init__(
    self,
    files: List[str],
    batch_size: int,
    seed: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable[[Batch], Any]] = None,
  ) -> None:
    self.files, self.batch_size, self.seed = files, batch_size, seed
    self.num_batches, self.place = num_batches, place
    self._weights = np.ones((batch_size,), np.float32)
    self.set_state({'batches_produced': 0})

  def get_state(self) -> dict:
    return {'batches_produced': self.produced}

  def set_state(self, state: dict) -> None:
    """Rebuild the stream and skip the batches already produced (before parsing them)."""
    self.produced = int(state['batches_produced'])
    ds = _shuffled_lines(self.files, self.seed)
    ds = ds.batch(self.batch_size, drop_remainder=True).repeat()
    if self.produced:
      ds = ds.skip(self.produced)
    self._it = iter(_parsed(ds))

  def __iter__(self) -> Iterator[Any]:
    return self

  def __next__(self) -> Any:
    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    batch = _numpy(next(self._it))
    batch['weights'] = self._weights
    self.produced += 1
    return self.place(batch) if self.place else batch


def eval_batches(
  files: List[str],
  batch_size: int,
  num_examples: int,
  seed: Optional[int] = None,
  place: Optional[Callable[[Batch], Any]] = None,
) -> Iterator[Any]:
  """The first ``num_examples`` lines of ``files`` (in a seeded file order if ``seed`` is
  given, else in order), in batches zero-padded to ``batch_size`` with ``weights``."""
  import tensorflow as tf

  if seed is None:
    ds = tf.data.TextLineDataset(files)
  else:
    ds = _shuffled_lines(files, seed)
  ds = _parsed(ds.take(num_examples).batch(batch_size))
  for batch in ds:
    batch = _numpy(batch)
    n = len(batch['targets'])
    pad = batch_size - n
    if pad:
      batch = {
        k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in batch.items()
      }
    batch['weights'] = np.concatenate([np.ones((n,), np.float32), np.zeros((pad,), np.float32)])
    yield place(batch) if place else batch
