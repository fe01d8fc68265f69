"""Bootstrap intervals, rank stability, --compare_to, grouped warnings, --format=json."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from algoperf_like import scoring
from algoperf_like.scoring import bootstrap, plots, report
from algoperf_like.scoring.cli import main

try:
  from tests.scoring_trees import FIXTURES, write_targets, write_trial
except ImportError:  # tests/ not a package
  from scoring_trees import FIXTURES, write_targets, write_trial


def _score(root, targets, **kw):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', scoring.ScoringWarning)
    return scoring.score_directory(root, targets, scoring.ScoringOptions(**kw))


@pytest.fixture
def targets(tmp_path):
  return write_targets(
    tmp_path / 'targets.json',
    {'w': ('error_rate', 0.5), 'u': ('accuracy', 0.9)},
    version='0.5',
  )


def _write(root, sub, k, t, w_times, u_times):
  """One trial: reaches w's target at w_times[-1] and u's at u_times[-1]."""
  write_trial(root, sub, k, 'w_jax', t, w_times, [0.9] * (len(w_times) - 1) + [0.4])
  write_trial(
    root,
    sub,
    k,
    'u_jax',
    t,
    u_times,
    [0.5] * (len(u_times) - 1) + [0.95],
    metric='validation/accuracy',
  )


def test_identical_studies_give_zero_width_intervals(tmp_path, targets):
  root = tmp_path / 'logs'
  for k in range(5):
    for t in range(1, 6):  # identical trials too: resampling them changes nothing
      _write(root, 'a', k, t, [10, 100], [10, 200])
      _write(root, 'b', k, t, [10, 150], [10, 120])
  res = _score(root, targets, bootstrap_samples=300)
  s = res.scores.set_index('submission')
  assert (s['score_lo'] == s['score']).all() and (s['score_hi'] == s['score']).all()
  ci = res.intervals
  pd.testing.assert_frame_equal(ci.time_lo, res.times, check_names=False)
  pd.testing.assert_frame_equal(ci.time_hi, res.times, check_names=False)
  assert (s['rank_stability'] == 1.0).all()
  np.testing.assert_array_equal(ci.profile_lo.to_numpy(), res.profile.to_numpy())


def test_a_submission_that_always_wins_keeps_rank_1_with_probability_1(tmp_path, targets):
  root = tmp_path / 'logs'
  rng = np.random.default_rng(0)
  for sub, scale in (('winner', 1.0), ('second', 3.0), ('third', 3.5)):
    for k in range(5):
      for t in range(1, 6):
        j = rng.uniform(0.8, 1.2)  # varies by study and trial, never overlapping
        _write(root, sub, k, t, [5, 100 * scale * j], [5, 200 * scale * j])
  res = _score(root, targets, bootstrap_samples=400, bootstrap_seed=3)
  s = res.scores.set_index('submission')
  assert s.loc['winner', 'rank'] == 1 and s.loc['winner', 'rank_stability'] == 1.0
  assert s.loc['winner', 'rank_lo'] == 1 and s.loc['winner', 'rank_hi'] == 1
  assert s.loc['winner', 'score_lo'] == s.loc['winner', 'score_hi'] == 1.0
  # second and third overlap: their intervals have width and their ranks can swap
  assert s.loc['second', 'score_hi'] > s.loc['second', 'score_lo']
  assert s.loc['second', 'rank_stability'] < 1.0
  assert s.loc['second', 'rank_stability'] + s.loc['third', 'rank_stability'] <= 2.0
  lo, hi = res.intervals.time_lo.loc['winner', 'w'], res.intervals.time_hi.loc['winner', 'w']
  assert lo <= res.times.loc['winner', 'w'] <= hi and lo < hi


def test_same_seed_same_intervals_other_seed_other_draws(tmp_path, targets):
  root = tmp_path / 'logs'
  rng = np.random.default_rng(1)
  for sub in ('a', 'b'):
    for k in range(3):
      for t in range(1, 4):
        _write(root, sub, k, t, [5, rng.uniform(50, 150)], [5, rng.uniform(50, 150)])
  one = _score(root, targets, bootstrap_samples=200, bootstrap_seed=7).intervals
  two = _score(root, targets, bootstrap_samples=200, bootstrap_seed=7).intervals
  other = _score(root, targets, bootstrap_samples=200, bootstrap_seed=8).intervals
  np.testing.assert_array_equal(one.score_samples, two.score_samples)
  assert not np.array_equal(one.score_samples, other.score_samples)
  # a third submission does not change the draws of the others
  for k in range(3):
    _write(root, 'c', k, 1, [5, 400], [5, 400])
  more = _score(root, targets, bootstrap_samples=200, bootstrap_seed=7).intervals
  pd.testing.assert_frame_equal(more.raw_lo.loc[['a', 'b']], one.raw_lo)
  pd.testing.assert_frame_equal(more.raw_hi.loc[['a', 'b']], one.raw_hi)


def test_array_rules_agree_with_the_table_rules_on_v05_logs():
  """The bootstrap's vectorized rule 4-7 code, fed the observed data, gives the scores."""
  logs = FIXTURES / 'algoperf_logs' / 'v05' / 'self_tuning'
  res = _score(logs, FIXTURES / 'workload_targets_v05.json', self_tuning=True, bootstrap_samples=0)
  t = res.targets
  cols = list(dict.fromkeys(list(t.base) + list(t.held_out)))
  raw = res.raw_times.reindex(columns=cols).to_numpy(dtype=float)[None]
  final = bootstrap._cut_and_heldout(raw, cols, list(t.base), list(t.held_out), t.base_of, 4.0)
  np.testing.assert_array_equal(final[0], res.times.to_numpy(dtype=float))
  taus = np.asarray(res.profile.columns, dtype=float)
  prof, score = bootstrap.scores_of(final, len(t.base), taus, 'trapezoid', 4.0)
  np.testing.assert_allclose(prof[0], res.profile.to_numpy(), rtol=0, atol=0)
  by_sub = res.scores.set_index('submission')['score'].reindex(res.times.index)
  np.testing.assert_allclose(score[0], by_sub.to_numpy(), rtol=1e-12)


