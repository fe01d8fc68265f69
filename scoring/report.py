"""Write a :class:`~scoring.pipeline.ScoringResult` to disk and to the terminal.

Files written into ``output_dir``:

* ``scores.csv``: rank, submission, score (the selected integral), both
  integrals, workloads reached.
* ``time_to_target_raw.csv``: median-over-studies time (s) per submission x
  workload, before the 4x cut and the held-out rule (``inf`` = not reached,
  empty = no logs).  ``time_to_target.csv``: the final t_{s,w} on base
  workloads; ``time_to_target_status.csv``: why a cell is inf.
* ``studies.csv`` (best trial, eval index, step and time per study),
  ``trials.csv`` (every trial), ``performance_ratios.csv``,
  ``performance_profile.csv``, ``speedups.csv`` (with ``--reference``).
* ``performance_profile.png`` / ``.pdf``, ``leaderboard.md``, ``report.html``
  (self-contained, images as base64), ``warnings.txt`` (when any).
"""

from __future__ import annotations

import base64
import html
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots

_BEST_TRIAL = {
  'eval': 'eval index (official code)',
  'time': 'time (documentation)',
  'eval_listing': 'eval index, ties by trial number (official code, ascending listing)',
}


def _fmt_time(x) -> str:
  if x is None or (isinstance(x, float) and math.isnan(x)):
    return '-'
  if np.isinf(x):
    return 'inf'
  return f'{x:,.0f}'


def leaderboard_frame(res) -> pd.DataFrame:
  """Scores plus final time to target (s) per base workload."""
  df = res.scores[['rank', 'submission', 'score', 'workloads_reached']].copy()
  df['score'] = df['score'].map(lambda v: f'{v:.4f}')
  df['workloads_reached'] = [
    f'{a}/{b}' for a, b in zip(res.scores['workloads_reached'], res.scores['workloads_scored'])
  ]
  for w in res.times.columns:
    df[w] = [_fmt_time(res.times.loc[s, w]) for s in df['submission']]
  return df


def speedup_frame(res) -> pd.DataFrame | None:
  if res.speedups is None:
    return None
  df = res.speedups.copy()
  for c in ('time_ratio_gmean', 'speedup'):
    df[c] = df[c].map(lambda v: f'{v:.4f}')
  return df


def _markdown(df: pd.DataFrame) -> str:
  cols = [str(c) for c in df.columns]
  lines = ['| ' + ' | '.join(cols) + ' |', '|' + '|'.join('---' for _ in cols) + '|']
  for row in df.itertuples(index=False):
    lines.append('| ' + ' | '.join(str(v).replace('|', '\\|') for v in row) + ' |')
  return '\n'.join(lines)


def _shown_path(path) -> str:
  """``path`` relative to the working directory when it lies below it (reports get committed)."""
  try:
    rel = os.path.relpath(path)
  except ValueError:  # Another drive (Windows).
    return str(path)
  return str(path) if rel.startswith('..') else rel


def _describe(res) -> str:
  o = res.options
  rs = 'self-tuning' if o.self_tuning else 'external tuning'
  return (
    f'Ruleset: {rs}; targets: {_shown_path(res.targets.path)} (benchmark version '
    f'{res.targets.version or "n/a"}); best trial by '
    f'{_BEST_TRIAL.get(o.best_trial, o.best_trial)}; '
    f'score = {"trapezoid on linspace(%g, %g, %d) (official code)" % (o.min_tau, o.max_tau, o.num_points) if o.integral == "trapezoid" else "exact integral (documentation)"}; '
    f'budget {"enforced" if o.enforce_budget else "not enforced (official code)"}; '
    f'time column: {o.time_column}.'
  )


def write_markdown(res, path: Path) -> None:
  parts = [
    '# Leaderboard',
    '',
    _describe(res),
    '',
    _markdown(leaderboard_frame(res)),
    '',
    'Times are seconds to reach the validation target (median over studies), after the '
    '4x cut and held-out rule; `inf` = not reached, `-` = no logs.',
    '',
  ]
  sp = speedup_frame(res)
  if sp is not None:
    parts += ['## Speedups', '', _markdown(sp), '']
  path.write_text('\n'.join(parts))


