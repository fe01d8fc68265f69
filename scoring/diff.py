"""What changed against an earlier scoring (``--compare_to=PREVIOUS_OUTPUT_DIR``).

Reads the earlier ``scores.csv`` and sets it beside the current scores: new and
removed submissions, score and rank changes, and whether the earlier score lies
outside the current 95% bootstrap interval (when the current scoring has one),
that is, whether the change is larger than the resampling noise of the studies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ScoringError


def read_previous(prev_dir) -> pd.DataFrame:
  p = Path(prev_dir) / 'scores.csv'
  if not p.is_file():
    raise ScoringError(f'--compare_to: no scores.csv in {prev_dir}')
  df = pd.read_csv(p)
  if not {'submission', 'score', 'rank'} <= set(df.columns):
    raise ScoringError(f'--compare_to: {p} lacks submission/score/rank columns')
  df['submission'] = df['submission'].astype(str)
  return df.set_index('submission')


def compare(scores: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
  """One row per submission in either scoring.

  Columns: ``submission, change`` (``new``, ``removed``, ``changed``,
  ``unchanged``), ``score_before, score_after, score_delta, rank_before,
  rank_after, rank_delta`` (positive = moved up), ``score_lo, score_hi`` (the
  current interval) and ``outside_interval`` (the earlier score lies outside it;
  empty without intervals).
  """
  cur = scores.set_index('submission')
  rows = []
  for s in sorted(set(cur.index) | set(previous.index)):
    a = previous.loc[s] if s in previous.index else None
    b = cur.loc[s] if s in cur.index else None
    row = {'submission': s}
    row['score_before'] = float(a['score']) if a is not None else np.nan
    row['score_after'] = float(b['score']) if b is not None else np.nan
    row['rank_before'] = int(a['rank']) if a is not None else np.nan
    row['rank_after'] = int(b['rank']) if b is not None else np.nan
    row['score_delta'] = row['score_after'] - row['score_before']
    row['rank_delta'] = row['rank_before'] - row['rank_after']
    has_ci = b is not None and 'score_lo' in cur.columns
    row['score_lo'] = float(b['score_lo']) if has_ci else np.nan
    row['score_hi'] = float(b['score_hi']) if has_ci else np.nan
    if a is None:
      row['change'] = 'new'
    elif b is None:
      row['change'] = 'removed'
    elif round(row['score_delta'], 4) != 0 or row['rank_delta'] != 0:
      row['change'] = 'changed'
    else:
      row['change'] = 'unchanged'
    if a is not None and has_ci:
      row['outside_interval'] = bool(
        row['score_before'] < row['score_lo'] or row['score_before'] > row['score_hi']
      )
    else:
      row['outside_interval'] = None
    rows.append(row)
  cols = [
    'submission',
    'change',
    'score_before',
    'score_after',
    'score_delta',
    'rank_before',
    'rank_after',
    'rank_delta',
    'score_lo',
    'score_hi',
    'outside_interval',
  ]
  df = pd.DataFrame(rows, columns=cols)
  order = {'new': 0, 'removed': 1, 'changed': 2, 'unchanged': 3}
  df['_o'] = df['change'].map(order)
  df['_r'] = df['rank_after'].fillna(df['rank_before'])
  return df.sort_values(['_o', '_r', 'submission']).drop(columns=['_o', '_r'])


def _f(v, fmt: str) -> str:
  return '' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _rank(v) -> str:
  return '' if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def to_markdown(diff: pd.DataFrame, prev_dir: str) -> str:
  """A pull-request comment: a summary line, then a table of what changed."""
  n = diff['change'].value_counts()
  sig = int((diff['outside_interval'] == True).sum())  # noqa: E712
  head = (
    f'**Scoring compared with `{prev_dir}`**: {n.get("new", 0)} new, {n.get("removed", 0)} '
    f'removed, {n.get("changed", 0)} changed ({sig} outside the 95% interval), '
    f'{n.get("unchanged", 0)} unchanged.'
  )
  shown = diff[diff['change'] != 'unchanged']
  if shown.empty:
    return head + '\n'
  lines = [
    head,
    '',
    '| submission | change | score before | score after | Δ score | rank | 95% CI (now) '
    '| outside CI |',
    '|---|---|---:|---:|---:|---|---|---|',
  ]
  for r in shown.itertuples(index=False):
    rank = f'{_rank(r.rank_before) or "–"} → {_rank(r.rank_after) or "–"}'
    ci = f'{_f(r.score_lo, ".4f")}–{_f(r.score_hi, ".4f")}' if not math.isnan(r.score_lo) else ''
    out = {True: '**yes**', False: 'no'}.get(r.outside_interval, '')
    lines.append(
      f'| {r.submission} | {r.change} | {_f(r.score_before, ".4f")} | {_f(r.score_after, ".4f")} '
      f'| {_f(r.score_delta, "+.4f")} | {rank} | {ci} | {out} |'
    )
  return '\n'.join(lines) + '\n'
