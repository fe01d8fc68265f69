"""Figures: the performance profile (:func:`profile_canvas`) and per-workload curves.

The profile is drawn on a :class:`~.canvas.Canvas` (SVG, PNG, PDF without
matplotlib); the curves of ``report.html`` are SVG text (:mod:`.svg`); the curve
PNGs of ``--report_dir`` use matplotlib (:func:`curves_figure`).

matplotlib, where used: the object API with the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, and the style is
applied with ``matplotlib.rc_context`` around each figure only (global
``rcParams`` are never modified).

Rendering is kept cheap, since a leaderboard tree has hundreds of trials per
workload: fixed margins instead of constrained layout, the legend at a fixed place
outside the axes (no ``loc='best'`` search), and one line artist per submission
(its trials joined with NaN breaks) instead of one per trial.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

_STYLE = {
  'font.size': 10,
  'axes.grid': True,
  'grid.alpha': 0.35,
  'axes.spines.top': False,
  'axes.spines.right': False,
  'lines.linewidth': 1.6,
  'legend.fontsize': 8,
  'svg.fonttype': 'none',
  'path.simplify': True,
  'agg.path.chunksize': 10000,
}

#: matplotlib's ``tab10`` palette.
TAB10 = (
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
)
#: Line styles cycled after the 10 colours: 40 submissions stay apart.
LINESTYLES = ('-', '--', ':', '-.')


def submission_styles(names) -> dict[str, dict]:
  """A colour and line style per submission, stable by sorted name.

  The first 10 get the ``tab10`` colours with solid lines, the next 10 the same
  colours dashed, and so on, so that 20 (and up to 40) submissions are told apart
  and a submission looks the same in every figure of a report.
  """
  out = {}
  for i, s in enumerate(sorted(set(map(str, names)))):
    out[s] = {'color': TAB10[i % 10], 'linestyle': LINESTYLES[(i // 10) % len(LINESTYLES)]}
  return out


def _new_figure(size, right: float = 0.97):
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure

  fig = Figure(figsize=size)
  fig.subplots_adjust(left=0.08, right=right, bottom=0.12, top=0.92)
  FigureCanvasAgg(fig)
  return fig


def _rc():
  import matplotlib

  return matplotlib.rc_context(_STYLE)


def _legend_outside(ax) -> None:
  ax.legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def _time_unit(seconds: float) -> tuple[float, str]:
  """A divisor and name that keep the time axis readable (seconds to hours)."""
  if seconds < 600:
    return 1.0, 'seconds'
  if seconds < 3 * 3600:
    return 60.0, 'minutes'
  return 3600.0, 'hours'


def _joined(x: np.ndarray, y: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Concatenate several polylines into one, a NaN point between them."""
  if len(starts) <= 1:
    return x, y
  xs = np.insert(x.astype(float), starts[1:], np.nan)
  ys = np.insert(y.astype(float), starts[1:], np.nan)
  return xs, ys


def curves_figure(
  workload: str,
  evals: pd.DataFrame,
  target: float,
  minimize: bool,
  metric: str,
  hits: pd.DataFrame | None = None,
  budget_s: float | None = None,
  styles: dict[str, dict] | None = None,
):
  """Validation metric vs submission time of every trial of one workload.

  ``evals``: rows of that workload in file order within each trial (columns
  ``submission, study, trial, submission_time_s, value``); ``hits``: per-trial
  first hit (``submission, study, trial, time_to_target``) to mark with a dot;
  ``styles``: :func:`submission_styles` of the whole report.
  """
  with _rc():
    fig = _new_figure((10.5, 4.2), right=0.74)
    ax = fig.add_subplot()
    subs = sorted(set(evals['submission'].astype(str)))
    styles = styles or submission_styles(subs)
    longest = max(float(evals['submission_time_s'].max() or 0.0), budget_s or 0.0)
    unit, unit_name = _time_unit(longest)
    sub_col = evals['submission'].astype(str).to_numpy()
    key = (
      evals['submission'].astype(str)
      + '/'
      + evals['study'].astype(str)
      + '/'
      + evals['trial'].astype(str)
    ).to_numpy()
    x_all = evals['submission_time_s'].to_numpy(dtype=float) / unit
    y_all = evals['value'].to_numpy(dtype=float)
    for s in subs:
      m = sub_col == s
      k = key[m]
      starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
      x, y = _joined(x_all[m], y_all[m], starts)
      st = styles[s]
      ax.plot(x, y, color=st['color'], linestyle=st['linestyle'], alpha=0.55, linewidth=1.0)
      ax.plot([], [], label=s, **st)
    if hits is not None and len(hits):
      h = hits[np.isfinite(hits['time_to_target'])]
      ax.scatter(
        h['time_to_target'] / unit,
        np.full(len(h), target),
        s=14,
        zorder=3,
        c=[styles.get(str(s), {'color': 'k'})['color'] for s in h['submission']],
        edgecolors='k',
        linewidths=0.4,
      )
    ax.axhline(
      target,
      color='k',
      linestyle='--',
      linewidth=1.0,
      label=f'target {target:g} ({"min" if minimize else "max"})',
    )
    if budget_s:
      ax.axvline(
        budget_s / unit,
        color='grey',
        linestyle=':',
        linewidth=1.0,
        label=f'budget {budget_s / unit:.3g} {unit_name}',
      )
    finite = y_all[np.isfinite(y_all)]
    if finite.size:  # keep the target band readable when early evals are far off
      lo, hi = np.nanpercentile(finite, [2, 98])
      lo, hi = min(lo, target), max(hi, target)
      pad = 0.08 * (hi - lo or abs(target) or 1.0)
      ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f'submission time ({unit_name})')
    ax.set_ylabel(f'validation/{metric}')
    ax.set_title(workload)
    _legend_outside(ax)
  return fig


