"""Run-time rules: a submission that breaks a rule static checks cannot see is stopped.

``tests/data/runtime/submission.py`` trains ``tests/quadratic.py`` and, at step 2, does
what ``hyperparameters.attack`` names, with names built at run time. Each trial must end
as ``rule_violation`` with the reason (and, where the guard saw it, the submission's line)
in ``trial_summary.json``; the legal ways of using the workload under ``jit``/``pmap``
must train as before. The attacks' global changes are undone after each test.
"""

import collections
import json
import os
import threading
import time

import jax
import pytest

from algoperf_like import clock, integrity, runner, sweep, trial_logs
from algoperf_like.guard import RuleViolation
from algoperf_like.submission import load_submission
from tests import quadratic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = os.path.join(REPO, 'tests', 'data', 'runtime', 'submission.py')
Hyper = collections.namedtuple('Hyper', ['attack'])

# attack -> (rule in the one-line reason, words it must contain, names the line?)
VIOLATIONS = {
  'private': ('private-member', 'workload._build_input_queue', True),
  'private_caught': ('private-member', 'workload._eval_model_on_split', True),
  'vars': ('private-member', 'workload.__dict__', True),
  'dunder_dict': ('private-member', 'workload.__dict__', True),
  'eval_model': ('harness-only', 'workload.eval_model', True),
  'set_model_fn': ('mutate-workload', 'workload.model_fn', True),
  'queue_private': ('private-member', 'input_queue.gi_frame', True),
  'init_private': ('private-member', 'workload._param_shapes', True),
  'perf_counter': ('clock', 'time.perf_counter was replaced by submission.py', False),
  'monotonic': ('clock', 'time.monotonic was replaced', False),
  'thread': ('threads', "daemon thread 'worker'", False),
  'process': ('processes', 'child process', False),
  'x64': ('jax-config', 'jax_enable_x64', False),
  'matmul_precision': ('jax-config', 'jax_default_matmul_precision', False),
  'other_config': ('jax-config', 'jax_numpy_rank_promotion', False),
  'patch_class': ('workload', 'QuadraticWorkload.loss_fn was patched', False),
  'patch_clock': ('harness', 'algoperf_like.clock.block_until_ready was replaced', False),
  'patch_runner': ('harness', 'algoperf_like.runner.pad_batch was replaced', False),
  'patch_integrity': (
    'harness',
    'algoperf_like.integrity.Integrity.after_call was replaced',
    False,
  ),
  'constants': ('workload', "workload's constants", False),
}


@pytest.fixture
def restore_globals():
  """Undo what the attacks change for the whole process."""
  saved_time = {n: getattr(time, n) for n in ('perf_counter', 'monotonic')}
  saved_config = {
    n: jax.config.values[n]
    for n in ('jax_enable_x64', 'jax_default_matmul_precision', 'jax_numpy_rank_promotion')
  }
  saved_loss = vars(quadratic.QuadraticWorkload)['loss_fn']
  saved_block, saved_pad = clock.block_until_ready, runner.pad_batch
  saved_checks = {n: vars(integrity.Integrity)[n] for n in ('after_call', 'full_check')}
  yield
  for n, f in saved_checks.items():
    setattr(integrity.Integrity, n, f)
  for n, f in saved_time.items():
    setattr(time, n, f)
  for n, v in saved_config.items():
    jax.config.update(n, v)
  quadratic.QuadraticWorkload.loss_fn = saved_loss
  clock.block_until_ready, runner.pad_batch = saved_block, saved_pad


def _trial(tmp_path, attack, **config):
  sub = load_submission(RUNTIME)
  log_dir = str(tmp_path / 'trial_1')
  config = runner.RunConfig(max_global_steps=6, eval_every_steps=3, **config)
  try:
    result = runner.train_once(
      quadratic.QuadraticWorkload(), sub, Hyper(attack), 0, log_dir, config
    )
    error = None
  except RuleViolation as e:
    result, error = None, e
  finally:
    sub.module.STOP.set()
    for p in sub.module.PROCESSES:
      p.kill()
      p.wait()
  with open(os.path.join(log_dir, trial_logs.SUMMARY_FILE)) as f:
    return result, error, json.load(f)


