"""Time to target without compilation (``score --exclude_compile_time``).

Compilation is submission time under AlgoPerf's rules, and stays so in the
default score. This project's runner also records, per evaluation, the compile
seconds spent in the submission's calls up to that evaluation
(``trial_summary.json`` ``compile_time.submission_compile_s_at_eval``, see
:mod:`algoperf_like.compile_time`); subtracting them from each eval's
``accumulated_submission_time`` gives the time the submission spent computing,
which compares machines and JAX versions whose compilers differ in speed.

A trial without that record (AlgoPerf's logs, older trees), or whose record does
not cover every eval of its CSV (a trial resumed after a preemption records only
its last attempt), keeps its times, and a warning counts such trials.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pandas as pd

from algoperf_like import trial_logs

from .read import LogData


def _offsets(trial_dir: str, n_evals: int) -> np.ndarray | None:
  try:
    with open(os.path.join(trial_dir, trial_logs.SUMMARY_FILE)) as f:
      record = (json.load(f) or {}).get('compile_time')
  except (OSError, ValueError, AttributeError):
    return None
  if not isinstance(record, dict) or record.get('resumed'):
    return None
  at_eval = record.get('submission_compile_s_at_eval')
  if not isinstance(at_eval, list) or len(at_eval) != n_evals:
    return None
  return np.asarray(at_eval, dtype=float)


def without_compile_time(logs: LogData) -> tuple[LogData, list[str]]:
  """``logs`` with each eval's time less the submission's compile seconds before it.

  Returns:
    The adjusted copy and warning messages.
  """
  lengths = logs.trials['n_evals'].to_numpy(dtype=np.int64)
  offsets = np.zeros(int(lengths.sum()))
  missing = 0
  start = 0
  for path, n in zip(logs.trials['path'], lengths):
    got = _offsets(os.path.dirname(str(path)), int(n)) if n else np.zeros(0)
    if got is None:
      missing += 1
    else:
      offsets[start : start + n] = got
    start += n
  evals = logs.evals.copy()
  evals['submission_time_s'] = evals['submission_time_s'].to_numpy(dtype=float) - offsets
  msgs = []
  if missing:
    msgs.append(
      f'--exclude_compile_time: {missing} of {len(lengths)} trial(s) have no per-eval compile '
      'record covering their evals (AlgoPerf logs, resumed trials): their times include '
      'compilation'
    )
  return dataclasses.replace(logs, evals=evals), msgs


def compile_shares(root: str) -> pd.DataFrame:
  """Per trial of the tree at ``root``: how much of its submission time was compilation.

  Columns: ``submission, workload, study, trial, status, time_to_target_s,
  submission_s, compile_s`` (the submission's compile seconds up to the target, or
  over the whole trial when it missed), ``share`` (of time to target, else of
  submission time), ``setup_compile_s``, ``eval_compile_s``. Trials without a
  ``compile_time`` record are left out.
  """
  rows = []
  for dirpath, _, files in sorted(os.walk(root)):
    if trial_logs.SUMMARY_FILE not in files:
      continue
    try:
      with open(os.path.join(dirpath, trial_logs.SUMMARY_FILE)) as f:
        summary = json.load(f)
    except (OSError, ValueError):
      continue
    record = summary.get('compile_time') if isinstance(summary, dict) else None
    if not isinstance(record, dict):
      continue
    parts = os.path.relpath(dirpath, root).split(os.sep)
    if len(parts) < 4:
      continue
    ttt = summary.get('time_to_target')
    sub_s = summary.get('accumulated_submission_time') or 0.0
    at_target = record.get('submission_compile_s_at_target')
    compile_s = (
      at_target
      if ttt is not None and at_target is not None
      else record.get('submission_compile_s', 0.0)
    )
    base = ttt if ttt is not None else sub_s
    rows.append(
      {
        'submission': parts[-4],
        'workload': parts[-2].rsplit('_', 1)[0],
        'study': parts[-3],
        'trial': parts[-1],
        'status': summary.get('status'),
        'time_to_target_s': ttt,
        'submission_s': sub_s,
        'compile_s': compile_s,
        'share': compile_s / base if base else float('nan'),
        'setup_compile_s': record.get('setup_compile_s'),
        'eval_compile_s': record.get('eval_compile_s'),
      }
    )
  return pd.DataFrame(rows)


def shares_markdown(df: pd.DataFrame) -> str:
  """A Markdown table of :func:`compile_shares`, one row per trial."""
  lines = [
    '| workload | submission | status | time to target (s) | submission compile (s) | '
    'share | set-up compile (s) | eval compile (s) |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for r in df.sort_values(['workload', 'submission', 'study', 'trial']).itertuples():
    ttt = (
      'miss'
      if r.time_to_target_s is None or r.time_to_target_s != r.time_to_target_s
      else (f'{r.time_to_target_s:.2f}')
    )
    of = '' if ttt != 'miss' else f' of {r.submission_s:.1f} s'
    lines.append(
      f'| {r.workload} | {r.submission} | {r.status} | {ttt} | {r.compile_s:.2f} | '
      f'{100 * r.share:.1f}%{of} | {r.setup_compile_s:.2f} | {r.eval_compile_s:.2f} |'
    )
  return '\n'.join(lines)


def workload_summary_markdown(df: pd.DataFrame) -> str:
  """Per workload: compile seconds and their share, of time to target where reached.

  The last column takes every trial's whole submission time: for a trial that missed,
  an upper bound on the share its time to target would have (that would be longer).
  """
  lines = [
    '| workload | trials at the target | compile share of time to target (median) | '
    'time to target (s, median) | submission compile (s, median, all trials) | '
    'compile share of submission time (median, all trials) |',
    '|---|---|---|---|---|---|',
  ]
  for w, g in df.groupby('workload', sort=True):
    hit = g[g['time_to_target_s'].notna()]
    share = f'{100 * hit["share"].median():.1f}%' if len(hit) else 'n/a'
    ttt = f'{hit["time_to_target_s"].median():.2f}' if len(hit) else 'n/a'
    all_share = (g['compile_s'] / g['submission_s']).where(g['submission_s'] > 0)
    lines.append(
      f'| {w} | {len(hit)}/{len(g)} | {share} | {ttt} | {g["compile_s"].median():.2f} | '
      f'{100 * all_share.median():.1f}% |'
    )
  return '\n'.join(lines)