def save(fig, path, fmt: str | None = None, dpi: int = 130) -> None:
  with _rc():
    fig.savefig(path, format=fmt, dpi=dpi)


def png_bytes(fig, dpi: int = 110) -> bytes:
  buf = io.BytesIO()
  save(fig, buf, fmt='png', dpi=dpi)
  return buf.getvalue()


def _nice_ticks(lo: float, hi: float, n: int = 6) -> np.ndarray:
  from .svg import nice_ticks

  return nice_ticks(lo, hi, n)


def profile_canvas(
  profile: pd.DataFrame,
  scores: pd.Series | None = None,
  band: tuple[pd.DataFrame, pd.DataFrame] | None = None,
  intervals: pd.DataFrame | None = None,
):
  """The performance profile drawn on a :class:`~.canvas.Canvas` (SVG, PNG, PDF; no matplotlib).

  rho_s(tau) per submission in its colour and
  line style, the bootstrap band shaded, the legend (sorted by score, with the score
  and its interval) outside the axes.
  """
  from .canvas import Canvas

  order = list(profile.index)
  if scores is not None:
    order = sorted(order, key=lambda s: (-scores.get(s, 0.0), s))
  styles = submission_styles(profile.index)
  w, h = 1050, max(480, 70 + 17 * len(order))
  left, right, top, bottom = 70, 640, 40, 420
  c = Canvas(w, h)
  taus = np.asarray(profile.columns, dtype=float)
  x0, x1, y0, y1 = float(taus.min()), float(taus.max()), -0.02, 1.02
  px = lambda v: left + (v - x0) / (x1 - x0) * (right - left)  # noqa: E731
  py = lambda v: bottom - (v - y0) / (y1 - y0) * (bottom - top)  # noqa: E731
  for t in _nice_ticks(x0, x1):
    c.line([(px(t), top), (px(t), bottom)], '#dddddd', 0.8)
    c.text(px(t), bottom + 16, f'{t:g}', 11, 'middle')
  for t in np.linspace(0, 1, 6):
    c.line([(left, py(t)), (right, py(t))], '#dddddd', 0.8)
    c.text(left - 6, py(t) + 4, f'{t:.1f}', 11, 'end')
  xs = px(taus)
  if band is not None:
    alpha = 0.07 if len(order) > 4 else 0.15
    for s in order:
      lo = band[0].loc[s].to_numpy(dtype=float)
      hi = band[1].loc[s].to_numpy(dtype=float)
      pts = list(zip(xs, py(hi))) + list(zip(xs[::-1], py(lo)[::-1]))
      c.fill(pts, styles[str(s)]['color'], alpha)
  for s in reversed(order):  # best on top
    st = styles[str(s)]
    c.line(
      list(zip(xs, py(profile.loc[s].to_numpy(dtype=float)))), st['color'], 1.8, st['linestyle']
    )
  c.line([(left, top), (left, bottom), (right, bottom)], '#333333', 1.0)
  title = 'Performance profile' + (' (bands: bootstrap 95% intervals)' if band is not None else '')
  c.text((left + right) / 2, top - 14, title, 14, 'middle')
  c.text(
    (left + right) / 2,
    bottom + 38,
    'τ (ratio of time to target to the best submission)',
    12,
    'middle',
  )
  c.text(20, (top + bottom) / 2, 'ρ(τ), fraction of workloads', 12, 'middle', rotate=-90)
  for i, s in enumerate(order):
    st = styles[str(s)]
    y = top + 8 + 17 * i
    c.line([(right + 16, y), (right + 44, y)], st['color'], 1.8, st['linestyle'])
    label = s if scores is None else f'{s} ({scores[s]:.4f})'
    if intervals is not None and s in intervals.index:
      label += f' [{intervals.loc[s, "score_lo"]:.3f}, {intervals.loc[s, "score_hi"]:.3f}]'
    c.text(right + 52, y + 4, label, 11)
  return c
