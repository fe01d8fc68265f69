"""The submission checker: baselines pass, each adversarial submission is caught by its rule.

Adversarial submissions live in ``tests/data/adversarial/<rule>[--variant]/``; the
folder name says which rule, and only that rule, must catch it. Folders with a
``tuning_search_space.json`` are checked under the external ruleset, the others
under self-tuning.
"""

import glob
import os

import pytest

from algoperf_like import checker
from algoperf_like.static_rules import RULES, STATIC_RULES, check_source

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINES = sorted(
  os.path.basename(os.path.dirname(p))
  for p in glob.glob(os.path.join(REPO, 'submissions', '*', 'submission.py'))
)
ADVERSARIAL_DIR = os.path.join(REPO, 'tests', 'data', 'adversarial')
ADVERSARIAL = sorted(os.listdir(ADVERSARIAL_DIR))


def _ruleset(folder):
  return 'external' if os.path.exists(os.path.join(folder, 'tuning_search_space.json')) else 'self'


# The published AlgoPerf submissions of the drop-in issue (test inputs, ../shared/fixtures).
PUBLISHED_DIR = os.path.join(os.path.dirname(REPO), 'shared', 'fixtures', 'algoperf_submissions')
PUBLISHED = sorted(
  os.path.basename(os.path.dirname(p))
  for p in glob.glob(os.path.join(PUBLISHED_DIR, '*', 'submission.py'))
)


@pytest.mark.skipif(not PUBLISHED, reason='no shared/fixtures/algoperf_submissions')
@pytest.mark.parametrize('name', PUBLISHED)
def test_published_submission_passes_static_checks(name):
  """The sharper rules (private members, fingerprints) accept the published submissions."""
  folder = os.path.join(PUBLISHED_DIR, name)
  report = checker.check_submission(folder, _ruleset(folder), smoke=False)
  assert report.passed, report.render()


@pytest.mark.parametrize('name', BASELINES)
def test_baseline_passes_static_checks(name):
  folder = os.path.join(REPO, 'submissions', name)
  report = checker.check_submission(folder, _ruleset(folder), smoke=False)
  assert report.passed, report.render()
  assert {r.rule for r in report.results if r.status == 'PASS'} == set(RULES) - {'smoke'}


def test_self_tuning_baseline_is_self_tuning():
  assert _ruleset(os.path.join(REPO, 'submissions', 'nadamw_self_tuning')) == 'self'


def test_every_rule_has_an_adversarial_example():
  assert {name.split('--')[0] for name in ADVERSARIAL} == set(RULES)
  assert len(ADVERSARIAL) >= 8


@pytest.mark.parametrize('name', [n for n in ADVERSARIAL if n.split('--')[0] != 'smoke'])
def test_adversarial_caught_by_its_rule(name):
  report = checker.check_submission(
    os.path.join(ADVERSARIAL_DIR, name), _ruleset(os.path.join(ADVERSARIAL_DIR, name)), smoke=False
  )
  rule = name.split('--')[0]
  assert report.failed_rules == [rule], report.render()
  assert all(v.rule == rule and v.message for v in report.violations)
  if rule in STATIC_RULES:
    assert all(v.line for v in report.violations)


def test_external_baseline_under_self_tuning_fails_search_space():
  report = checker.check_submission(
    os.path.join(REPO, 'submissions', 'nadamw'), 'self', smoke=False
  )
  assert report.failed_rules == ['search-space']


