"""Resumable sweeps and executors: finished trials are skipped, a killed sweep
completes on restart without rerunning finished trials, a crashing trial does
not take the sweep down."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from algoperf_like import monitor, sweep, trial_plan
from algoperf_like.executors import make_executor
from algoperf_like.runner import RunConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(REPO, 'submissions', 'template', 'submission.py')
CLI = os.path.join(os.path.dirname(sys.executable), 'algoperf-like')


def _sweep_argv(tmp_path, data_dir, *extra):
  return [
    CLI,
    'run',
    '--workload=mnist1d',
    f'--submission_path={TEMPLATE}',
    f'--tuning_search_space={REPO}/submissions/template/tuning_search_space.json',
    '--num_studies=2',
    '--num_tuning_trials=2',
    '--max_global_steps=300',
    '--eval_every_steps=150',
    '--max_runtime_sec=1e9',  # Steps end each trial, however slow the machine.
    f'--experiment_dir={tmp_path}',
    f'--data_dir={data_dir}',
    *extra,
  ]


def _summaries(root):
  found = {}
  for dirpath, _, files in os.walk(root):
    if 'trial_summary.json' in files:
      with open(os.path.join(dirpath, 'trial_summary.json')) as f:
        found[dirpath] = f.read()
  return found


@pytest.mark.slow
def test_killed_sweep_completes_on_restart_without_rerunning_finished_trials(tmp_path, data_dir):
  proc = subprocess.Popen(
    _sweep_argv(tmp_path, data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
  )
  deadline = time.time() + 300
  while len(_summaries(tmp_path)) < 2 and time.time() < deadline:
    time.sleep(0.2)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  before = _summaries(tmp_path)
  assert 2 <= len(before) < 4, 'the kill should land half-way through the sweep'

  restart = subprocess.run(
    _sweep_argv(tmp_path, data_dir), capture_output=True, text=True, timeout=300
  )
  assert restart.returncode == 0, restart.stderr[-2000:]
  after = _summaries(tmp_path)
  assert len(after) == 4
  for path, content in before.items():  # Finished trials were not run again.
    assert after[path] == content
  assert restart.stderr.count('finished earlier: skipped') == len(before)
  assert 'same plan as before: resuming' in restart.stderr
  for path in before:  # Finished trials kept their single attempt.
    assert sorted(f for f in os.listdir(path) if f.startswith('meta_data')) == ['meta_data_0.json']


def _crashing_submission(tmp_path):
  path = tmp_path / 'crash' / 'submission.py'
  path.parent.mkdir()
  path.write_text(
    textwrap.dedent(f"""
      import os
      import sys
      sys.path.insert(0, {os.path.dirname(TEMPLATE)!r})
      from submission import *  # The template's functions...
      import submission as _template

      def update_params(workload, current_param_container, current_params_types, model_state,
                        hyperparameters, batch, loss_type, optimizer_state, eval_results,
                        global_step, rng, train_state=None):
        if hyperparameters.learning_rate > 0.1 and global_step == 5:
          os._exit(3)  # ...except that large learning rates kill the whole process.
        return _template.update_params(workload, current_param_container,
                                       current_params_types, model_state, hyperparameters,
                                       batch, loss_type, optimizer_state, eval_results,
                                       global_step, rng, train_state)
      """)
  )
  return str(path)


@pytest.mark.slow
def test_process_executor_isolates_a_crashing_trial(tmp_path, data_dir):
  space = {'learning_rate': {'feasible_points': [0.05, 0.3]}}
  plan = trial_plan.plan_trials(
    ['mnist1d'],
    _crashing_submission(tmp_path),
    space,
    'external',
    num_studies=1,
    num_tuning_trials=2,
    rng_seed=0,
    experiment_dir=str(tmp_path / 'exp'),
    experiment_name='crash',
  )
  config = RunConfig(data_dir=data_dir, max_global_steps=100, eval_every_steps=50)
  reports = {}
  make_executor('processes', max_parallel=2).run(
    sweep.jobs_for(plan, config, {}), lambda job, s: reports.__setitem__(job.trial.trial, s)
  )
  by_lr = {plan[t - 1].hyperparameters['learning_rate']: s for t, s in reports.items()}
  assert by_lr[0.05]['status'] == 'max_steps'
  assert by_lr[0.3]['status'] == 'failed'
  assert 'exited with code 3' in by_lr[0.3]['error']
  on_disk = json.loads(
    open(
      os.path.join(
        plan[[t.hyperparameters['learning_rate'] for t in plan].index(0.3)].log_dir,
        'trial_summary.json',
      )
    ).read()
  )
  assert on_disk['status'] == 'failed'


def test_monitor_prints_plain_lines_without_a_terminal(tmp_path):
  import io

  plan = trial_plan.plan_trials(
    ['mnist1d'],
    TEMPLATE,
    None,
    'self',
    num_studies=1,
    experiment_dir=str(tmp_path),
    experiment_name='m',
  )
  trial = plan[0]
  os.makedirs(trial.log_dir)
  with open(os.path.join(trial.log_dir, 'eval_measurements.csv'), 'w') as f:
    f.write(
      'accumulated_submission_time,global_step,validation/error_rate\n12.5,400,0.0625\n7.0,500'
    )  # The last row is still being written.
  stream = io.StringIO()
  mon = monitor.SweepMonitor(
    plan,
    {'mnist1d': {'metric': 'error_rate', 'target': 0.05, 'budget': 30}},
    stream=stream,
    live=False,
  )
  mon.trial_finished(trial, {'status': 'budget_exhausted', 'time_to_target': None})
  lines = stream.getvalue().splitlines()
  assert lines[0] == (
    '[mnist1d study 0 trial 1] step     400 | submission     12.5s / 30s | '
    'validation/error_rate 0.0625 (target 0.05)'
  )
  assert lines[1] == '[1/1] mnist1d study 0 trial 1: target not reached (budget_exhausted)'
  assert mon.counts() == {'done': 1, 'failed': 0, 'running': 0, 'to go': 0}
