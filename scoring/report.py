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
* ``performance_profile.png`` / ``.pdf`` (drawn by :mod:`.canvas`, no matplotlib),
  ``leaderboard.md``, ``report.html`` (self-contained, figures as inline SVG),
  ``warnings.txt``; ``time_to_target_ci.csv``, ``performance_profile_lo/hi.csv`` and
  ``bootstrap.json`` with intervals.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots

NOT_REACHED = 'not reached'
_BEST_TRIAL = {
  'eval': 'eval index (official code)',
  'time': 'time (documentation)',
  'eval_listing': 'eval index, ties by trial number (official code, ascending listing)',
}


def _fmt_time(x) -> str:
  """Seconds for people: ``1,234``, ``not reached`` (inf), ``-`` (no logs)."""
  if x is None or (isinstance(x, float) and math.isnan(x)):
    return '-'
  if np.isinf(x):
    return NOT_REACHED
  return f'{x:,.0f}'


def _fmt_interval(lo, hi) -> str:
  if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
    return '-'
  if np.isinf(lo):
    return NOT_REACHED
  return f'{_fmt_time(lo)}–{_fmt_time(hi)}'


def leaderboard_frame(res, time_intervals: bool = True) -> pd.DataFrame:
  """Scores (with 95% interval and rank stability) plus final time to target (s).

  With ``time_intervals`` each time cell also shows its bootstrap interval,
  ``5,043 (4,812–5,570)``.
  """
  df = res.scores[['rank', 'submission', 'score', 'workloads_reached']].copy()
  df['score'] = df['score'].map(lambda v: f'{v:.4f}')
  ci = res.intervals
  if ci is not None:
    df.insert(
      3,
      'score 95% CI',
      [f'{a:.4f}–{b:.4f}' for a, b in zip(res.scores['score_lo'], res.scores['score_hi'])],
    )
    df.insert(4, 'P(rank)', res.scores['rank_stability'].map(lambda v: f'{v:.2f}'))
  df['workloads_reached'] = [
    f'{a}/{b}' for a, b in zip(res.scores['workloads_reached'], res.scores['workloads_scored'])
  ]
  subs = df['submission']
  times = res.times.reindex(subs)
  lo = ci.time_lo.reindex(subs) if ci is not None else None
  hi = ci.time_hi.reindex(subs) if ci is not None else None
  for w in res.times.columns:
    cells = [_fmt_time(v) for v in times[w].tolist()]
    if ci is not None and time_intervals:
      for i, (a, b) in enumerate(zip(lo[w].tolist(), hi[w].tolist())):
        iv = _fmt_interval(a, b)
        if iv != cells[i]:  # 'not reached' on every resample: say it once
          cells[i] += f' ({iv})'
    df[w] = cells
  return df


def interval_frame(res) -> pd.DataFrame | None:
  """Long table: submission, workload, time (final and raw) with 95% bounds (inf kept)."""
  ci = res.intervals
  if ci is None:
    return None

  def long(frame, name):
    return (
      frame.rename_axis(index='submission', columns='workload')
      .stack(future_stack=True)
      .rename(name)
    )

  parts = [
    long(res.times.reindex(columns=ci.raw_lo.columns), 'time_to_target'),
    long(ci.time_lo.reindex(columns=ci.raw_lo.columns), 'time_lo'),
    long(ci.time_hi.reindex(columns=ci.raw_lo.columns), 'time_hi'),
    long(res.raw_times.reindex(columns=ci.raw_lo.columns), 'raw_time_to_target'),
    long(ci.raw_lo, 'raw_lo'),
    long(ci.raw_hi, 'raw_hi'),
  ]
  return pd.concat(parts, axis=1).reset_index()


def bootstrap_info(res) -> dict | None:
  ci = res.intervals
  if ci is None:
    return None
  return {
    'method': 'percentile bootstrap',
    'level': 0.95,
    'samples': ci.samples,
    'seed': ci.seed,
    'resampled': 'studies' if res.options.self_tuning else 'studies and trials',
    'description': ci.method,
  }