# ----- Static rules on snippets: variants that must be caught, and look-alikes that must not.
CAUGHT = [
  (
    'workload-identity',
    "def update_params(workload):\n  if workload.workload_name in ('a', 'b'): pass",
  ),
  (
    'workload-identity',
    "def f(workload):\n  return 1 if type(workload).__name__ == 'Mnist1dWorkload' else 2",
  ),
  ('workload-identity', 'def f(workload):\n  if type(workload) is Foo: pass'),
  ('workload-identity', 'def f(workload):\n  return workload.__class__ == Foo'),
  (
    'workload-identity',
    "def f(workload):\n  match workload.workload_name:\n    case 'mnist1d': pass",
  ),
  ('workload-identity', "def f(workload):\n  return workload.workload_name.startswith('mnist')"),
  (
    'workload-identity',
    "LR = {'mnist1d': 0.1}\ndef f(workload):\n  return LR[workload.workload_name]",
  ),
  (
    'workload-identity',
    "NAME = 'mnist1d'\ndef f(workload):\n  return workload.workload_name == NAME",
  ),
  ('workload-identity', "def f(workload):\n  return 'Dense_out' in workload.param_shapes"),
  ('workload-identity', 'def f(workload):\n  return workload.num_train_examples == 10000'),
  ('workload-identity', 'def f(p):\n  return p.shape[-1] == 10'),
  (
    'workload-identity',
    "def f(w):\n  return w.name == 'mnist1d'\ndef g(workload):\n  w = workload",
  ),
  ('io', "import numpy as np\ndef f():\n  return np.load('x.npy')"),
  ('io', 'import shutil'),
  ('io', 'from pathlib import Path'),
  ('io', "import os\ndef f():\n  os.remove('x')"),
  ('io', 'import socket'),
  ('io', "def f(p):\n  p.write_text('x')"),
  ('processes', 'import subprocess'),
  ('processes', "import os\ndef f():\n  os.system('ls')"),
  ('processes', 'from os import system'),
  ('processes', 'from concurrent.futures import ThreadPoolExecutor'),
  ('processes', 'import multiprocessing as mp'),
  ('processes', 'import asyncio'),
  ('processes', 'import ctypes'),
  ('mutate-workload', "def f(workload):\n  workload._eval_cache['x'] = 1"),
  ('mutate-workload', 'def f(workload):\n  del workload.metrics_logger'),
  ('mutate-workload', 'def f(workload):\n  workload.step_count += 1'),
  ('mutate-workload', 'def f(workload):\n  workload.attach_metrics_logger(None)'),
  (
    'mutate-workload',
    'def data_selection(workload, input_queue):\n  input_queue.batch_size = 4096',
  ),
  ('mutate-workload', 'def f(workload):\n  logger = workload.metrics_logger\n  logger.x = 1'),
  ('monkeypatch', 'import jax\njax.jit = lambda f: f'),
  ('monkeypatch', 'import jax.numpy as jnp\njnp.dot = None'),
  ('monkeypatch', 'from algoperf_like import clock\nclock.Clock.read = None'),
  ('monkeypatch', "import builtins\nsetattr(builtins, 'print', None)"),
  ('monkeypatch', "from jax import config\nconfig.update('jax_enable_x64', True)"),
  ('monkeypatch', 'from unittest import mock'),
  ('monkeypatch', "import os\nos.environ['XLA_FLAGS'] = '--xla_cpu_fast'"),
  ('dynamic-code', "exec('x = 1')"),
  ('dynamic-code', 'import importlib'),
  ('dynamic-code', "import sys\ndef f():\n  return sys.modules.get('time')"),
  ('dynamic-code', 'def f():\n  return globals()'),
  ('dynamic-code', 'def f(fn):\n  return fn.__globals__'),
  ('dynamic-code', 'import sys\ndef f():\n  return sys._getframe(1).f_locals'),
  ('dynamic-code', 'import gc'),
]


@pytest.mark.parametrize('rule,source', CAUGHT)
def test_snippet_caught(rule, source):
  assert {v.rule for v in check_source(source)} == {rule}, source


NOT_CAUGHT = [
  # Per-workload batch sizes are allowed (AlgoPerf allows them).
  "def get_batch_size(workload_name):\n  return 64 if workload_name == 'mnist1d' else 128",
  "def get_batch_size(workload_name):\n  match workload_name:\n    case 'x': return 1",
  # Structural tests of tensors that any optimizer may do.
  'def f(p):\n  return p.ndim == 1 or len(p.shape) == 2 or p.shape[0] == 1',
  'def f(p, q):\n  return p.shape == q.shape',
  'def f(hyperparameters):\n  return hyperparameters is None',
  # Reading the workload and its metrics, logging through the harness.
  "def f(workload, eval_results):\n  return eval_results[-1][1][f'validation/{workload.target_metric_name}']",
  "def f(workload):\n  workload.metrics_logger.append_scalar_metrics({'x': 1.0}, 0)",
  'def f(workload, get_batch_size):\n  return get_batch_size(workload.workload_name)',
  'def f(workload):\n  return workload.step_hint * 0.05',
  # Own objects and reading the clock are fine.
  'class A:\n  def __init__(self):\n    self.x = 1',
  'import time\ndef f():\n  time.sleep(0)\n  return time.perf_counter()',
  "import re\nPATTERN = re.compile('x')",
  'import functools, collections, jax, optax\nfrom algoperf_like import spec',
  "if __name__ == '__main__':\n  pass",
  "def f(out):\n  out['x'] = 1",
]


