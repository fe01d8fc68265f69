"""CLI, output files, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from algoperf_like.scoring.cli import main

try:
  from tests.scoring_trees import write_targets, write_trial
except ImportError:  # tests/ not a package
  from scoring_trees import write_targets, write_trial

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path):
  """Two submissions, two workloads, one held-out variant, 3 studies x 1 trial."""
  t = write_targets(
    tmp_path / 'targets.json',
    {
      'w': ('error_rate', 0.5, {'max_allowed_runtime_sec': 1000}),
      'w_var': ('error_rate', 0.5),
      'u': ('accuracy', 0.9, {'max_allowed_runtime_sec': 1000}),
    },
    base=['w', 'u'],
    held_out=['w_var'],
  )
  root = tmp_path / 'logs'
  for k in range(3):
    write_trial(root, 'fast', k, 'w_jax', 1, [10, 100], [0.9, 0.4])
    write_trial(root, 'fast', k, 'w_var_jax', 1, [10, 50], [0.9, 0.4])
    write_trial(root, 'fast', k, 'u_jax', 1, [10, 200], [0.5, 0.95], metric='validation/accuracy')
    write_trial(root, 'slow', k, 'w_jax', 1, [10, 250], [0.9, 0.4])
    write_trial(root, 'slow', k, 'w_var_jax', 1, [10, 50], [0.9, 0.6])  # misses held-out
    write_trial(root, 'slow', k, 'u_jax', 1, [10, 100], [0.5, 0.95], metric='validation/accuracy')
  return root, t


def test_cli_writes_every_output(tree, tmp_path, capsys):
  root, t = tree
  out = tmp_path / 'out'
  rc = main(
    [
      '--submission_directory',
      str(root),
      '--output_dir',
      str(out),
      '--workload_targets',
      str(t),
      '--reference',
      'slow',
    ]
  )
  assert rc == 0
  for name in [
    'scores.csv',
    'time_to_target_raw.csv',
    'time_to_target.csv',
    'studies.csv',
    'trials.csv',
    'speedups.csv',
    'performance_profile.png',
    'performance_profile.pdf',
    'leaderboard.md',
    'report.html',
  ]:
    assert (out / name).stat().st_size > 0, name
  scores = pd.read_csv(out / 'scores.csv').set_index('submission')
  # fast: w 100 (r=1), u 200 (r=2); slow: w missed via held-out rule, u 100 (r=1).
  # exact: fast (3 + 2)/6, slow 3/6; trapezoid: r=2 falls on no grid point
  # (k = 33 -> tau 2.0000000000000004 in float): fast = (1 + 67/99 + ~0)/2 within 1/198.
  assert scores.loc['fast', 'score_exact'] == pytest.approx(5 / 6)
  assert scores.loc['slow', 'score_exact'] == pytest.approx(0.5)
  assert scores.loc['fast', 'score'] == pytest.approx(5 / 6, abs=1 / 198)
  assert scores.loc['fast', 'rank'] == 1
  studies = pd.read_csv(out / 'studies.csv')
  assert set(studies.columns) >= {
    'submission',
    'workload',
    'study',
    'best_trial',
    'eval',
    'global_step',
    'time_to_target',
  }
  sp = pd.read_csv(out / 'speedups.csv').set_index('submission')
  # raw times vs slow: w 100/250, u 200/100 -> gmean sqrt(0.4 * 2)
  assert sp.loc['fast', 'time_ratio_gmean'] == pytest.approx((0.4 * 2) ** 0.5)
  md = (out / 'leaderboard.md').read_text()
  assert '| rank | submission | score |' in md and '| 1 | fast |' in md
  html = (out / 'report.html').read_text()
  # inline SVG: the profile, then one curve figure per workload; nothing fetched
  assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1 + 3
  without_svg_ns = html.replace('xmlns="http://www.w3.org/2000/svg"', '')
  assert '<script' not in html and 'http' not in without_svg_ns.split('<body>')[1]
  printed = capsys.readouterr().out
  assert 'Leaderboard' in printed and 'fast' in printed


def test_cli_options_docs_reading(tree, tmp_path):
  root, t = tree
  out = tmp_path / 'o2'
  assert (
    main(
      [
        '--submission_directory',
        str(root),
        '--output_dir',
        str(out),
        '--workload_targets',
        str(t),
        '--integral',
        'exact',
        '--no_heldout_rule',
        '--quiet',
      ]
    )
    == 0
  )
  s = pd.read_csv(out / 'scores.csv').set_index('submission')['score']
  # without the held-out rule slow keeps w (r=2.5): (1.5 + 3)/6
  assert s['slow'] == pytest.approx(4.5 / 6) and s['fast'] == pytest.approx(5 / 6)


def test_bad_input_exit_code_2_one_line(tmp_path, capsys):
  rc = main(
    ['--submission_directory', str(tmp_path / 'missing'), '--output_dir', str(tmp_path / 'o')]
  )
  err = capsys.readouterr().err
  assert rc == 2 and err.count('\n') == 1 and 'Traceback' not in err
  assert main(['--output_dir', 'x']) == 2
  assert 'required' in capsys.readouterr().err


def test_corrupt_csv_via_cli(tree, tmp_path, capsys):
  root, t = tree
  p = root / 'fast' / 'study_0' / 'w_jax' / 'trial_1' / 'eval_measurements.csv'
  p.write_text(p.read_text() + '1,2,3,4,5,6,7,8,9\n')
  rc = main(
    [
      '--submission_directory',
      str(root),
      '--output_dir',
      str(tmp_path / 'o'),
      '--workload_targets',
      str(t),
    ]
  )
  err = capsys.readouterr().err
  assert rc == 2 and err == f'error: corrupt CSV {p}:4: expected 8 fields, got 9\n'
  rc = main(
    [
      '--submission_directory',
      str(root),
      '--output_dir',
      str(tmp_path / 'o'),
      '--workload_targets',
      str(t),
      '--reference',
      'nobody',
    ]
  )
  assert rc == 2


def test_python_m_scoring_and_no_jax_import(tree, tmp_path):
  root, t = tree
  code = (
    'import algoperf_like.scoring, algoperf_like.scoring.cli, algoperf_like.scoring.report, '
    'algoperf_like.scoring.plots, sys; '
    "bad = [m for m in ('jax', 'tensorflow', 'flax', 'torch') if m in sys.modules]; "
    'assert not bad, bad; '
    "assert not any(m.startswith('algoperf_like.workloads') for m in sys.modules)"
  )
  subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True)
  run = subprocess.run(
    [
      sys.executable,
      '-m',
      'algoperf_like.scoring',
      '--submission_directory',
      str(root),
      '--output_dir',
      str(tmp_path / 'm'),
      '--workload_targets',
      str(t),
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
  )
  assert run.returncode == 0, run.stderr
  assert (tmp_path / 'm' / 'report.html').is_file()


def test_rendering_leaves_global_matplotlib_state_alone(tree, tmp_path):
  import matplotlib

  root, t = tree
  before = dict(matplotlib.rcParams)
  backend = matplotlib.get_backend()
  assert (
    main(
      [
        '--submission_directory',
        str(root),
        '--output_dir',
        str(tmp_path / 'o'),
        '--workload_targets',
        str(t),
        '--quiet',
      ]
    )
    == 0
  )
  assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend


def test_report_dir_holds_a_markdown_report_with_its_plots(tree, tmp_path):
  root, t = tree
  report = tmp_path / 'docs' / 'study'
  rc = main(
    [
      '--submission_directory',
      str(root),
      '--output_dir',
      str(tmp_path / 'out'),
      '--workload_targets',
      str(t),
      '--reference',
      'slow',
      '--quiet',
      '--report_dir',
      str(report),
      '--report_title',
      'A study',
      '--report_command',
      'make a-study',
    ]
  )
  assert rc == 0
  text = (report / 'README.md').read_text()
  assert text.startswith('# A study\n') and '```bash\nmake a-study\n```' in text
  leaderboard = text.split('## Leaderboard')[1].split('##')[0]
  assert '| 1 | fast |' in leaderboard and '| 2 | slow |' in leaderboard
  images = [line[line.index('(') + 1 : -1] for line in text.splitlines() if line.startswith('![')]
  assert sorted(images) == [
    'curves_u.png',
    'curves_w.png',
    'curves_w_var.png',
    'performance_profile.png',
  ]
  for name in images:
    assert (report / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
