"""``algoperf-like``: one-line errors for bad input, the dry run, and end-to-end runs."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest

from algoperf_like import cli
from algoperf_like.workloads import targets as committed_targets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NADAMW = os.path.join(REPO, 'submissions', 'nadamw', 'submission.py')
NADAMW_SPACE = os.path.join(REPO, 'submissions', 'nadamw', 'tuning_search_space.json')
DEMO_POINT = os.path.join(REPO, 'submissions', 'nadamw', 'mnist1d_demo_point.json')
GOOD = textwrap.dedent("""
    def get_batch_size(workload_name):
      return {batch}
    def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
      return None
    def update_params(workload, current_param_container, current_params_types, model_state,
                      hyperparameters, batch, loss_type, optimizer_state, eval_results,
                      global_step, rng, train_state=None):
      return optimizer_state, current_param_container, model_state
    def data_selection(workload, input_queue, optimizer_state, current_param_container,
                       model_state, hyperparameters, global_step, rng):
      return next(input_queue)
    """)


def _write(tmp_path, text, name='submission.py'):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def _run(argv, capsys):
  rc = cli.main(['run'] + argv)
  out, err = capsys.readouterr()
  return rc, out, err


BAD_INPUTS = {
  'unknown workload': (
    lambda tmp: [
      '--workload=nope',
      f'--submission_path={NADAMW}',
      f'--tuning_search_space={NADAMW_SPACE}',
    ],
    "unknown workload 'nope'",
  ),
  'missing submission': (
    lambda tmp: ['--workload=mnist1d', '--submission_path=/no/such.py', '--tuning_ruleset=self'],
    'file not found',
  ),
  'syntax error': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      '--submission_path=' + _write(tmp, 'def f(:\n'),
    ],
    'syntax error',
  ),
  'missing function': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      '--submission_path=' + _write(tmp, GOOD.format(batch=8).split('def update_params')[0]),
    ],
    'required function update_params is missing',
  ),
  'wrong signature': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      '--submission_path='
      + _write(tmp, GOOD.format(batch=8).replace('model_params, model_state', 'params, state')),
    ],
    'init_optimizer_state(workload, params, state',
  ),
  'bad batch size': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      '--submission_path=' + _write(tmp, GOOD.format(batch=0)),
    ],
    'expected a positive integer',
  ),
  'bad search space': (
    lambda tmp: [
      '--workload=mnist1d',
      f'--submission_path={NADAMW}',
      '--tuning_search_space='
      + _write(tmp, '{"learning_rate": {"min": 1, "max": 0.1, "scaling": "log"}}', 'space.json'),
    ],
    'learning_rate',
  ),
  'no search space for external': (
    lambda tmp: ['--workload=mnist1d', f'--submission_path={NADAMW}'],
    '--tuning_search_space is required',
  ),
  'unknown flag': (lambda tmp: ['--workload=mnist1d', '--bogus'], 'bogus'),
  'data_dir is a file': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      f'--submission_path={NADAMW}',
      '--data_dir=' + _write(tmp, 'x', 'not_a_dir'),
    ],
    'is not a directory',
  ),
  'self-tuning with a search space': (
    lambda tmp: [
      '--workload=mnist1d',
      '--tuning_ruleset=self',
      f'--submission_path={NADAMW}',
      f'--tuning_search_space={NADAMW_SPACE}',
    ],
    'must not be given',
  ),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
  make_argv, expected = BAD_INPUTS[case]
  experiments = tmp_path / 'experiments'
  rc, out, err = _run(make_argv(tmp_path) + [f'--experiment_dir={experiments}'], capsys)
  assert rc == 2
  assert len(err.strip().splitlines()) == 1 and expected in err, err
  assert 'Traceback' not in err
  assert not experiments.exists()


@pytest.mark.parametrize('resume', [False, True])
def test_existing_experiment_with_another_plan_is_refused(tmp_path, capsys, resume):
  (tmp_path / 'exp' / 'nadamw').mkdir(parents=True)
  rc, _, err = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={NADAMW}',
      f'--tuning_search_space={NADAMW_SPACE}',
      f'--experiment_dir={tmp_path}/exp',
    ]
    + (['--resume_last_run'] if resume else []),
    capsys,
  )
  assert rc == 2 and 'already exists with another plan' in err


def test_dry_run_prints_one_json_object_per_trial(tmp_path, capsys):
  rc, out, _ = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={NADAMW}',
      f'--tuning_search_space={NADAMW_SPACE}',
      '--num_studies=2',
      '--num_tuning_trials=3',
      '--dry_run',
      f'--experiment_dir={tmp_path}',
    ],
    capsys,
  )
  assert rc == 0
  trials = [json.loads(line) for line in out.splitlines()]
  assert len(trials) == 6
  assert {(t['study'], t['trial']) for t in trials} == {(s, m) for s in (0, 1) for m in (1, 2, 3)}
  assert len({t['rng_seed'] for t in trials}) == 6
  assert all(set(t['hyperparameters']) >= {'learning_rate', 'weight_decay'} for t in trials)
  assert not os.listdir(tmp_path)


@pytest.mark.slow
@pytest.mark.numerics
def test_end_to_end_nadamw_reaches_the_mnist1d_target(tmp_path, data_dir):
  """The console script trains NAdamW on mnist1d to its target and logs AlgoPerf's tree."""
  argv = [
    os.path.join(os.path.dirname(sys.executable), 'algoperf-like'),
    'run',
    '--workload=mnist1d',
    f'--submission_path={NADAMW}',
    f'--tuning_search_space={DEMO_POINT}',
    '--num_studies=1',
    '--num_tuning_trials=1',
    # Steps, not seconds, decide the outcome: a slower machine trains the same run. The
    # whole scored schedule (the point reaches the target near step 3,050 of 6,000 here).
    f'--max_global_steps={committed_targets.workload_targets("mnist1d")["step_hint"]}',
    '--eval_every_steps=50',
    '--max_runtime_sec=1e9',
    f'--experiment_dir={tmp_path}',
    f'--data_dir={data_dir}',
  ]
  proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'target reached in' in proc.stdout
  assert 'validation/error_rate' in proc.stderr  # Progress lines while training.
  trial = tmp_path / 'nadamw' / 'study_0' / 'mnist1d_jax' / 'trial_1'
  with open(trial / 'eval_measurements.csv') as f:
    rows = list(csv.DictReader(f))
  from algoperf_like.workloads import targets

  target = targets.workload_targets('mnist1d')['validation_target_value']
  assert float(rows[-1]['validation/error_rate']) <= target
  assert all(float(r['validation/error_rate']) > target for r in rows[:-1])
  summary = json.loads((trial / 'trial_summary.json').read_text())
  assert summary['status'] == 'target_reached'
  assert summary['time_to_target'] == pytest.approx(float(rows[-1]['accumulated_submission_time']))
  assert summary['timing_adds_up']
  hparams = json.loads((trial / 'hparams.json').read_text())
  assert hparams == json.loads(open(DEMO_POINT).read())[0]