@pytest.mark.parametrize('source', NOT_CAUGHT)
def test_snippet_not_caught(source):
  assert check_source(source) == [], source


# ----- The command line entry point. -----
def test_check_main_exit_codes(capsys):
  assert checker.check_main([os.path.join(REPO, 'submissions', 'nadamw'), '--no_smoke']) == 0
  out = capsys.readouterr().out
  assert 'PASS  api' in out and out.rstrip().endswith('Verdict: PASS')
  assert (
    checker.check_main(
      [os.path.join(ADVERSARIAL_DIR, 'monkeypatch'), '--ruleset', 'self', '--no_smoke']
    )
    == 1
  )
  out = capsys.readouterr().out
  assert 'FAIL  monkeypatch' in out and 'submission.py:14:' in out
  assert 'Verdict: FAIL (1 violation: monkeypatch)' in out


@pytest.mark.parametrize(
  'argv',
  [
    ['/nonexistent/submission_dir'],
    [os.path.join(REPO, 'tests')],  # A folder without submission.py.
    [os.path.join(REPO, 'submissions', 'nadamw'), '--ruleset', 'bogus'],
    [],
  ],
)
def test_check_main_bad_input(argv, capsys):
  assert checker.check_main(argv) == 2
  captured = capsys.readouterr()
  assert captured.out == ''
  assert len(captured.err.strip().splitlines()) == 1


def test_syntax_error_is_an_api_violation(tmp_path):
  (tmp_path / 'submission.py').write_text('def f(:\n')
  report = checker.check_submission(str(tmp_path), 'self', smoke=False)
  assert report.failed_rules == ['api']
  assert report.violations[0].line == 1


# ----- Smoke runs (the real runner, two CPU workloads). -----
@pytest.mark.slow
def test_full_check_with_smoke_run(data_dir, capsys):
  code = checker.check_main(
    [
      os.path.join(REPO, 'submissions', 'nadamw_self_tuning'),
      '--ruleset',
      'self',
      '--data_dir',
      data_dir,
    ]
  )
  out = capsys.readouterr().out
  assert code == 0, out
  assert 'PASS  smoke' in out and 'mnist1d: 20 steps' in out and 'mnist1d_gelu: 20 steps' in out


@pytest.mark.slow
def test_smoke_run_catches_malformed_state(data_dir):
  report = checker.check_submission(
    os.path.join(ADVERSARIAL_DIR, 'smoke'), 'self', data_dir=data_dir
  )
  assert report.failed_rules == ['smoke'], report.render()
  assert len(report.violations) == 2  # Both workloads.
  assert all('changed the structure, shapes or dtypes' in v.message for v in report.violations)


@pytest.mark.slow
@pytest.mark.parametrize(
  'name,words',
  [
    ('smoke--runtime-private', 'rule_violation: private-member: reads workload._build_input_queue'),
    ('smoke--runtime-clock', 'rule_violation: clock: time.perf_counter was replaced by'),
  ],
)
def test_smoke_run_catches_run_time_violations(data_dir, name, words):
  """Submissions that pass every static rule on purpose fail the smoke run, with the
  member or what changed, and (for the guard) the submission's line."""
  import time

  perf_counter = time.perf_counter
  try:
    report = checker.check_submission(
      os.path.join(ADVERSARIAL_DIR, name), 'self', data_dir=data_dir
    )
  finally:
    time.perf_counter = perf_counter
  assert report.failed_rules == ['smoke'], report.render()
  assert len(report.violations) == 2  # Both workloads.
  for v in report.violations:
    assert words in v.message, v.message
  if name == 'smoke--runtime-private':
    assert all(v.line == 35 and str(v).startswith('submission.py:35: ') for v in report.violations)
  assert 'FAIL  smoke' in report.render()