_PATHLIKE = re.compile(r"(?:'[^']*'|\S*/\S*|\d+(?:\.\d+)?)")


def warning_kind(msg: str) -> str:
  """A message with its names, paths and numbers blanked: what groups warnings."""
  return _PATHLIKE.sub(lambda m: '…' if not m.group(0)[0].isdigit() else 'N', msg)


def group_warnings(msgs: list[str]) -> list[tuple[str, int, str]]:
  """``[(kind, count, first message)]`` in order of first appearance."""
  groups: dict[str, list[str]] = {}
  for m in msgs:
    groups.setdefault(warning_kind(m), []).append(m)
  return [(k, len(v), v[0]) for k, v in groups.items()]


def warning_lines(msgs: list[str], where: str = 'warnings.txt', root=None) -> list[str]:
  """One line per kind of warning with its count and an example (paths below ``root`` shortened)."""
  prefix = os.path.join(str(root), '') if root else None
  out = []
  for kind, n, first in group_warnings(msgs):
    if prefix:
      first = first.replace(prefix, '')
    out.append(
      f'warning: {n} x {kind}' + (f' (e.g. {first}; all in {where})' if n > 1 else f' ({first})')
    )
  return out


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
  ci = f' {res.intervals.method}' if res.intervals is not None else ''
  return (
    f'Ruleset: {rs}; targets: {_shown_path(res.targets.path)} (benchmark version '
    f'{res.targets.version or "n/a"}); best trial by '
    f'{_BEST_TRIAL.get(o.best_trial, o.best_trial)}; '
    f'score = {"trapezoid on linspace(%g, %g, %d) (official code)" % (o.min_tau, o.max_tau, o.num_points) if o.integral == "trapezoid" else "exact integral (documentation)"}; '
    f'budget {"enforced" if o.enforce_budget else "not enforced (official code)"}; '
    f'time column: {o.time_column}'
    f'{" less compile seconds (--exclude_compile_time)" if o.exclude_compile_time else ""}'
    f'{" in reference-system seconds" if o.normalise_to_reference else ""}; '
    f'hardware: {_hardware(res)}.{ci}'
  )


def _hardware(res) -> str:
  hw = getattr(res, 'hardware', None)
  if hw is None or not len(hw):
    return 'unknown'
  names = sorted(set(hw['hardware_class']))
  return ', '.join(names) + (' (mixed, allowed)' if len(names) > 1 else '')


def write_markdown(res, path: Path) -> None:
  parts = [
    '# Leaderboard',
    '',
    _describe(res),
    '',
    _markdown(leaderboard_frame(res)),
    '',
    'Times are seconds to reach the validation target (median over studies), after the '
    '4x cut and held-out rule, with the 95% bootstrap interval in parentheses; '
    '`-` = no logs. P(rank) = probability that the submission keeps its rank.',
    '',
  ]
  sp = speedup_frame(res)
  if sp is not None:
    parts += ['## Speedups', '', _markdown(sp), '']
  path.write_text('\n'.join(parts))


def _cell(v) -> str:
  if v is None or (isinstance(v, float) and math.isnan(v)):
    return '-'
  if isinstance(v, float):
    return f'{v:.6g}'
  return html.escape(str(v))


def _table_html(df: pd.DataFrame) -> str:
  """A plain HTML table (``DataFrame.to_html`` is slow on the per-study table)."""
  head = ''.join(f'<th>{html.escape(str(c))}</th>' for c in df.columns)
  body = ''.join(
    '<tr>' + ''.join(f'<td>{_cell(v)}</td>' for v in row) + '</tr>'
    for row in df.itertuples(index=False)
  )
  return f'<div class="scroll"><table class="t"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _curve_pngs(res, dpi: int) -> list[tuple[str, bytes]]:
  """One PNG of validation metric against time per workload, in name order."""
  t, evals = res.targets, res.logs.evals
  styles = plots.submission_styles(res.raw_times.index)
  out = []
  wcol = evals['workload'].astype(str)
  for w in sorted(set(wcol)):
    tg = t.get(w)
    fig = plots.curves_figure(
      w,
      evals[(wcol == w).to_numpy()],
      tg.value,
      tg.minimize,
      tg.metric,
      res.trials[res.trials['workload'] == w],
      t.budget(w, res.options.self_tuning),
      styles,
    )
    out.append((w, plots.png_bytes(fig, dpi=dpi)))
  return out


