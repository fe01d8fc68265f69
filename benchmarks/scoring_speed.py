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


def _timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
  """Wall and CPU seconds (user + system of the child) of one command."""
  before = os.times()
  t = time.perf_counter()
  run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
  wall = time.perf_counter() - t
  after = os.times()
  cpu = (after.children_user - before.children_user) + (
    after.children_system - before.children_system
  )
  if run.returncode:
    raise SystemExit(run.stdout + run.stderr)
  return wall, cpu, run


def theirs(tree: Path, targets_path: Path, out: Path) -> tuple[float, float, pd.Series]:
  """AlgoPerf-like, in a fresh process as well (interpreter start and imports counted)."""
  wall, cpu, _ = _timed(
    [
      sys.executable,
      __file__,
      '--tree',
      str(tree),
      '--targets',
      str(targets_path),
      '--only_algoperf',
      str(out),
    ]
  )
  return wall, cpu, pd.read_json(out, typ='series')


def ours(tree: Path, targets_path: Path, out: Path) -> tuple[float, float, pd.Series]:
  cmd = [
    sys.executable,
    '-m',
    'algoperf_like.scoring',
    f'--submission_directory={tree}',
    f'--workload_targets={targets_path}',
    f'--output_dir={out}',
  ]
  wall, cpu, _ = _timed(cmd)
  for name in (
    'report.html',
    'performance_profile.png',
    'performance_profile.pdf',
    'leaderboard.md',
  ):
    assert (out / name).stat().st_size > 0, name
  return wall, cpu, pd.read_csv(out / 'scores.csv').set_index('submission')['score']


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--tree', type=Path, default=TREE)
  ap.add_argument('--targets', type=Path, default=TARGETS)
  ap.add_argument('--repeats', type=int, default=2, help='best of N timings each')
  ap.add_argument('--only_algoperf', type=Path, default=None, help=argparse.SUPPRESS)
  args = ap.parse_args(argv)
  if args.only_algoperf:  # the child process of theirs()
    algoperf_like(args.tree, args.targets).to_json(args.only_algoperf)
    return 0
  n_csv = sum(1 for _ in args.tree.rglob('eval_measurements.csv'))
  print(f'tree: {args.tree} ({n_csv} eval_measurements.csv); {os.cpu_count()} CPUs')
  rows = {'theirs': [], 'ours': []}
  with tempfile.TemporaryDirectory(prefix='scoring_speed_') as tmp:
    for i in range(args.repeats):
      print(f'run {i + 1}: load average {os.getloadavg()[0]:.1f}')
      w, c, a = theirs(args.tree, args.targets, Path(tmp) / f'algoperf{i}.json')
      rows['theirs'].append((w, c))
      w, c, b = ours(args.tree, args.targets, Path(tmp) / f'out{i}')
      rows['ours'].append((w, c))
  b = b.reindex(a.index)
  same = bool(np.array_equal(a.round(4).to_numpy(), b.round(4).to_numpy()))
  (tw, tc), (ow, oc) = min(rows['theirs']), min(rows['ours'])
  print(
    f'AlgoPerf-like (os.listdir, pandas.read_csv per file, no plots): {tw:.2f} s wall, {tc:.2f} s CPU'
  )
  print(
    f'algoperf-like score (whole command, every default output):     {ow:.2f} s wall, {oc:.2f} s CPU'
  )
  print(f'CPU-time ratio: {tc / oc:.1f}; same scores to 4 decimals: {same}')
  print(f'load average after: {os.getloadavg()[0]:.1f} (wall-clock ratio below)')
  if not same:
    print(pd.DataFrame({'algoperf': a, 'ours': b}))
    return 1
  print(f'{tw / ow:.1f}')
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
