"""The Slurm executor against a real single-node cluster: the same log tree as a local run."""

import contextlib
import csv
import json
import os
import subprocess
import sys

import pytest

from tests.slurm.cluster import SlurmUnavailable, log_tails, running_cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(os.path.dirname(sys.executable), 'algoperf-like')


@pytest.fixture(scope='module')
def slurm_cluster():
  with contextlib.ExitStack() as stack:
    try:
      info = stack.enter_context(running_cluster())
    except SlurmUnavailable as e:
      pytest.skip(f'Slurm cannot be installed here: {e}')
    yield info


def _sweep(root, data_dir, *executor_flags):
  argv = [
    CLI,
    'run',
    '--workload=mnist1d',
    f'--submission_path={REPO}/submissions/nadamw/submission.py',
    f'--tuning_search_space={REPO}/submissions/nadamw/tuning_search_space.json',
    '--num_studies=2',
    '--num_tuning_trials=2',
    '--max_global_steps=100',
    '--eval_every_steps=50',
    '--max_runtime_sec=1e9',  # Steps end each trial, however slow the machine.
    f'--experiment_dir={root}',
    f'--data_dir={data_dir}',
    *executor_flags,
  ]
  return subprocess.run(argv, capture_output=True, text=True, timeout=900)


def _tree(root):
  """{trial dir: (files, eval rows without timing columns)} below ``root``."""
  tree = {}
  for dirpath, _dirnames, files in os.walk(root):
    if 'eval_measurements.csv' in files:
      with open(os.path.join(dirpath, 'eval_measurements.csv')) as f:
        rows = [
          {k: v for k, v in r.items() if '/' in k or k == 'global_step'} for r in csv.DictReader(f)
        ]
      kept = sorted(f for f in files if not f.endswith('.tmp'))
      tree[os.path.relpath(dirpath, root)] = (kept, rows)
  return tree


def test_slurm_sweep_gives_the_local_log_tree(slurm_cluster, tmp_path, data_dir):
  local = _sweep(tmp_path / 'local', data_dir)
  assert local.returncode == 0, local.stderr[-2000:]
  slurm = _sweep(
    tmp_path / 'slurm',
    data_dir,
    '--executor=slurm',
    f'--slurm_partition={slurm_cluster["partition"]}',
    '--slurm_time_min=10',
    '--max_parallel=2',
  )
  assert slurm.returncode == 0, slurm.stderr[-3000:] + log_tails(slurm_cluster['state_dir'])
  local_tree, slurm_tree = _tree(tmp_path / 'local'), _tree(tmp_path / 'slurm')
  assert len(local_tree) == 4
  assert slurm_tree == local_tree
  assert os.listdir(tmp_path / 'slurm' / 'nadamw' / 'study_0' / 'slurm')  # Task logs, kept.


def test_slurm_sweep_runs_each_trial_in_the_sandbox(slurm_cluster, tmp_path, data_dir):
  """--sandbox with --executor=slurm: each task runs its trial under bubblewrap on the node."""
  root = tmp_path / 'sandboxed'
  result = _sweep(
    root,
    data_dir,
    '--executor=slurm',
    f'--slurm_partition={slurm_cluster["partition"]}',
    '--slurm_time_min=10',
    '--max_parallel=2',
    '--sandbox',
  )
  assert result.returncode == 0, result.stderr[-3000:] + log_tails(slurm_cluster['state_dir'])
  summaries = []
  for trial_dir in _tree(root):
    with open(os.path.join(root, trial_dir, 'trial_summary.json')) as f:
      summaries.append(json.load(f))
  assert len(summaries) == 4
  assert all(s['status'] == 'max_steps' and s['sandboxed'] for s in summaries), summaries
