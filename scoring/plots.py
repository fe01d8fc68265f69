"""Figures: performance profile and per-workload training curves.

Uses matplotlib's object API with the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, and the style is
applied with ``matplotlib.rc_context`` around each figure only (global
``rcParams`` are never modified).
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
}


def _new_figure(size):
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure

  fig = Figure(figsize=size, layout='constrained')
  FigureCanvasAgg(fig)
  return fig


def _rc():
  import matplotlib

  return matplotlib.rc_context(_STYLE)


def profile_figure(profile: pd.DataFrame, scores: pd.Series | None = None):
  """rho_s(tau) against tau for every submission (legend sorted by score)."""
  with _rc():
    fig = _new_figure((8, 4.8))
    ax = fig.add_subplot()
    taus = np.asarray(profile.columns, dtype=float)
    order = list(profile.index)
    if scores is not None:
      order = sorted(order, key=lambda s: (-scores.get(s, 0.0), s))
    for s in order:
      label = s if scores is None else f'{s} ({scores[s]:.4f})'
      ax.plot(taus, profile.loc[s].to_numpy(dtype=float), label=label, alpha=0.85)
    ax.set_xlim(taus.min(), taus.max())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r'$\tau$ (ratio of time to target to the best submission)')
    ax.set_ylabel(r'$\rho(\tau)$, fraction of workloads')
    ax.set_title('Performance profile')
    ax.legend(loc='lower right', frameon=True)
  return fig


def _time_unit(seconds: float) -> tuple[float, str]:
  """A divisor and name that keep the time axis readable (seconds to hours)."""
  if seconds < 600:
    return 1.0, 'seconds'
  if seconds < 3 * 3600:
    return 60.0, 'minutes'
  return 3600.0, 'hours'


def curves_figure(
  workload: str,
  evals: pd.DataFrame,
  target: float,
  minimize: bool,
  metric: str,
  hits: pd.DataFrame | None = None,
  budget_s: float | None = None,
):
  """Validation metric vs submission time of every trial of one workload.

  ``evals``: rows of that workload (columns ``submission, study, trial,
  submission_time_s, value``); ``hits``: per-trial first hit
  (``submission, study, trial, time_to_target``) to mark with a dot.
  """
  import matplotlib

  with _rc():
    fig = _new_figure((8, 4.2))
    ax = fig.add_subplot()
    subs = sorted(set(evals['submission'].astype(str)))
    cmap = matplotlib.colormaps['tab10' if len(subs) <= 10 else 'tab20']
    colors = {s: cmap(i % cmap.N) for i, s in enumerate(subs)}
    longest = max(float(evals['submission_time_s'].max() or 0.0), budget_s or 0.0)
    unit, unit_name = _time_unit(longest)
    keys = ['submission', 'study', 'trial']
    for (s, _k, _t), g in evals.groupby(keys, observed=True, sort=True):
      ax.plot(
        g['submission_time_s'].to_numpy() / unit,
        g['value'].to_numpy(),
        color=colors[str(s)],
        alpha=0.55,
        linewidth=1.0,
      )
    for s in subs:
      ax.plot([], [], color=colors[s], label=s)
    if hits is not None and len(hits):
      h = hits[np.isfinite(hits['time_to_target'])]
      ax.scatter(
        h['time_to_target'] / unit,
        np.full(len(h), target),
        s=14,
        zorder=3,
        c=[colors.get(str(s), 'k') for s in h['submission']],
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
    vals = evals['value'].to_numpy(dtype=float)
    finite = vals[np.isfinite(vals)]
    if finite.size:  # keep the target band readable when early evals are far off
      lo, hi = np.nanpercentile(finite, [2, 98])
      lo, hi = min(lo, target), max(hi, target)
      pad = 0.08 * (hi - lo or abs(target) or 1.0)
      ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f'submission time ({unit_name})')
    ax.set_ylabel(f'validation/{metric}')
    ax.set_title(workload)
    ax.legend(loc='best', frameon=True)
  return fig


def save(fig, path, fmt: str | None = None, dpi: int = 130) -> None:
  with _rc():
    fig.savefig(path, format=fmt, dpi=dpi)


def png_bytes(fig, dpi: int = 110) -> bytes:
  buf = io.BytesIO()
  save(fig, buf, fmt='png', dpi=dpi)
  return buf.getvalue()
