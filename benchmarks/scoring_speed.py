"""Scoring speed on the real v0.5 external-tuning logs: AlgoPerf's way vs ``algoperf-like score``.

Times, side by side in one run (best of ``--repeats``, alternating):

* "AlgoPerf-like": a re-implementation of what the official scorer
  (``submissions_algorithms/scoring/score_submissions.py``) does to get the
  scores: ``scoring_utils.get_experiment_df`` per submission (``os.listdir`` the
  tree, ``pandas.read_csv`` every whole ``eval_measurements.csv``, one row of
  arrays per trial appended with ``pd.concat``), then
  ``performance_profile.get_workloads_time_to_target`` (``Series.apply`` per
  study, best trial by ``argmax``/``idxmin``, median over studies),
  ``compute_performance_profiles`` (held-out rule, 4x cut, ratios, rho on
  ``linspace(1, 4, 100)``) and the trapezoid score.  It renders nothing, so the
  comparison leaves out the official plots and summary tables (in its favour).
* "algoperf-like score": the whole command in a fresh process
  (``python -m algoperf_like.scoring``), interpreter start and imports included,
  with every default output: CSV tables, the profile PNG and PDF, leaderboard.md,
  report.html with a curve figure per workload, bootstrap intervals (1,000
  resamples) and the terminal tables.

Both must give the same scores to 4 decimals.  The last line printed is the
ratio AlgoPerf-like / ours as a bare number.

Usage: ``python benchmarks/scoring_speed.py [--tree DIR --targets FILE] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / 'shared' / 'fixtures'
TREE = FIXTURES / 'algoperf_logs' / 'v05' / 'external_tuning'
TARGETS = FIXTURES / 'workload_targets_v05.json'
TIMESTAMP = r'-\d{4}(-\d{2}){5}'
MINIMIZED = {'loss', 'error_rate', 'wer', 'ctc_loss', 'l1_loss', 'ppl', 'ce_loss'}


def read_experiment(experiment_dir: str) -> pd.DataFrame:
  """``get_experiment_df``: one row per trial, each metric column an array."""
  df = pd.DataFrame()
  paths = [
    p
    for p in glob.glob(f'{experiment_dir}*')
    if re.match(experiment_dir + TIMESTAMP, p) or p == experiment_dir
  ]
  for exp in paths:
    for study in os.listdir(exp):
      wls = [
        w
        for w in os.listdir(os.path.join(exp, study))
        if os.path.isdir(os.path.join(exp, study, w))
      ]
      for wl in wls:
        data = {'workload': wl}
        trials = [
          t for t in os.listdir(os.path.join(exp, study, wl)) if re.match(r'trial_(\d+)', t)
        ]
        for trial in trials:
          path = os.path.join(exp, study, wl, trial, 'eval_measurements.csv')
          try:
            trial_df = pd.read_csv(path)
          except FileNotFoundError:
            continue
          data['trial'] = (trial, exp)
          data['study'] = study
          for c in trial_df.columns:
            data[c] = trial_df[c].to_numpy()
          df = pd.concat([df, pd.DataFrame([data])], ignore_index=True)
  return df


def times_to_target(df: pd.DataFrame, name: str, targets: dict, time_col: str) -> pd.DataFrame:
  """``get_workloads_time_to_target``: median over studies of the best trial's time."""
  rows = []
  for workload, group in df.groupby('workload'):
    base = re.sub(r'_(jax|pytorch)$', '', workload)
    spec = targets['workloads'][base]
    metric, target = f'validation/{spec["target_metric_name"]}', spec['validation_target_value']
    minimize = spec['target_metric_name'] in MINIMIZED
    per_study = []
    for _, g in group.groupby('study'):
      reached = g[metric].apply(lambda x: (x <= target) if minimize else (x >= target))
      reached = reached[reached.apply(np.any)]
      if len(reached) == 0:
        per_study.append(float('inf'))
        continue
      idx = reached.apply(np.argmax)
      trial = idx.idxmin()
      per_study.append(g[time_col].loc[trial][idx[trial]])
    rows.append({'submission': name, 'workload': base, time_col: np.median(per_study)})
  return pd.DataFrame.from_records(rows).pivot(
    index='submission', columns='workload', values=time_col
  )


