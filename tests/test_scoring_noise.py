"""The noise analysis, pinned hardware and --exclude_compile_time, on hand-made trees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from algoperf_like.scoring import noise
from algoperf_like.scoring.cli import main as score_main
from algoperf_like.scoring.errors import ScoringError
from algoperf_like.scoring.pipeline import ScoringOptions, score_directory

try:
  from tests.scoring_trees import write_targets, write_trial
except ImportError:  # tests/ not a package
  from scoring_trees import write_targets, write_trial


def _noise_tree(tmp_path, times):
  """``times[sub][workload]``: (seeds, repeats) times to target (None: a miss)."""
  targets = write_targets(
    tmp_path / 'targets.json', {'w': ('error_rate', 0.5), 'u': ('error_rate', 0.5)}
  )
  root = tmp_path / 'logs'
  for sub, by_wl in times.items():
    for wl, grid in by_wl.items():
      for s, row in enumerate(grid):
        for r, t in enumerate(row):
          # A first eval above the target, then the eval that reaches it (or not).
          hit = 0.4 if t is not None else 0.9
          write_trial(root, sub, s, f'{wl}_jax', r + 1, [0.5, t or 50.0], [0.9, hit])
  return root, targets


def test_machine_and_training_noise_are_the_stated_formulas(tmp_path):
  a = [[10.0, 11.0, 12.0], [20.0, 20.0, 22.0], [15.0, 16.0, None]]
  b = [[30.0, 30.5, 31.0], [29.0, 29.5, 30.0], [31.0, 31.0, 31.0]]
  root, targets = _noise_tree(tmp_path, {'a': {'w': a}, 'b': {'w': b}})
  res = noise.analyse_directory(str(root), targets, samples=200, max_studies=5)
  row = res.per_submission.set_index('submission').loc['a']
  hit = [[10, 11, 12], [20, 20, 22], [15, 16]]
  flat = np.concatenate(hit)
  assert row['reached'] == 8 and row['runs'] == 9
  assert row['fraction_reached'] == pytest.approx(8 / 9)
  assert row['mean_s'] == pytest.approx(flat.mean())
  machine = np.sqrt(np.mean([np.var(x, ddof=1) for x in hit]))
  assert row['machine_sd_s'] == pytest.approx(machine)
  assert row['machine_cv'] == pytest.approx(machine / flat.mean())
  assert row['machine_range_max_s'] == pytest.approx(2.0)
  assert row['seed_sd_s'] == pytest.approx(np.std([np.mean(x) for x in hit], ddof=1))
  assert row['sd_s'] == pytest.approx(np.std(flat, ddof=1))
  wl = res.per_workload.set_index('workload').loc['w']
  b_flat = np.concatenate(b)
  gap = b_flat.mean() - flat.mean()
  sd = np.sqrt((np.var(flat, ddof=1) + np.var(b_flat, ddof=1)) / 2)
  assert wl['fastest'] == 'a'
  assert wl['gap_s'] == pytest.approx(gap)
  assert wl['snr'] == pytest.approx(gap / sd)


def test_clearly_apart_submissions_separate_with_one_study(tmp_path):
  fast = [[1.0, 1.1], [1.2, 1.0]]
  slow = [[5.0, 5.2], [5.1, 5.3]]
  root, targets = _noise_tree(
    tmp_path, {'fast': {'w': fast, 'u': fast}, 'slow': {'w': slow, 'u': slow}}
  )
  res = noise.analyse_directory(str(root), targets, samples=300, max_studies=4)
  need = res.studies_needed.iloc[0]
  assert (need['a'], need['b'], need['studies_needed']) == ('fast', 'slow', 1)
  first = res.separation.iloc[0]
  assert first['diff_lo'] > 0 and first['separated']


def test_identical_submissions_never_separate(tmp_path):
  grid = [[1.0, 2.0], [3.0, 1.5]]
  root, targets = _noise_tree(tmp_path, {'a': {'w': grid}, 'b': {'w': grid}})
  res = noise.analyse_directory(str(root), targets, samples=300, max_studies=6)
  need = res.studies_needed.iloc[0]
  assert need['studies_needed'] is None or np.isnan(need['studies_needed'])
  assert need['label'] == '>6'
  assert len(res.separation) == 6  # Every count up to the maximum was tried.


def test_overlapping_submissions_need_more_studies_than_distant_ones(tmp_path):
  rng = np.random.default_rng(0)
  a = (10 + rng.normal(0, 3, (4, 3))).round(2).tolist()
  b = (15 + rng.normal(0, 3, (4, 3))).round(2).tolist()
  root, targets = _noise_tree(tmp_path, {'a': {'w': a}, 'b': {'w': b}})
  res = noise.analyse_directory(str(root), targets, samples=400, max_studies=30)
  n = res.studies_needed.iloc[0]['studies_needed']
  assert n is not None and n > 1
  sep = res.separation
  # Before the answer, every interval straddles 0; at it, it does not.
  assert not sep[sep['studies'] < n]['separated'].any()
  assert sep[sep['studies'] == n]['separated'].all()


def test_a_submission_that_never_reaches_is_left_out_of_the_snr(tmp_path):
  root, targets = _noise_tree(
    tmp_path, {'a': {'w': [[1.0, 1.2]]}, 'b': {'w': [[None, None]]}, 'c': {'w': [[2.0, 2.4]]}}
  )
  res = noise.analyse_directory(str(root), targets, samples=100, max_studies=2)
  wl = res.per_workload.iloc[0]
  assert 'b' in wl['note'] and wl['gap_s'] == pytest.approx(2.2 - 1.1)
  b = res.per_submission.set_index('submission').loc['b']
  assert b['fraction_reached'] == 0 and np.isnan(b['mean_s'])


def test_report_is_written_with_its_command_and_load(tmp_path):
  root, targets = _noise_tree(tmp_path, {'a': {'w': [[1.0, 1.1]]}, 'b': {'w': [[2.0, 2.1]]}})
  (root / noise.CONDITIONS_FILE).write_text(
    json.dumps({'load_1m': 1.5, 'cpu_count': 2, 'nice': 10, 'wall_clock_s': 3.0}) + '\n'
  )
  res = noise.analyse_directory(str(root), targets, samples=100, max_studies=2)
  assert res.warnings == []  # The conditions file is the harness's, not a stray file.
  path = noise.write_report(res, str(tmp_path / 'report'), 'make noise-report')
  text = open(path).read()
  assert '`make noise-report`' in text and 'mean 1.50' in text and 'nice 10' in text
  assert (tmp_path / 'report' / 'times.png').stat().st_size > 1000
  assert (tmp_path / 'report' / 'separation.png').stat().st_size > 1000


def _meta(trial_csv, **keys):
  (trial_csv.parent / 'meta_data_0.json').write_text(json.dumps(keys))


def _two_machine_tree(tmp_path):
  targets = write_targets(tmp_path / 'targets.json', {'w': ('error_rate', 0.5)})
  root = tmp_path / 'logs'
  a = write_trial(root, 'a', 0, 'w_jax', 1, [1, 2], [0.9, 0.4])
  b = write_trial(root, 'b', 0, 'w_jax', 1, [1, 3], [0.9, 0.4])
  _meta(a, **{'device.platform': 'cpu', 'cpu.model': 'Xeon A', 'cpu.count': 2})
  _meta(b, gpu_model_name='Tesla V100-SXM2-16GB', gpu_count=8)
  return root, targets


def test_scoring_refuses_trials_from_different_hardware_classes(tmp_path, capsys):
  root, targets = _two_machine_tree(tmp_path)
  opts = ScoringOptions(bootstrap_samples=0, expected_studies=None, expected_trials=1)
  with pytest.raises(ScoringError, match='different hardware classes') as e:
    score_directory(root, targets, opts)
  assert 'cpu: Xeon A x2 (a)' in str(e.value) and 'gpu: Tesla V100-SXM2-16GB x8 (b)' in str(e.value)
  rc = score_main([f'--submission_directory={root}', f'--output_dir={tmp_path / "o"}',
                   f'--workload_targets={targets}'])  # fmt: skip
  err = capsys.readouterr().err
  assert rc == 2 and len(err.strip().splitlines()) == 1 and '--allow_mixed_hardware' in err


def test_mixed_hardware_when_allowed_is_flagged(tmp_path):
  root, targets = _two_machine_tree(tmp_path)
  opts = ScoringOptions(
    bootstrap_samples=0, expected_studies=None, expected_trials=1, allow_mixed_hardware=True
  )
  res = score_directory(root, targets, opts)
  assert any(w.startswith('mixed hardware (allowed)') for w in res.warnings)
  assert set(res.hardware['hardware_class']) == {'cpu: Xeon A x2', 'gpu: Tesla V100-SXM2-16GB x8'}


def test_unknown_hardware_is_not_refused_but_counted_beside_known(tmp_path):
  targets = write_targets(tmp_path / 'targets.json', {'w': ('error_rate', 0.5)})
  root = tmp_path / 'logs'
  a = write_trial(root, 'a', 0, 'w_jax', 1, [1, 2], [0.9, 0.4])
  write_trial(root, 'b', 0, 'w_jax', 1, [1, 3], [0.9, 0.4])
  _meta(a, hardware_class='cpu: Xeon A x2')
  opts = ScoringOptions(bootstrap_samples=0, expected_studies=None, expected_trials=1)
  res = score_directory(root, targets, opts)
  assert '1 trial(s) record no hardware class (not checked against cpu: Xeon A x2)' in res.warnings
  assert set(res.hardware['hardware_class']) == {'cpu: Xeon A x2', 'unknown'}


def test_exclude_compile_time_subtracts_the_submissions_compile_seconds(tmp_path):
  targets = write_targets(tmp_path / 'targets.json', {'w': ('error_rate', 0.5)})
  root = tmp_path / 'logs'
  a = write_trial(root, 'a', 0, 'w_jax', 1, [3.0, 10.0], [0.9, 0.4])
  write_trial(root, 'b', 0, 'w_jax', 1, [3.0, 12.0], [0.9, 0.4])  # No compile record.
  record = {'submission_compile_s_at_eval': [2.0, 2.5], 'resumed': False}
  (a.parent / 'trial_summary.json').write_text(json.dumps({'compile_time': record}))
  opts = dict(bootstrap_samples=0, expected_studies=None, expected_trials=1)
  with_compile = score_directory(root, targets, ScoringOptions(**opts))
  without = score_directory(root, targets, ScoringOptions(exclude_compile_time=True, **opts))
  t = lambda res, s: res.raw_times.loc[s, 'w']  # noqa: E731
  assert (t(with_compile, 'a'), t(with_compile, 'b')) == (10.0, 12.0)
  assert (t(without, 'a'), t(without, 'b')) == (7.5, 12.0)
  assert any('1 of 2 trial(s) have no per-eval compile record' in w for w in without.warnings)


def test_compile_shares_read_the_runners_record(tmp_path):
  from algoperf_like.scoring.compile_time import compile_shares, shares_markdown

  d = tmp_path / 'sub' / 'study_0' / 'w_jax' / 'trial_1'
  d.mkdir(parents=True)
  record = {'submission_compile_s_at_target': 1.0, 'submission_compile_s': 1.5,
            'setup_compile_s': 2.0, 'eval_compile_s': 0.5}  # fmt: skip
  summary = {'status': 'target_reached', 'time_to_target': 4.0, 'compile_time': record}
  (d / 'trial_summary.json').write_text(json.dumps(summary))
  df = compile_shares(str(tmp_path))
  assert df.iloc[0][['submission', 'workload', 'compile_s', 'share']].tolist() == [
    'sub',
    'w',
    1.0,
    0.25,
  ]
  assert '| w | sub | target_reached | 4.00 | 1.00 | 25.0% |' in shares_markdown(df)


def test_normalise_to_reference_scales_each_trial_by_its_calibration(tmp_path):
  targets = write_targets(tmp_path / 'targets.json', {'w': ('error_rate', 0.5)})
  root = tmp_path / 'logs'
  a = write_trial(root, 'a', 0, 'w_jax', 1, [3.0, 10.0], [0.9, 0.4])
  write_trial(root, 'b', 0, 'w_jax', 1, [3.0, 12.0], [0.9, 0.4])
  (a.parent / 'calibration.json').write_text(json.dumps({'seconds': 0.5}))  # 2x the reference.
  (root / 'calibration.json').write_text(json.dumps({'seconds': 2.0}))  # Half its speed.
  ref = tmp_path / 'ref.json'
  ref.write_text(json.dumps({'seconds': 1.0}))
  opts = dict(bootstrap_samples=0, expected_studies=None, expected_trials=1)
  res = score_directory(root, targets, ScoringOptions(normalise_to_reference=str(ref), **opts))
  assert res.raw_times.loc['a', 'w'] == 20.0 and res.raw_times.loc['b', 'w'] == 6.0
  assert any(w.startswith('times in reference-system seconds') for w in res.warnings)
  (root / 'calibration.json').unlink()
  with pytest.raises(ScoringError, match='1 trial.* have no calibration.json'):
    score_directory(root, targets, ScoringOptions(normalise_to_reference=str(ref), **opts))