def _warnings_html(res) -> str:
  if not res.warnings:
    return ''
  items = []
  for kind, n, _first in group_warnings(res.warnings):
    msgs = [m for m in res.warnings if warning_kind(m) == kind]
    body = ''.join(f'<li>{html.escape(m)}</li>' for m in msgs)
    items.append(f'<details><summary>{n} x {html.escape(kind)}</summary><ul>{body}</ul></details>')
  return '<h2>Warnings</h2>' + ''.join(items)


def _curve_svgs(res) -> list[tuple[str, str]]:
  """One inline SVG of validation metric against time per workload, in name order."""
  from . import svg

  t, evals = res.targets, res.logs.evals
  styles = plots.submission_styles(res.raw_times.index)
  codes = evals['workload'].cat.codes.to_numpy()
  cats = [str(c) for c in evals['workload'].cat.categories]
  tw = res.trials['workload'].to_numpy()
  out = []
  for i in np.argsort(cats):
    w = cats[i]
    rows = np.flatnonzero(codes == i)
    if not len(rows):
      continue
    tg = t.get(w)
    fig = svg.curves_svg(
      w,
      evals.iloc[rows],
      tg.value,
      tg.minimize,
      tg.metric,
      res.trials[tw == w],
      t.budget(w, res.options.self_tuning),
      styles,
      plots._time_unit,
    )
    out.append((w, fig))
  return out


def write_html(res, path: Path, profile_svg: str) -> None:
  sections = [
    f'<h3>{html.escape(w)}</h3><div class="scroll">{fig}</div>' for w, fig in _curve_svgs(res)
  ]
  studies = res.studies.copy()
  studies['time_to_target'] = studies['time_to_target'].map(_fmt_time)
  raw = res.raw_times.map(_fmt_time).rename_axis(None, axis=1).reset_index()
  status = res.status.rename_axis(None, axis=1).reset_index()
  sp = speedup_frame(res)
  ci_html = ''
  if res.intervals is not None:
    ci = res.intervals
    cells = ci.raw_lo.copy().astype(object)
    for s in cells.index:
      for w in cells.columns:
        cells.loc[s, w] = _fmt_interval(ci.raw_lo.loc[s, w], ci.raw_hi.loc[s, w])
    ci_html = (
      '<h2>Bootstrap 95% intervals of the time to target before the cut (s)</h2>'
      f'<p class="desc">{html.escape(ci.method)}</p>'
      + _table_html(cells.rename_axis('submission').reset_index())
    )
  doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Scoring report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}}