def _cli(root, targets, out, *extra):
  return main(
    [f'--submission_directory={root}', f'--workload_targets={targets}', f'--output_dir={out}']
    + list(extra)
  )


def test_compare_to_reports_new_removed_and_changed(tmp_path, targets, capsys):
  root = tmp_path / 'logs'
  for k in range(3):
    _write(root, 'a', k, 1, [10, 100], [10, 100])
    _write(root, 'b', k, 1, [10, 150], [10, 120])
    _write(root, 'gone', k, 1, [10, 390], [10, 390])
  assert _cli(root, targets, tmp_path / 'before', '--quiet', '--bootstrap_samples=100') == 0
  import shutil

  shutil.rmtree(root / 'gone')
  for k in range(3):
    _write(root, 'new', k, 1, [10, 50], [10, 60])  # fastest everywhere now
  capsys.readouterr()
  rc = _cli(
    root,
    targets,
    tmp_path / 'after',
    f'--compare_to={tmp_path / "before"}',
    '--bootstrap_samples=100',
  )
  assert rc == 0
  printed = capsys.readouterr().out
  diff = pd.read_csv(tmp_path / 'after' / 'diff.csv').set_index('submission')
  assert diff.loc['new', 'change'] == 'new' and diff.loc['gone', 'change'] == 'removed'
  assert diff.loc['a', 'change'] == 'changed'
  assert diff.loc['a', 'rank_before'] == 1 and diff.loc['a', 'rank_after'] == 2
  assert diff.loc['a', 'score_delta'] < 0
  # identical studies: zero-width interval, so the earlier score lies outside it
  assert bool(diff.loc['a', 'outside_interval']) is True
  md = (tmp_path / 'after' / 'diff.md').read_text()
  assert md.startswith('**Scoring compared with') and '1 new, 1 removed' in md
  assert '| new | new |' in md and '| gone | removed |' in md and '**yes**' in md
  assert md.splitlines()[0] in printed


def test_format_json_prints_scores_with_intervals(tmp_path, targets, capsys):
  root = tmp_path / 'logs'
  for k in range(3):
    _write(root, 'a', k, 1, [10, 100], [10, 100])
    _write(root, 'b', k, 1, [10, 150], [10, 120])
  capsys.readouterr()
  assert _cli(root, targets, tmp_path / 'o', '--format=json', '--bootstrap_samples=50') == 0
  doc = json.loads(capsys.readouterr().out)
  assert doc['bootstrap']['samples'] == 50 and doc['bootstrap']['seed'] == 0
  assert [r['submission'] for r in doc['scores']] == ['a', 'b']
  assert {'rank', 'score', 'score_lo', 'score_hi', 'rank_stability'} <= set(doc['scores'][0])