def _img(png: bytes, alt: str) -> str:
  return (
    f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
  )


def _table_html(df: pd.DataFrame) -> str:
  table = df.to_html(index=False, escape=True, border=0, classes='t', na_rep='-')
  return f'<div class="scroll">{table}</div>'


def write_html(res, path: Path, profile_png: bytes) -> None:
  t = res.targets
  sections = []
  evals = res.logs.evals
  for w in sorted(set(evals['workload'].astype(str))):
    tg = t.get(w)
    sub = evals[evals['workload'] == w]
    hits = res.trials[res.trials['workload'] == w]
    fig = plots.curves_figure(
      w, sub, tg.value, tg.minimize, tg.metric, hits, t.budget(w, res.options.self_tuning)
    )
    sections.append(f'<h3>{html.escape(w)}</h3>' + _img(plots.png_bytes(fig), w))
  studies = res.studies.copy()
  studies['time_to_target'] = studies['time_to_target'].map(_fmt_time)
  raw = res.raw_times.map(_fmt_time).rename_axis(None, axis=1).reset_index()
  status = res.status.rename_axis(None, axis=1).reset_index()
  sp = speedup_frame(res)
  warn_html = (
    (
      '<h2>Warnings</h2><ul>'
      + ''.join(f'<li>{html.escape(m)}</li>' for m in res.warnings)
      + '</ul>'
    )
    if res.warnings
    else ''
  )
  doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Scoring report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}}
