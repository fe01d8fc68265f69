"""Prepare a TFDS builder once and load whole splits as numpy arrays.

Every workload's data flows through a tensorflow-datasets builder, exactly as
full-scale workloads read prepared TFDS data from ``--data_dir``. A builder
may declare ``FINGERPRINTS = {split: sha256}``; loading then checks the data
against it (see :func:`fingerprint`), so every machine trains on the same bytes. Small CPU
datasets then fit in memory, so the training loop batches from numpy rather
than from ``tf.data`` (cheaper per step, and deterministic from a seed).

A split with a fingerprint is also kept as a ``.npz`` file beside the prepared data
(``{data_dir}/.arrays/``) the first time it is loaded: later processes read that file and
check it against the same fingerprint, without importing TensorFlow or going through
``tf.data`` (the import and the reads took about 12 s of CPU per process for the six CPU
workloads, on 2 cores). A file that is missing, unreadable or does not match is ignored
and rewritten: the bytes a trial trains on are the fingerprinted ones either way.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Dict, Type

import numpy as np

_LOCK = threading.Lock()
_CACHE: Dict[tuple, Dict[str, np.ndarray]] = {}


class DatasetMismatchError(ValueError):
  """The prepared data differ from what the generator produced when it was committed."""


class DatasetMissingError(FileNotFoundError):
  """The dataset is not prepared under ``data_dir`` and cannot be generated there."""


def load_split(
  builder_cls: Type, split: str, data_dir: str, generate: bool = True
) -> Dict[str, np.ndarray]:
  """All examples of ``split`` as a dict of numpy arrays (cached per process).

  Args:
    builder_cls: a ``tfds.core.GeneratorBasedBuilder`` subclass.
    split: 'train', 'validation' or 'test'.
    data_dir: the TFDS data directory (``--data_dir``).
    generate: prepare the dataset if it is missing (offline generators only).

  Returns:
    ``{feature_name: array}`` with the examples in the builder's stored order.
  """
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  key = (builder_cls.__name__, split, data_dir)
  expected = getattr(builder_cls, 'FINGERPRINTS', {}).get(split)
  with _LOCK:
    if key in _CACHE:
      return _CACHE[key]
    arrays = _read_arrays_file(_arrays_file(builder_cls, split, data_dir, expected), expected)
    if arrays is not None:
      _CACHE[key] = arrays
      return arrays
    import tensorflow_datasets as tfds  # Heavy: only when data is needed.

    tfds.display_progress_bar(False)
    builder = builder_cls(data_dir=data_dir)
    if not builder.is_prepared():
      if not generate:
        raise DatasetMissingError(
          f'dataset {builder.name} is not prepared under --data_dir={data_dir}'
        )
      builder.download_and_prepare()
    dataset = builder.as_dataset(split=split, batch_size=-1, shuffle_files=False)
    arrays = {k: np.asarray(v) for k, v in tfds.as_numpy(dataset).items()}
    if 'example_id' in arrays:  # TFDS stores examples in hashed order: restore ours.
      order = np.argsort(arrays['example_id'], kind='stable')
      arrays = {k: v[order] for k, v in arrays.items()}
    if expected is not None and fingerprint(arrays) != expected:
      raise DatasetMismatchError(
        f'dataset {builder.name} split {split} under {data_dir} does not match its '
        f'fingerprint (got {fingerprint(arrays)[:12]}, expected {expected[:12]}); '
        'delete it to regenerate'
      )
    _CACHE[key] = arrays
    _write_arrays_file(_arrays_file(builder_cls, split, data_dir, expected), arrays)
    return arrays


ARRAYS_DIR = '.arrays'


def _arrays_file(builder_cls: Type, split: str, data_dir: str, expected) -> str | None:
  """Where a fingerprinted split is kept as ``.npz`` (None: no fingerprint, no file)."""
  if not expected:
    return None
  return os.path.join(data_dir, ARRAYS_DIR, f'{builder_cls.__name__}-{split}-{expected[:16]}.npz')


def _read_arrays_file(path: str | None, expected) -> Dict[str, np.ndarray] | None:
  if path is None or not os.path.isfile(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except (OSError, ValueError, EOFError):
    return None
  return arrays if fingerprint(arrays) == expected else None


def _write_arrays_file(path: str | None, arrays: Dict[str, np.ndarray]) -> None:
  if path is None:
    return
  try:  # Atomic: a reader never sees half a file. A read-only data_dir: no file.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except OSError:
    pass


def fingerprint(arrays: Dict[str, np.ndarray]) -> str:
  """sha256 over the features, in sorted key order, of one split (in example-id order)."""
  digest = hashlib.sha256()
  for name in sorted(arrays):
    array = np.ascontiguousarray(arrays[name])
    digest.update(f'{name}:{array.dtype.str}:{array.shape}'.encode())
    digest.update(array.tobytes())
  return digest.hexdigest()