def test_warnings_grouped_one_line_per_kind_every_path_in_file(tmp_path, targets, capsys):
  root = tmp_path / 'logs'
  for k in range(3):  # v0.5 targets: 5 studies expected
    for s in ('a', 'b', 'c', 'd'):
      _write(root, s, k, 1, [10, 100], [10, 200])
      (root / s / f'study_{k}' / 'w_jax' / 'trial_2').mkdir()  # no eval_measurements.csv
  capsys.readouterr()
  assert _cli(root, targets, tmp_path / 'o', '--bootstrap_samples=0') == 0
  err = capsys.readouterr().err.splitlines()
  kinds = [line for line in err if line.startswith('warning:')]
  assert len(kinds) == len(set(kinds)) and len(kinds) <= 4
  studies = [line for line in kinds if 'expected N studies' in line]
  assert len(studies) == 1 and studies[0].startswith('warning: 8 x ')  # 4 subs x 2 workloads
  assert 'expected 5 studies, found 3' in studies[0]
  text = (tmp_path / 'o' / 'warnings.txt').read_text()
  for s in ('a', 'b', 'c', 'd'):
    for k in range(3):
      assert str(root / s / f'study_{k}' / 'w_jax' / 'trial_2') in text


def test_not_reached_in_human_tables_inf_in_machine_tables(tmp_path, targets):
  root = tmp_path / 'logs'
  for k in range(3):
    _write(root, 'a', k, 1, [10, 100], [10, 100])
    write_trial(root, 'b', k, 'w_jax', 1, [10, 100], [0.9, 0.8])  # never reaches
    write_trial(root, 'b', k, 'u_jax', 1, [10, 100], [0.5, 0.95], metric='validation/accuracy')
  assert _cli(root, targets, tmp_path / 'o', '--quiet', '--bootstrap_samples=20') == 0
  md = (tmp_path / 'o' / 'leaderboard.md').read_text()
  assert 'not reached' in md and '| inf' not in md and ' inf ' not in md
  assert pd.read_csv(tmp_path / 'o' / 'time_to_target.csv', index_col=0).loc['b', 'w'] == np.inf
  html = (tmp_path / 'o' / 'report.html').read_text()
  assert '>not reached<' in html and '>inf<' not in html


def test_twenty_submissions_get_twenty_styles():
  names = [f'sub_{i:02d}' for i in range(20)]
  st = plots.submission_styles(reversed(names))
  pairs = {(v['color'], v['linestyle']) for v in st.values()}
  assert len(pairs) == 20
  assert st['sub_00']['color'] == st['sub_10']['color']
  assert st['sub_00']['linestyle'] != st['sub_10']['linestyle']


def test_warning_kind_blanks_names_and_numbers():
  a = report.warning_kind('x/study_1/w: expected 5 trials, found 4')
  b = report.warning_kind('y/study_2/u: expected 5 trials, found 1')
  assert a == b == '… expected N trials, found N'


def test_profile_figure_files_without_matplotlib(tmp_path, targets):
  root = tmp_path / 'logs'
  for k in range(3):
    _write(root, 'a', k, 1, [10, 100], [10, 100])
    _write(root, 'b', k, 1, [10, 150], [10, 120])
  assert _cli(root, targets, tmp_path / 'o', '--quiet', '--bootstrap_samples=20') == 0
  png = (tmp_path / 'o' / 'performance_profile.png').read_bytes()
  pdf = (tmp_path / 'o' / 'performance_profile.pdf').read_bytes()
  assert png[:8] == b'\x89PNG\r\n\x1a\n'
  assert pdf.startswith(b'%PDF-1.4') and pdf.rstrip().endswith(b'%%EOF')
  xref = int(pdf.rsplit(b'startxref', 1)[1].split()[0])
  assert pdf[xref : xref + 4] == b'xref'  # the offset table is where the trailer says
  import io

  from PIL import Image

  assert Image.open(io.BytesIO(png)).size == (1050, 480)
  html = (tmp_path / 'o' / 'report.html').read_text()
  assert 'a (1.0000) [1.000, 1.000]' in html  # legend: score and its interval


def test_dash_pattern_splits_a_line():
  from algoperf_like.scoring.canvas import _dashed

  pieces = _dashed([(0.0, 0.0), (20.0, 0.0)], [6.0, 3.0])
  assert [(p[0][0], p[-1][0]) for p in pieces] == [(0.0, 6.0), (9.0, 15.0), (18.0, 20.0)]


def test_default_command_does_not_import_matplotlib(tmp_path, targets):
  import subprocess
  import sys

  root = tmp_path / 'logs'
  for k in range(3):
    _write(root, 'a', k, 1, [10, 100], [10, 100])
  code = (
    'import sys; from algoperf_like.scoring.cli import main; '
    f'rc = main(["--submission_directory={root}", "--workload_targets={targets}", '
    f'"--output_dir={tmp_path / "o"}", "--quiet"]); '
    "assert rc == 0 and 'matplotlib' not in sys.modules, rc"
  )
  subprocess.run([sys.executable, '-c', code], check=True)
