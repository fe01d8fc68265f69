"""Scoring speed: official-style reading vs ``scoring`` on a synthetic tree.

Builds, in a temporary directory, a tree shaped like the AlgoPerf v0.5
external-tuning logs (19 submissions x 3 studies x 14 workloads (8 base + 6
held-out) x 5 trials = 3,990 ``eval_measurements.csv`` with the column sets and
row counts of the real logs, plus the other files of a real trial directory:
~30,000 files), then times, in one run:

* "official-like": what ``scoring_utils.get_experiment_df`` + the official
  time-to-target code do: walk the tree, ``pandas.read_csv`` every whole file
  sequentially, one row of arrays per trial appended with ``pd.concat``, then
  time to target per trial / median per workload with ``Series.apply``.
* "ours": ``algoperf_like.scoring.read_logs`` + ``algoperf_like.scoring.score_logs`` (no rendering).

Both must produce the same median times to target.  The last line printed is
the ratio official/ours as a bare number.

Usage: ``python benchmarks/scoring_speed.py [--submissions 19] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from algoperf_like.scoring import (
  ScoringOptions,
  ScoringWarning,
  load_targets,
  read_logs,
  score_logs,
)

# workload -> (target metric, target, minimize, extra metrics, rows (typical eval count))
WORKLOADS = {
  'criteo1tb': ('loss', 0.123735, True, [], 60),
  'fastmri': ('ssim', 0.723653, False, ['loss'], 16),
  'imagenet_resnet': ('accuracy', 0.77431, False, ['loss'], 190),
  'imagenet_vit': ('accuracy', 0.77309, False, ['loss'], 150),
  'librispeech_conformer': ('wer', 0.085884, True, ['ctc_loss'], 60),
  'librispeech_deepspeech': ('wer', 0.119936, True, ['ctc_loss'], 40),
  'ogbg': ('mean_average_precision', 0.28098, False, ['loss', 'accuracy'], 17),
  'wmt': ('bleu', 30.8491, False, ['loss', 'accuracy'], 34),
  'criteo1tb_embed_init': ('loss', 0.129657, True, [], 60),
  'fastmri_tanh': ('ssim', 0.71784, False, ['loss'], 16),
  'imagenet_resnet_large_bn_init': ('accuracy', 0.76526, False, ['loss'], 190),
  'librispeech_conformer_layernorm': ('wer', 0.09731, True, ['ctc_loss'], 60),
  'ogbg_model_size': ('mean_average_precision', 0.269446, False, ['loss', 'accuracy'], 17),
  'wmt_glu_tanh': ('bleu', 29.5779, False, ['loss', 'accuracy'], 34),
}
BASE = list(WORKLOADS)[:8]
HELD_OUT = list(WORKLOADS)[8:]


def _columns(metric: str, extra: list[str]) -> list[str]:
  ms = sorted([metric] + extra)
  cols = [
    'accumulated_eval_time',
    'accumulated_logging_time',
    'accumulated_submission_time',
    'global_step',
    'preemption_count',
    'score',
    'total_duration',
  ]
  for split in ('test', 'train', 'validation'):
    cols += [f'{split}/{m}' for m in ms]
    if split != 'train':
      cols.append(f'{split}/num_examples')
  return sorted(cols)


def build_tree(root: Path, n_sub: int, rng: np.random.Generator) -> tuple[int, int]:
  """Write the synthetic tree; returns (number of files, number of eval CSVs)."""
  n_files = n_csv = 0
  for s in range(n_sub):
    for k in range(3):
      for w, (metric, target, minimize, extra, rows) in WORKLOADS.items():
        fw = 'jax' if s % 2 else 'pytorch'
        wdir = root / f'submission_{s:02d}' / f'study_{k}' / f'{w}_{fw}'
        wdir.mkdir(parents=True)
        (wdir / f'{w}_{fw}_03-06-2025-12-06-22.log').write_text('I0306 log line\n' * 50)
        n_files += 1
        cols = _columns(metric, extra)
        n = max(16, int(rows * rng.uniform(0.4, 1.1)))
        for t in range(1, 6):
          tdir = wdir / f'trial_{t}'
          tdir.mkdir()
          time_s = np.cumsum(rng.uniform(200, 400, n))
          data = rng.uniform(0, 1, (n, len(cols)))
          # first hit at a distinct eval index per trial (no ties, whose official
          # resolution depends on os.listdir order); ~15% of trials never hit
          hit = n if rng.uniform() < 0.15 else int(n * (0.35 + 0.12 * t))
          good = np.arange(n) >= hit
          sign = -1.0 if minimize else 1.0
          curve = target * (1 + sign * np.where(good, 1, -1) * rng.uniform(0.01, 0.2, n))
          for j, c in enumerate(cols):
            if c in ('accumulated_submission_time', 'score'):
              data[:, j] = time_s
            elif c == 'global_step':
              data[:, j] = np.arange(1, n + 1) * 971
            elif c == f'validation/{metric}':
              data[:, j] = curve
          body = '\n'.join(
            ','.join(
              repr(float(x)) if c != 'global_step' else str(int(x)) for c, x in zip(cols, row)
            )
            for row in data
          )
          (tdir / 'eval_measurements.csv').write_text(','.join(cols) + '\n' + body + '\n')
          (tdir / 'measurements.csv').write_text('global_step,train/loss\n1,0.5\n')
          (tdir / 'flags_0.json').write_text(json.dumps({'workload': w, 'framework': fw}))
          (tdir / 'meta_data_0.json').write_text(json.dumps({'workload.step_hint': 1000}))
          (tdir / 'hparams.json').write_text(json.dumps({'learning_rate': 1e-3}))
          (tdir / 'events.out.tfevents.1741262800.host.9.0.v2').write_bytes(b'\0' * 64)
          (tdir / 'checkpoint_1').write_bytes(b'\0' * 16)
          n_files += 7
          n_csv += 1
  return n_files, n_csv


def official_like(root: Path) -> pd.Series:
  """Imitation of the official reading + time-to-target code (see docstring)."""
  df = pd.DataFrame()
  for sub in sorted(os.listdir(root)):
    exp = os.path.join(root, sub)
    for study in os.listdir(exp):
      for wl in [
        w
        for w in os.listdir(os.path.join(exp, study))
        if os.path.isdir(os.path.join(exp, study, w))
      ]:
        data = {'workload': wl}
        for trial in [
          t for t in os.listdir(os.path.join(exp, study, wl)) if re.match(r'trial_(\d+)', t)
        ]:
          trial_df = pd.read_csv(os.path.join(exp, study, wl, trial, 'eval_measurements.csv'))
          data.update({'trial': trial, 'study': study, 'submission': sub})
          for c in trial_df.columns:
            data[c] = trial_df[c].to_numpy()
          df = pd.concat([df, pd.DataFrame([data])], ignore_index=True)
  out = {}
  for (sub, wl), group in df.groupby(['submission', 'workload']):
    name = re.sub(r'_(jax|pytorch)$', '', wl)
    metric, target, minimize, _, _ = WORKLOADS[name]
    per_study = []
    for _, g in group.groupby('study'):
      reached = g[f'validation/{metric}'].apply(
        lambda x: (x <= target) if minimize else (x >= target)
      )
      reached = reached[reached.apply(np.any)]
      if len(reached) == 0:
        per_study.append(np.inf)
        continue
      idx = reached.apply(np.argmax)
      trial = idx.idxmin()
      per_study.append(g['accumulated_submission_time'].loc[trial][idx[trial]])
    out[(sub, name)] = float(np.median(per_study))
  return pd.Series(out)


def ours(root: Path, targets_path: Path) -> pd.Series:
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', ScoringWarning)
    targets = load_targets(targets_path)
    res = score_logs(read_logs(root, targets), targets, ScoringOptions())
  return res.workloads.set_index(['submission', 'workload'])['time_to_target']


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--submissions', type=int, default=19)
  ap.add_argument('--repeats', type=int, default=2, help='best of N timings each')
  ap.add_argument('--keep', default=None, help='build the tree here and keep it')
  args = ap.parse_args(argv)
  tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix='scoring_speed_'))
  try:
    tmp.mkdir(parents=True, exist_ok=True)
    root = tmp / 'external_tuning'
    targets = tmp / 'targets.json'
    targets.write_text(
      json.dumps(
        {
          'benchmark_version': '0.5',
          'base_workloads': BASE,
          'held_out_workloads': HELD_OUT,
          'workloads': {
            w: {'target_metric_name': m, 'validation_target_value': v, 'step_hint': 1}
            for w, (m, v, *_r) in WORKLOADS.items()
          },
        }
      )
    )
    t0 = time.perf_counter()
    if not root.exists():
      n_files, n_csv = build_tree(root, args.submissions, np.random.default_rng(0))
      print(f'built {n_files} files ({n_csv} eval CSVs) in {time.perf_counter() - t0:.1f} s')
    for dirpath, _, names in os.walk(root):  # warm the page cache for both
      for nm in names:
        with open(os.path.join(dirpath, nm), 'rb') as fh:
          fh.read()
    t_off, t_ours = [], []
    for _ in range(args.repeats):
      t = time.perf_counter()
      a = official_like(root)
      t_off.append(time.perf_counter() - t)
      t = time.perf_counter()
      b = ours(root, targets)
      t_ours.append(time.perf_counter() - t)
    b = b.reindex(a.index)
    same = (
      np.allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-9, equal_nan=True)
      and (np.isinf(a.to_numpy()) == np.isinf(b.to_numpy())).all()
    )
    print(f'official-like (pandas.read_csv, all columns, sequential): {min(t_off):.3f} s')
    print(f'ours (pyarrow, 3 columns, threads):                       {min(t_ours):.3f} s')
    print(f'same median times to target: {same}')
    if not same:
      return 1
    print(f'{min(t_off) / min(t_ours):.1f}')
    return 0
  finally:
    if not args.keep:
      shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
  raise SystemExit(main())
