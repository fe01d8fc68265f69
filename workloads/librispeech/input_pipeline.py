"""LibriSpeech batches from AlgoPerf's preprocessed layout in ``--data_dir``.

The layout (what ``algoperf-like datasets prepare --dataset=librispeech`` and AlgoPerf's
``librispeech_preprocess.py`` write)::

  data_dir/spm_model.vocab                  the SentencePiece model (a .model file)
  data_dir/<split>.csv                      header ",id", then "<row>,<utterance id>"
  data_dir/<split>/<utterance>_audio.npy    int64 16 kHz samples (at most 320000)
  data_dir/<split>/<utterance>_targets.npy  int32 token ids, end-of-sentence last

Splits as AlgoPerf reads them: ``train`` and ``eval_train`` are train-clean-100 +
train-clean-360 + train-other-500 (in that order), ``validation`` is dev-clean +
dev-other, ``test`` is test-clean. A batch is AlgoPerf's::

  {'inputs': (audio [B, 320000] float32, audio_paddings [B, 320000] float32),
   'targets': (ids [B, 256] int32, target_paddings [B, 256] float32)}

zero-padded at the end, paddings 1 where padded (AlgoPerf's targets are float32 ids;
here int32, the same values). Evaluation batches also carry ``weights`` (1 for a real
example, 0 for the padding of the last batch) and always have the full batch size.

Training order: epoch ``e`` is a permutation drawn from ``numpy.random.default_rng(seed)``
(:class:`~algoperf_like.workloads.common.input_pipeline.TrainBatches` over the example
indices, remainder dropped); the files of a batch are read then (a thread pool), so the
stream is deterministic from ``data_rng`` and checkpointable (``get_state``/``set_state``).
"""

from __future__ import annotations

import concurrent.futures
import csv
import math
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import jax
import numpy as np

from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.common.input_pipeline import TrainBatches, seed_from_rng

MAX_AUDIO_LENGTH = 320000
MAX_TARGET_LENGTH = 256
TRAIN_SPLITS = ('train-clean-100', 'train-clean-360', 'train-other-500')
SPLITS = {
  'train': TRAIN_SPLITS,
  'eval_train': TRAIN_SPLITS,
  'validation': ('dev-clean', 'dev-other'),
  'test': ('test-clean',),
}
TOKENIZER_FILE = 'spm_model.vocab'  # AlgoPerf's name for the SentencePiece model.
DATASET = 'librispeech'


def read_split_ids(data_dir: str, split_names: Sequence[str]) -> List[str]:
  """``'<split>/<utterance>'`` of every example of the named splits, in file order."""
  ids = []
  for name in split_names:
    path = full_scale.require_path(
      os.path.join(data_dir, f'{name}.csv'), DATASET, data_dir, f'LibriSpeech {name}'
    )
    with open(path, newline='') as f:
      rows = list(csv.reader(f))
    ids += [f'{name}/{row[1]}' for row in rows[1:]]
  return ids


def load_example(data_dir: str, example_id: str):
  """``(audio int64 [n], targets int32 [m])`` of one utterance."""
  stem = os.path.join(data_dir, example_id)
  return np.load(f'{stem}_audio.npy'), np.load(f'{stem}_targets.npy')


def _pad(x: np.ndarray, length: int, dtype) -> Tuple[np.ndarray, np.ndarray]:
  if len(x) > length:
    raise ValueError(f'an example of length {len(x)} exceeds the maximum {length}')
  padded = np.zeros((length,), dtype)
  padded[: len(x)] = x
  paddings = np.ones((length,), np.float32)
  paddings[: len(x)] = 0.0
  return padded, paddings


class Loader:
  """Reads examples by index into padded batches (threads for the file reads)."""

  def __init__(
    self,
    data_dir: str,
    ids: Sequence[str],
    max_audio_length: int = MAX_AUDIO_LENGTH,
    max_target_length: int = MAX_TARGET_LENGTH,
    threads: int = 8,
  ) -> None:
    self.data_dir, self.ids = data_dir, list(ids)
    self.max_audio_length, self.max_target_length = max_audio_length, max_target_length
    self._pool = concurrent.futures.ThreadPoolExecutor(threads)

  def batch(self, indices: Sequence[int], size: Optional[int] = None) -> Dict[str, object]:
    """The examples ``indices``, padded to ``size`` examples (``weights`` 0 for those)."""
    size = len(indices) if size is None else size
    audio = np.zeros((size, self.max_audio_length), np.float32)
    audio_pad = np.ones((size, self.max_audio_length), np.float32)
    targets = np.zeros((size, self.max_target_length), np.int32)
    target_pad = np.ones((size, self.max_target_length), np.float32)
    examples = self._pool.map(lambda i: load_example(self.data_dir, self.ids[i]), indices)
    for row, (a, t) in enumerate(examples):
      audio[row], audio_pad[row] = _pad(a, self.max_audio_length, np.float32)
      targets[row], target_pad[row] = _pad(t, self.max_target_length, np.int32)
    weights = (np.arange(size) < len(indices)).astype(np.float32)
    return {
      'inputs': (audio, audio_pad),
      'targets': (targets, target_pad),
      'weights': weights,
    }


def train_batches(
  loader: Loader,
  data_rng,
  global_batch_size: int,
  num_batches: Optional[int] = None,
  place: Optional[Callable] = None,
) -> TrainBatches:
  """Endless shuffled training batches (no ``weights``: every example is real)."""

  def load(batch):
    out = loader.batch(batch['index'].tolist())
    del out['weights']
    return place(out) if place else out

  if isinstance(data_rng, jax.Array) and jax.dtypes.issubdtype(data_rng.dtype, jax.dtypes.prng_key):
    data_rng = jax.random.key_data(data_rng)  # A typed key: its raw words.
  return TrainBatches(
    {'index': np.arange(len(loader.ids))},
    global_batch_size,
    seed_from_rng(data_rng),
    num_batches=num_batches,
    place=load,
  )


def eval_batches(
  loader: Loader,
  global_batch_size: int,
  num_examples: Optional[int] = None,
  place: Optional[Callable] = None,
) -> Iterator[Dict[str, object]]:
  """The first ``num_examples`` in order, in batches of ``global_batch_size`` (last padded)."""
  n = len(loader.ids) if num_examples is None else min(num_examples, len(loader.ids))
  for b in range(math.ceil(n / global_batch_size)):
    indices = list(range(b * global_batch_size, min((b + 1) * global_batch_size, n)))
    batch = loader.batch(indices, global_batch_size)
    yield place(batch) if place else batch
