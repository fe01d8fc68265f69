"""Scoring a tree with a trial that ended as ``rule_violation``: warned, reported, and the
submission disqualified on that workload (AlgoPerf's logs, without summaries, unchanged)."""

from __future__ import annotations

import json
import math

from algoperf_like.scoring import ScoringOptions, read_logs, score_directory
from algoperf_like.scoring.targets import load_targets

try:
  from tests.scoring_trees import write_targets, write_trial
except ImportError:  # tests/ not a package
  from scoring_trees import write_targets, write_trial

OPTS = ScoringOptions(bootstrap_samples=0, expected_studies=None, expected_trials=1)


def _tree(tmp_path, violation_has_csv=True):
  targets = write_targets(
    tmp_path / 'targets.json',
    {'a': ('error_rate', 0.5), 'b': ('error_rate', 0.5)},
  )
  root = tmp_path / 'logs'
  for sub in ('honest', 'cheat'):
    for w in ('a', 'b'):
      write_trial(root, sub, 0, f'{w}_jax', 1, [10.0, 20.0], [0.6, 0.4])
  bad = root / 'cheat' / 'study_0' / 'a_jax' / 'trial_1'
  if not violation_has_csv:  # Stopped before its first evaluation: no rows.
    (bad / 'eval_measurements.csv').unlink()
  (bad / 'trial_summary.json').write_text(
    json.dumps(
      {
        'status': 'rule_violation',
        'error': 'private-member: reads workload._build_input_queue (submission.py:12)',
      }
    )
  )
  return root, targets


def test_rule_violation_disqualifies_the_workload_and_is_reported(tmp_path):
  root, targets = _tree(tmp_path)
  res = score_directory(root, targets, OPTS)
  assert math.isinf(res.times.loc['cheat', 'a'])
  assert res.times.loc['cheat', 'b'] == 20.0 and res.times.loc['honest', 'a'] == 20.0
  assert res.status.loc['cheat', 'a'] == 'rule violation'
  assert res.status.loc['honest', 'a'] == 'ok'
  warned = [m for m in res.warnings if m.startswith('rule violation')]
  assert len(warned) == 1
  assert "'cheat' disqualified on workload 'a'" in warned[0]
  assert '_build_input_queue (submission.py:12)' in warned[0]
  scores = res.scores.set_index('submission')
  assert scores.loc['cheat', 'workloads_reached'] == 1
  assert scores.loc['honest', 'score'] > scores.loc['cheat', 'score']


def test_violation_without_an_eval_is_still_seen(tmp_path):
  root, targets = _tree(tmp_path, violation_has_csv=False)
  res = score_directory(root, targets, OPTS)
  assert res.status.loc['cheat', 'a'] == 'rule violation'
  assert math.isinf(res.times.loc['cheat', 'a'])
  assert any(m.startswith('rule violation') for m in res.warnings)


def test_logs_without_summaries_have_no_violations(tmp_path):
  _, targets = _tree(tmp_path)
  root = tmp_path / 'algoperf'
  write_trial(root, 'sub', 0, 'a_jax', 1, [10.0], [0.4])
  logs = read_logs(root, load_targets(targets))
  assert logs.violations.empty
  assert list(logs.violations.columns) == [
    'submission',
    'study',
    'workload',
    'trial',
    'path',
    'error',
  ]
