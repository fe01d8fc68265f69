"""Reading log trees: the real v0.6 excerpt, untidy trees, corrupt CSVs, targets."""

from __future__ import annotations

import json
import math
import warnings

import pytest

from algoperf_like.scoring import (
  CorruptLogError,
  ScoringError,
  ScoringOptions,
  ScoringWarning,
  TargetsError,
  load_targets,
  read_logs,
  score_directory,
)
from algoperf_like.scoring.read import read_trial, split_workload_dir
from algoperf_like.scoring.targets import METRIC_DIRECTION, default_targets_path

try:
  from tests.scoring_trees import FIXTURES, write_targets, write_trial
except ImportError:  # tests/ not a package
  from scoring_trees import FIXTURES, write_targets, write_trial

V06 = FIXTURES / 'workload_targets_v06.json'
V05 = FIXTURES / 'workload_targets_v05.json'
ST_LOGS = FIXTURES / 'algoperf_v06_logs' / 'self_tuning'
INF = math.inf

needs_fixtures = pytest.mark.skipif(not ST_LOGS.is_dir(), reason='shared fixtures not present')


def _score(root, targets, **kw):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', ScoringWarning)
    return score_directory(root, targets, ScoringOptions(**kw))


# --- the real v0.6 self-tuning excerpt --------------------------------------------------------


@needs_fixtures
def test_fixture_times_to_target_per_study_and_median():
  res = _score(ST_LOGS, V06, self_tuning=True)
  assert len(res.trials) == 24 and res.logs.evals.shape[0] == 1674
  st = res.studies.set_index(['workload', 'study'])
  # first eval with validation/loss <= 0.123735 in study_1: step 6634 at 6375.52 s
  assert st.loc[('criteo1tb', 'study_1'), 'time_to_target'] == pytest.approx(
    6375.523762226105, abs=1e-9
  )
  assert st.loc[('criteo1tb', 'study_1'), 'global_step'] == 6634
  assert st.loc[('ogbg', 'study_0'), 'time_to_target'] == INF  # mAP stays < 0.28098
  want = {
    'criteo1tb': 7328.192516088486,
    'fastmri': 1370.381531715393,
    'imagenet_resnet': INF,
    'imagenet_vit': 63328.61258482933,
    'librispeech_conformer': 84856.24470329285,
    'librispeech_deepspeech': 57630.12813162804,
    'ogbg': INF,
    'wmt': 17656.7119846344,
  }
  raw = res.raw_times.loc['schedule_free_adamw_v2']
  for w, v in want.items():
    assert raw[w] == pytest.approx(v, abs=1e-9), w
  assert math.isnan(raw['finewebedu_lm'])  # not in the excerpt
  # alone, every reached workload has ratio 1: score = 6 reached / 9 base workloads
  assert res.scores['score'].iloc[0] == pytest.approx(6 / 9, abs=1e-12)
  assert res.scores['workloads_reached'].iloc[0] == 6


@needs_fixtures
def test_fixture_warns_about_missing_base_workload():
  with pytest.warns(ScoringWarning, match="no logs for workload 'finewebedu_lm'"):
    score_directory(ST_LOGS, V06, ScoringOptions(self_tuning=True))


@needs_fixtures
def test_fixture_budget_option_by_ruleset():
  # self-tuning budget = 1.5 x external (v0.6): every hit is inside it -> still 6/9.
  st = _score(ST_LOGS, V06, self_tuning=True, enforce_budget=True)
  assert st.scores['workloads_reached'].iloc[0] == 6
  # external budgets: resnet (98,764 s > 66,159), conformer, deepspeech and one criteo study
  # (8,776 s > 7,703) are over budget -> criteo median(7328, 6376, inf) = 7328, 4/9 reached.
  ext = _score(ST_LOGS, V06, enforce_budget=True, expected_studies=None)
  assert ext.raw_times.loc['schedule_free_adamw_v2', 'criteo1tb'] == pytest.approx(
    7328.192516088486
  )
  assert ext.scores['workloads_reached'].iloc[0] == 4


