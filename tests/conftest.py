"""Shared fixtures: one prepared mnist1d data directory per test session."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def data_dir(tmp_path_factory):
  """A TFDS data dir with mnist1d prepared (generated offline, once per session)."""
  path = str(tmp_path_factory.mktemp('tfds'))
  from algoperf_like.workloads.common import tfds_data
  from algoperf_like.workloads.mnist1d import dataset

  tfds_data.load_split(dataset.Mnist1d, 'train', path)
  return path


# The test files of AlgoPerf's full-scale workloads: compile-bound (a ResNet-50, a
# Conformer, a 133M-parameter Transformer, traced and compiled on 2 CPU cores), so
# `make test` leaves them out and `make test-full-scale` (run by CI) runs them.
FULL_SCALE_TEST_FILES = {
  'test_workload_vision.py',
  'test_workload_imagenet.py',
  'test_workload_ogbg.py',
  'test_workload_criteo1tb.py',
  'test_workload_wmt.py',
  'test_workload_librispeech.py',
}


def pytest_collection_modifyitems(config, items):
  del config
  for item in items:
    if os.path.basename(str(item.fspath)) in FULL_SCALE_TEST_FILES:
      item.add_marker(pytest.mark.full_scale)