table.t{{border-collapse:collapse;font-size:13px;margin:8px 0 20px}}
table.t th,table.t td{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
table.t th{{background:#f0f0f0}} img{{max-width:100%}} .scroll{{overflow-x:auto}} .desc{{color:#555;font-size:13px}}
</style></head><body>
<h1>Scoring report</h1>
<p class="desc">{html.escape(_describe(res))}</p>
<h2>Leaderboard</h2>{_table_html(leaderboard_frame(res))}
{_img(profile_png, 'performance profile')}
{'<h2>Speedups</h2>' + _table_html(sp) if sp is not None else ''}
<h2>Time to target before the 4x cut / held-out rule (s)</h2>{_table_html(raw)}
<h2>Status of each cell</h2>{_table_html(status)}
<h2>Per study</h2>{_table_html(studies)}
<h2>Validation metric vs submission time</h2>
<p class="desc">Every trial is a line; dots mark the first eval reaching the target (dashed).</p>
{''.join(sections)}
{warn_html}
</body></html>
"""
  path.write_text(doc, encoding='utf-8')


def write_outputs(res, output_dir) -> Path:
  out = Path(output_dir)
  out.mkdir(parents=True, exist_ok=True)
  res.scores.to_csv(out / 'scores.csv', index=False)
  res.raw_times.to_csv(out / 'time_to_target_raw.csv')
  res.times.to_csv(out / 'time_to_target.csv')
  res.status.to_csv(out / 'time_to_target_status.csv')
  res.studies.to_csv(out / 'studies.csv', index=False)
  res.trials.to_csv(out / 'trials.csv', index=False)
  res.ratios.to_csv(out / 'performance_ratios.csv')
  res.profile.to_csv(out / 'performance_profile.csv')
  if res.speedups is not None:
    res.speedups.to_csv(out / 'speedups.csv', index=False)
  fig = plots.profile_figure(res.profile, res.scores.set_index('submission')['score'])
  plots.save(fig, out / 'performance_profile.png', dpi=150)
  plots.save(fig, out / 'performance_profile.pdf')
  write_markdown(res, out / 'leaderboard.md')
  write_html(res, out / 'report.html', plots.png_bytes(fig))
  if res.warnings:
    (out / 'warnings.txt').write_text('\n'.join(res.warnings) + '\n')
  return out


def best_metric_frame(res) -> pd.DataFrame:
  """Submission x workload: median over studies of the best validation metric of any trial."""
  ev = res.logs.evals
  rows = {}
  for (sub, w), g in ev.groupby(['submission', 'workload'], observed=True, sort=True):
    minimize = res.targets.get(str(w)).minimize
    per_study = g.groupby('study', observed=True)['value']
    best = per_study.min() if minimize else per_study.max()
    rows.setdefault(str(sub), {})[str(w)] = f'{float(best.median()):.4g}'
  frame = pd.DataFrame.from_dict(rows, orient='index').sort_index()
  frame = frame[sorted(frame.columns, key=lambda w: (w not in res.times.columns, w))]
  return frame.fillna('-').rename_axis('submission').reset_index()


def write_report_dir(res, report_dir, title: str, command: str | None = None) -> Path:
  """A Markdown report with its plots as files, for committing (``README.md``, ``*.png``).

  Same content as ``report.html`` in a form a repository renders: the leaderboard,
  speedups, times before the cut and why cells are ``inf``, the performance
  profile, and validation metric against time for every workload.
  """
  out = Path(report_dir)
  out.mkdir(parents=True, exist_ok=True)
  fig = plots.profile_figure(res.profile, res.scores.set_index('submission')['score'])
  plots.save(fig, out / 'performance_profile.png', dpi=110)
  parts = [f'# {title}', '']
  if command:
    parts += ['Regenerate (the tables, plots and this file):', '', '```bash', command, '```', '']
  parts += [
    _describe(res),
    '',
    '## Leaderboard',
    '',
    _markdown(leaderboard_frame(res)),
    '',
    'Seconds of submission time to the validation target (median over studies), '
    'after the 4x cut; `inf` = not reached.',
    '',
    '![performance profile](performance_profile.png)',
    '',
  ]
  sp = speedup_frame(res)
  if sp is not None:
    parts += ['## Speedups', '', _markdown(sp), '']
  raw = res.raw_times.map(_fmt_time).rename_axis(None, axis=1).reset_index()
  status = res.status.rename_axis(None, axis=1).reset_index()
  parts += [
    '## Time to target before the 4x cut (s)',
    '',
    _markdown(raw),
    '',
    '## Why a cell is inf',
    '',
    _markdown(status),
    '',
    '## Best validation metric reached',
    '',
    "Median over studies of each study's best trial; how close a submission came "
    'where it missed the target.',
    '',
    _markdown(best_metric_frame(res)),
    '',
    '## Validation metric against submission time',
    '',
    'Every trial is a line; dots mark the first evaluation that reaches the target (dashed).',
    '',
  ]
  evals, t = res.logs.evals, res.targets
  for w in sorted(set(evals['workload'].astype(str))):
    tg = t.get(w)
    fig = plots.curves_figure(
      w,
      evals[evals['workload'] == w],
      tg.value,
      tg.minimize,
      tg.metric,
      res.trials[res.trials['workload'] == w],
      t.budget(w, res.options.self_tuning),
    )
    plots.save(fig, out / f'curves_{w}.png', dpi=90)
    parts += [f'### {w}', '', f'![{w}](curves_{w}.png)', '']
  if res.warnings:
    parts += ['## Warnings', ''] + [f'- {m}' for m in res.warnings] + ['']
  (out / 'README.md').write_text('\n'.join(parts))
  return out


def print_tables(res, stream=None) -> None:
  """Leaderboard (and speedups) on the terminal: rich on a TTY, plain otherwise."""
  stream = stream or sys.stdout
  frames = [('Leaderboard', leaderboard_frame(res))]
  sp = speedup_frame(res)
  if sp is not None:
    frames.append(('Speedups', sp))
  if getattr(stream, 'isatty', lambda: False)():
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream)
    for title, df in frames:
      table = Table(title=title)
      for c in df.columns:
        table.add_column(str(c), justify='left' if c == 'submission' else 'right')
      for row in df.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
      console.print(table)
    return
  for title, df in frames:
    stream.write(f'{title}\n{df.to_string(index=False)}\n\n')
