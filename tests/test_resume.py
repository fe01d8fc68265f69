"""Preemption: a trial killed with SIGKILL resumes from its last checkpoint and,
on CPU with a deterministic submission, logs the same evaluations as a run
that was never interrupted (evaluations scheduled by step for this test)."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), 'algoperf-like')
TRIAL = os.path.join('study_0', 'mnist1d_jax', 'trial_1')


def _argv(root, name, data_dir, *extra):
  return [
    CLI,
    'run',
    '--workload=mnist1d',
    '--tuning_ruleset=self',
    '--num_studies=1',
    f'--submission_path={REPO}/submissions/nadamw_self_tuning/submission.py',
    '--max_global_steps=600',
    '--eval_every_steps=100',
    '--max_runtime_sec=1e9',  # Steps end the trial, however slow the machine.
    '--rng_seed=3',
    f'--experiment_dir={root}',
    f'--experiment_name={name}',
    f'--data_dir={data_dir}',
    *extra,
  ]


def _rows(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def _metrics(row):
  return {
    k: v
    for k, v in row.items()
    if k == 'global_step' or k.split('/')[0] in ('train', 'validation', 'test')
  }


@pytest.mark.slow
def test_kill_and_resume_matches_an_uninterrupted_run(tmp_path, data_dir):
  reference = subprocess.run(
    _argv(tmp_path, 'reference', data_dir), capture_output=True, text=True, timeout=300
  )
  assert reference.returncode == 0, reference.stderr[-2000:]

  evals = tmp_path / 'cut' / TRIAL / 'eval_measurements.csv'
  proc = subprocess.Popen(
    _argv(tmp_path, 'cut', data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  deadline = time.time() + 300
  while time.time() < deadline:
    if evals.exists() and len(_rows(evals)) >= 3:
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  cut_at = len(_rows(evals))
  assert 3 <= cut_at < 6, 'the kill should land in the middle of the trial'
  assert not (tmp_path / 'cut' / TRIAL / 'trial_summary.json').exists()

  resumed = subprocess.run(
    _argv(tmp_path, 'cut', data_dir, '--resume_last_run'),
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert resumed.returncode == 0, resumed.stderr[-2000:]

  expected = _rows(tmp_path / 'reference' / TRIAL / 'eval_measurements.csv')
  got = _rows(evals)
  assert [int(r['global_step']) for r in got] == [100, 200, 300, 400, 500, 600]
  assert [_metrics(r) for r in got] == [_metrics(r) for r in expected]
  assert {r['preemption_count'] for r in got[-1:]} == {'1'}
  submission_times = [float(r['accumulated_submission_time']) for r in got]
  assert submission_times == sorted(submission_times)  # Time continues, not restarts.
  trial_dir = tmp_path / 'cut' / TRIAL
  assert (trial_dir / 'meta_data_1.json').exists() and (trial_dir / 'flags_1.json').exists()