@pytest.mark.parametrize('attack', sorted(VIOLATIONS))
def test_attack_ends_the_trial_as_rule_violation(tmp_path, restore_globals, attack):
  rule, words, names_line = VIOLATIONS[attack]
  _, error, summary = _trial(tmp_path, attack)
  assert error is not None, f'{attack} was not stopped'
  assert summary['status'] == 'rule_violation'
  assert summary['error'] == str(error) and '\n' not in summary['error']
  assert summary['error'].startswith(f'{rule}: ') and words in summary['error'], summary['error']
  if names_line:
    assert error.path == RUNTIME and error.line
    assert f'(submission.py:{error.line})' in summary['error']
  assert summary['timing_adds_up'], summary['timing']
  assert summary['global_step'] <= 3  # Stopped at step 2's call or the eval after it.
  assert os.path.exists(os.path.join(str(tmp_path / 'trial_1'), 'error.txt'))


@pytest.mark.parametrize('attack', ['none', 'jit_method', 'partial', 'pmap'])
def test_legal_uses_of_the_workload_train(tmp_path, attack):
  config = {'submission_api': 'pmap'} if attack == 'pmap' else {}
  result, error, summary = _trial(tmp_path, attack, **config)
  assert error is None and summary['status'] == 'max_steps', summary
  losses = [row['validation/loss'] for row in result.eval_results]
  assert losses[-1] < losses[0]  # It trained through the guarded workload.
  assert summary['timing_adds_up'] and summary['timing']['integrity_time_s'] > 0


def test_sweep_run_trial_reports_the_violation(tmp_path, restore_globals, monkeypatch):
  from algoperf_like.trial_plan import TrialSpec

  monkeypatch.setitem(sweep._WORKLOADS, ('quadratic', None), quadratic.QuadraticWorkload())
  fields = {f for f in TrialSpec.__dataclass_fields__}
  spec_kwargs = dict(
    workload='quadratic',
    submission_path=RUNTIME,
    study=0,
    trial=1,
    rng_seed=0,
    log_dir=str(tmp_path / 'trial_1'),
    hyperparameters={'attack': 'private'},
    tuning_ruleset='external',
  )
  trial = TrialSpec(**{k: v for k, v in spec_kwargs.items() if k in fields})
  job = sweep.TrialJob(trial, runner.RunConfig(max_global_steps=6, eval_every_steps=3), {})
  with pytest.raises(RuleViolation, match='private-member: reads workload._build_input_queue'):
    sweep.run_trial(job)
  summary = trial_logs.read_summary(str(tmp_path / 'trial_1'))
  assert summary['status'] == 'rule_violation' and 'submission.py:' in summary['error']


def test_threads_started_by_the_input_pipeline_are_the_harness_s(tmp_path):
  """A queue whose next() starts a worker thread (as tf.data or a thread pool does) is fine."""

  class ThreadedQuadratic(quadratic.QuadraticWorkload):
    def _build_input_queue(self, *args, **kwargs):
      inner = super()._build_input_queue(*args, **kwargs)
      stop = threading.Event()
      self.stop = stop

      def gen():
        threading.Thread(target=stop.wait, args=(60,), daemon=True).start()
        while True:
          yield next(inner)

      return gen()

  workload = ThreadedQuadratic()
  sub = load_submission(RUNTIME)
  try:
    result = runner.train_once(
      workload,
      sub,
      Hyper('none'),
      0,
      None,
      runner.RunConfig(max_global_steps=4, eval_every_steps=2),
    )
  finally:
    workload.stop.set()
  assert result.status == 'max_steps'


def test_workload_code_may_change_the_workload(tmp_path):
  """What the workload's own methods change in it (a cache), called by the submission, is no
  violation; nor is re-initialising the model (AlgoPerf allows init_model_fn)."""

  class CachingQuadratic(quadratic.QuadraticWorkload):
    def model_fn(self, params, batch, *args, **kwargs):
      self.traced = getattr(self, 'traced', 0) + 1
      return super().model_fn(params, batch, *args, **kwargs)

  workload = CachingQuadratic()
  result = runner.train_once(
    workload,
    load_submission(RUNTIME),
    Hyper('reinit'),
    0,
    None,
    runner.RunConfig(max_global_steps=4, eval_every_steps=2),
  )
  assert result.status == 'max_steps' and workload.traced >= 1