def test_targets_files_and_direction_table():
  t6 = load_targets(V06) if V06.is_file() else None
  if t6 is not None:
    assert t6.version == '0.6' and len(t6.base) == 9 and t6.held_out == ()
    assert t6.get('ogbg').column == 'validation/mean_average_precision'
    assert t6.get('ogbg').minimize is False and t6.get('finewebedu_lm').minimize is True
    assert t6.budget('fastmri') == 4430 and t6.budget('fastmri', self_tuning=True) == 6645
    assert t6.budget('finewebedu_lm') is None
  if V05.is_file():
    t5 = load_targets(V05)
    assert (
      len(t5.held_out) == 6 and t5.base_of('imagenet_resnet_large_bn_init') == 'imagenet_resnet'
    )
    assert t5.budget('fastmri_tanh') == 8859 and t5.self_tuning_factor == 3.0
  assert METRIC_DIRECTION['wer'] is True and METRIC_DIRECTION['bleu'] is False
  assert default_targets_path().parts[-2:] == ('workloads', 'targets.json')


def test_targets_file_can_state_direction_and_budget(tmp_path):
  p = write_targets(
    tmp_path / 't.json',
    {
      'w1': ('my_score', 3.0, {'metric_direction': 'max', 'max_allowed_runtime_sec': 60}),
      'w2': ('loss', 1.0, {'target_metric_goal': 'maximize'}),  # file overrides the table
    },
  )
  t = load_targets(p)
  assert t.get('w1').minimize is False and t.budget('w1') == 60 and t.budget('w1', True) == 90
  assert t.get('w2').minimize is False
  bad = write_targets(tmp_path / 'b.json', {'w': ('strange_metric', 1.0)})
  with pytest.raises(TargetsError, match='strange_metric'):
    load_targets(bad)
  (tmp_path / 'c.json').write_text('{not json')
  with pytest.raises(TargetsError, match=r'c\.json:1'):
    load_targets(tmp_path / 'c.json')


# --- untidy trees ----------------------------------------------------------------------------


@pytest.fixture
def targets(tmp_path):
  return write_targets(
    tmp_path / 'targets.json', {'w': ('error_rate', 0.5), 'v': ('accuracy', 0.9)}
  )


def test_untidy_tree_warnings_name_paths(tmp_path, targets):
  root = tmp_path / 'logs'
  write_trial(root, 'A', 0, 'w_jax', 1, [10, 20, 30], [0.9, 0.6, 0.4])  # hit at 30
  write_trial(root, 'A', 0, 'w_jax', 2, [10, 20], [0.9, 0.45])  # hit at 20
  (root / 'A' / 'study_0' / 'w_jax' / 'trial_3').mkdir()  # missing CSV
  write_trial(
    root, 'A', 0, 'v_pytorch', 1, [5, 50, 80], [0.1, None, 0.95], metric='validation/accuracy'
  )  # NaN metric
  write_trial(root, 'A', 0, 'mystery_jax', 1, [1], [1])  # unknown workload
  (root / 'A' / 'study_0' / 'notes.txt').write_text('hi')  # stray file
  (root / 'README.md').write_text('stray')
  write_trial(root, 'B', 0, 'w_jax', 1, [10, 40], [0.9, 0.5])  # B: no workload v
  with pytest.warns(ScoringWarning) as rec:
    res = score_directory(root, targets, ScoringOptions(expected_studies=None))
  msgs = [str(w.message) for w in rec]
  want = [
    str(root / 'A' / 'study_0' / 'w_jax' / 'trial_3'),
    str(root / 'A' / 'study_0' / 'v_pytorch' / 'trial_1' / 'eval_measurements.csv'),
    str(root / 'A' / 'study_0' / 'mystery_jax'),
    str(root / 'A' / 'study_0' / 'notes.txt'),
    str(root / 'README.md'),
    "has no logs for workload 'v'",
  ]
  for frag in want:
    assert any(frag in m for m in msgs), frag
  raw = res.raw_times
  assert raw.loc['A', 'w'] == 20.0 and raw.loc['A', 'v'] == 80.0  # NaN eval skipped
  assert raw.loc['B', 'w'] == 40.0 and math.isnan(raw.loc['B', 'v'])
  assert set(res.logs.trials['framework']) == {'jax', 'pytorch'}
  # w: A 20 (r=1), B 40 (r=2); v: A only.  Exact: A (3+3)/6 = 1, B (2+0)/6 = 1/3.
  ex = _score(root, targets, integral='exact', expected_studies=None).scores.set_index('submission')
  assert ex.loc['A', 'score'] == pytest.approx(1.0) and ex.loc['B', 'score'] == pytest.approx(1 / 3)


