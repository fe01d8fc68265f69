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