def base_name(targets: dict, workload: str) -> str:
  return next((b for b in targets['base_workloads'] if b in workload), workload)


def scores(dfs: list[pd.DataFrame], targets: dict) -> pd.Series:
  """``compute_performance_profiles`` + ``compute_leaderboard_score`` (trapezoid)."""
  base, held = list(targets['base_workloads']), list(targets['held_out_workloads'])
  df = pd.concat(dfs)
  if held:
    df = df.reindex(columns=base + held)
  df = df.reindex(sorted(df.columns), axis=1)
  for w in df.columns:
    if w not in base:
      b = base_name(targets, w)
      df[w] = np.where(~np.isfinite(df[b].to_numpy(dtype=float)), np.inf, df[w])
  best = df.min(axis=0)
  df[df.apply(lambda x: x > 4 * best, axis=1)] = np.inf
  for w in df.columns:
    if w not in base:
      b = base_name(targets, w)
      df[b] = np.where(~np.isfinite(df[w].to_numpy(dtype=float)), np.inf, df[b])
  df = df[base]
  df.update(df.div(df.min(axis=0), axis=1))
  taus = np.linspace(1.0, 4.0, num=100)
  prof = pd.concat([(df <= t).sum(axis=1) / len(base) for t in taus], axis=1)
  return pd.Series(np.trapezoid(prof.to_numpy(dtype=float), x=taus, axis=1) / 3.0, index=prof.index)


def algoperf_like(tree: Path, targets_path: Path) -> pd.Series:
  targets = json.loads(Path(targets_path).read_text())
  dfs = []
  for sub in os.listdir(tree):
    exp = read_experiment(os.path.join(str(tree), sub))
    dfs.append(times_to_target(exp, sub, targets, 'score'))
  return scores(dfs, targets)


def ours(tree: Path, targets_path: Path, out: Path) -> pd.Series:
  cmd = [
    sys.executable,
    '-m',
    'algoperf_like.scoring',
    f'--submission_directory={tree}',
    f'--workload_targets={targets_path}',
    f'--output_dir={out}',
  ]
  run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
  if run.returncode:
    raise SystemExit(run.stderr)
  for name in (
    'report.html',
    'performance_profile.png',
    'performance_profile.pdf',
    'leaderboard.md',
  ):
    assert (out / name).stat().st_size > 0, name
  return pd.read_csv(out / 'scores.csv').set_index('submission')['score']


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--tree', type=Path, default=TREE)
  ap.add_argument('--targets', type=Path, default=TARGETS)
  ap.add_argument('--repeats', type=int, default=2, help='best of N timings each')
  args = ap.parse_args(argv)
  n_csv = sum(1 for _ in args.tree.glob('*/study_*/*/trial_*/eval_measurements.csv'))
  print(f'tree: {args.tree} ({n_csv} eval_measurements.csv); load average {os.getloadavg()[0]:.1f}')
  t_off, t_ours = [], []
  with tempfile.TemporaryDirectory(prefix='scoring_speed_') as tmp:
    for i in range(args.repeats):
      t = time.perf_counter()
      a = algoperf_like(args.tree, args.targets)
      t_off.append(time.perf_counter() - t)
      t = time.perf_counter()
      b = ours(args.tree, args.targets, Path(tmp) / f'out{i}')
      t_ours.append(time.perf_counter() - t)
  b = b.reindex(a.index)
  same = bool(np.array_equal(a.round(4).to_numpy(), b.round(4).to_numpy()))
  print(f'AlgoPerf-like (os.listdir, pandas.read_csv per file, no plots): {min(t_off):.2f} s')
  print(f'algoperf-like score (whole command, every default output):     {min(t_ours):.2f} s')
  print(f'same scores to 4 decimals: {same}; load average {os.getloadavg()[0]:.1f}')
  if not same:
    print(pd.DataFrame({'algoperf': a, 'ours': b}))
    return 1
  print(f'{min(t_off) / min(t_ours):.1f}')
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