def test_team_level_and_timestamped_dirs_and_single_submission(tmp_path, targets):
  root = tmp_path / 'v05'
  write_trial(root / 'team1', 'subA', 0, 'w_jax', 1, [10], [0.1])
  write_trial(root / 'team1', 'subA-2024-01-02-03-04-05', 1, 'w_jax', 1, [30], [0.1])
  write_trial(root / 'team2', 'subB', 0, 'w_pytorch', 1, [20], [0.1])
  res = _score(root, targets, expected_studies=None)
  assert sorted(res.raw_times.index) == ['subA', 'subB']
  assert res.raw_times.loc['subA', 'w'] == 20.0  # median(study_0: 10, study_1: 30)
  single = _score(root / 'team2' / 'subB', targets, expected_studies=None)
  assert list(single.raw_times.index) == ['subB']


def test_truncated_last_row_is_nan_filled_with_warning(tmp_path):
  p = write_trial(tmp_path, 'A', 0, 'w_jax', 1, [10, 20], [0.9, 0.8])
  p.write_text(p.read_text() + '3.0,0.0,30.0,300')  # preempted mid-write, as pandas: NaN-fill
  arrays, msgs = read_trial(str(p), 'validation/error_rate', 'accumulated_submission_time')
  assert list(arrays['accumulated_submission_time']) == [10.0, 20.0, 30.0]
  assert list(arrays['global_step']) == [100.0, 200.0, 300.0]
  assert math.isnan(arrays['validation/error_rate'][2])
  assert any('line(s) 4' in m and str(p) in m for m in msgs)


@pytest.mark.parametrize(
  'mutate, line, reason',
  [
    (lambda s: s.replace('\n', '\n1,2,3,4,5,6,7,8,9,10\n', 1), 2, 'expected 8 fields, got 10'),
    (lambda s: s.rsplit('\n', 2)[0] + '\n3.0,0.0,abc,300,0,30.0,35.0,0.3\n', 4, 'not a number'),
    (lambda s: '', 1, 'empty file'),
    (lambda s: s.replace('accumulated_submission_time', 'elapsed'), 1, 'missing column'),
  ],
)
def test_corrupt_csv_is_one_line_error_with_file_and_line(tmp_path, mutate, line, reason):
  p = write_trial(tmp_path, 'A', 0, 'w_jax', 1, [10, 20, 30], [0.9, 0.8, 0.7])
  p.write_text(mutate(p.read_text()))
  with pytest.raises(CorruptLogError) as ei:
    read_trial(str(p), 'validation/error_rate', 'accumulated_submission_time')
  e = ei.value
  assert e.path == str(p) and e.line == line and reason in str(e)
  assert f'{p}:{line}' in str(e) and '\n' not in str(e)


def test_empty_tree_and_split_names(tmp_path, targets):
  assert split_workload_dir('imagenet_resnet_jax') == ('imagenet_resnet', 'jax')
  assert split_workload_dir('wmt_pytorch') == ('wmt', 'pytorch')
  assert split_workload_dir('mnist1d') == ('mnist1d', '')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(ScoringError, match='no eval_measurements.csv'):
    read_logs(tmp_path / 'empty', load_targets(targets))
  with pytest.raises(ScoringError, match='not found'):
    read_logs(tmp_path / 'nope', load_targets(targets))


def test_trial_whose_time_account_does_not_add_up_is_flagged(tmp_path):
  p = write_trial(tmp_path, 'A', 0, 'w_jax', 1, [10, 20], [0.9, 0.8])
  (p.parent / 'trial_summary.json').write_text(json.dumps({'timing_integrity_ok': False}))
  _, msgs = read_trial(str(p), 'validation/error_rate', 'accumulated_submission_time')
  assert any('timing account does not add up' in m and str(p.parent) in m for m in msgs)
  (p.parent / 'trial_summary.json').write_text(json.dumps({'timing_integrity_ok': True}))
  _, msgs = read_trial(str(p), 'validation/error_rate', 'accumulated_submission_time')
  assert not any('timing account' in m for m in msgs)
