"""Fingerprinted splits are read back from their .npz copy, without TFDS, and checked."""

from __future__ import annotations

import os
import sys

import numpy as np

from algoperf_like.workloads.common import tfds_data
from algoperf_like.workloads.mnist1d import dataset


def _npz(data_dir):
  folder = os.path.join(data_dir, tfds_data.ARRAYS_DIR)
  return [os.path.join(folder, f) for f in os.listdir(folder) if f.startswith('Mnist1d-test-')]


def test_split_is_kept_as_npz_and_read_back_without_tfds(data_dir, monkeypatch):
  monkeypatch.setattr(tfds_data, '_CACHE', {})
  for path in _npz(data_dir) if os.path.isdir(os.path.join(data_dir, '.arrays')) else []:
    os.remove(path)
  first = tfds_data.load_split(dataset.Mnist1d, 'test', data_dir)
  (path,) = _npz(data_dir)
  monkeypatch.setattr(tfds_data, '_CACHE', {})
  tfds = sys.modules.get('tensorflow_datasets')
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)  # Importing it would fail.
  again = tfds_data.load_split(dataset.Mnist1d, 'test', data_dir)
  assert sorted(again) == sorted(first)
  assert all(np.array_equal(again[k], first[k]) for k in first)
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', tfds)
  # A copy that does not match the fingerprint is ignored and rewritten.
  with open(path, 'wb') as f:
    f.write(b'not an npz')
  monkeypatch.setattr(tfds_data, '_CACHE', {})
  third = tfds_data.load_split(dataset.Mnist1d, 'test', data_dir)
  assert all(np.array_equal(third[k], first[k]) for k in first)
  assert tfds_data._read_arrays_file(path, dataset.Mnist1d.FINGERPRINTS['test']) is not None