table.t{{border-collapse:collapse;font-size:13px;margin:8px 0 20px}}
table.t th,table.t td{{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}}
table.t th{{background:#f0f0f0}} img{{max-width:100%}} .scroll{{overflow-x:auto}} .desc{{color:#555;font-size:13px}}
summary{{cursor:pointer;font-size:14px;margin:4px 0}}
</style></head><body>
<h1>Scoring report</h1>
<p class="desc">{html.escape(_describe(res))}</p>
<h2>Leaderboard</h2>{_table_html(leaderboard_frame(res))}
<p class="desc">Times: seconds to the validation target (median over studies) after the 4x cut
and held-out rule, 95% bootstrap interval in parentheses; P(rank): probability of keeping the rank.</p>
<div class="scroll">{profile_svg}</div>
{'<h2>Speedups</h2>' + _table_html(sp) if sp is not None else ''}
<h2>Time to target before the 4x cut / held-out rule (s)</h2>{_table_html(raw)}
{ci_html}
<h2>Status of each cell</h2>{_table_html(status)}
<h2>Validation metric vs submission time</h2>
<p class="desc">Every trial is a line; dots mark the first eval reaching the target (dashed).</p>
{''.join(sections)}
<h2>Per study</h2><details><summary>best trial, eval index, step and time of all {len(studies)} studies</summary>
{_table_html(studies)}</details>
{_warnings_html(res)}
</body></html>
"""
  path.write_text(doc, encoding='utf-8')


def _profile_fig(res):
  """The profile with its bootstrap band on a :class:`~.canvas.Canvas`."""
  ci = res.intervals
  scores = res.scores.set_index('submission')
  band = (ci.profile_lo, ci.profile_hi) if ci is not None else None
  iv = scores[['score_lo', 'score_hi']] if ci is not None else None
  return plots.profile_canvas(res.profile, scores['score'], band, iv)


def write_outputs(res, output_dir, html_report: bool = True) -> Path:
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
  iv = interval_frame(res)
  if iv is not None:
    iv.to_csv(out / 'time_to_target_ci.csv', index=False)
    res.intervals.profile_lo.to_csv(out / 'performance_profile_lo.csv')
    res.intervals.profile_hi.to_csv(out / 'performance_profile_hi.csv')
    (out / 'bootstrap.json').write_text(json.dumps(bootstrap_info(res), indent=1) + '\n')
  fig = _profile_fig(res)
  (out / 'performance_profile.png').write_bytes(fig.to_png())
  (out / 'performance_profile.pdf').write_bytes(fig.to_pdf())
  write_markdown(res, out / 'leaderboard.md')
  if html_report:
    write_html(res, out / 'report.html', fig.to_svg('performance profile'))
  (out / 'warnings.txt').write_text(''.join(m + '\n' for m in res.warnings))
  return out


def scores_json(res) -> dict:
  """The scores (and their intervals) as plain JSON types, for ``--format=json``."""
  cols = [c for c in res.scores.columns]
  rows = []
  for r in res.scores[cols].to_dict(orient='records'):
    rows.append({k: (v.item() if hasattr(v, 'item') else v) for k, v in r.items()})
  return {
    'targets': _shown_path(res.targets.path),
    'benchmark_version': res.targets.version,
    'ruleset': 'self' if res.options.self_tuning else 'external',
    'bootstrap': bootstrap_info(res),
    'scores': rows,
  }


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
  (out / 'performance_profile.png').write_bytes(_profile_fig(res).to_png())
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
    'after the 4x cut, 95% bootstrap interval in parentheses.',
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
  for w, png in _curve_pngs(res, 90):
    (out / f'curves_{w}.png').write_bytes(png)
    parts += [f'### {w}', '', f'![{w}](curves_{w}.png)', '']
  if res.warnings:
    parts += ['## Warnings', ''] + [f'- {n} x {k}' for k, n, _ in group_warnings(res.warnings)]
    parts += ['']
  (out / 'README.md').write_text('\n'.join(parts))
  return out


def print_tables(res, stream=None) -> None:
  """Leaderboard (and speedups) on the terminal: rich on a TTY, plain otherwise."""
  stream = stream or sys.stdout
  frames = [('Leaderboard', leaderboard_frame(res, time_intervals=False))]
  if res.intervals is not None:
    ci = res.intervals
    cells = res.times.copy().astype(object)
    for s in cells.index:
      for w in cells.columns:
        cells.loc[s, w] = _fmt_interval(ci.time_lo.loc[s, w], ci.time_hi.loc[s, w])
    cells = cells.reindex(res.scores['submission'])
    frames.append(('Time to target, 95% bootstrap intervals (s)', cells.reset_index()))
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
    if res.intervals is not None:
      console.print(res.intervals.method)
    return
  for title, df in frames:
    stream.write(f'{title}\n{df.to_string(index=False)}\n\n')
  if res.intervals is not None:
    stream.write(res.intervals.method + '\n')
