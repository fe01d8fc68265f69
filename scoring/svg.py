"""Training-curve figures of ``report.html``, written directly as SVG text.

A leaderboard tree has hundreds of trials and about 400,000 evals; drawing them
with matplotlib and encoding PNGs took most of the time of a scoring.  Here each
submission is one ``<path>`` (its trials as subpaths), numbers are formatted
once, and the browser does the rasterizing.  The figure has what the matplotlib
version had: every trial as a line in the submission's colour and line style, a
dot at each trial's first eval reaching the target, the target (dashed) and the
budget (dotted), axes with ticks, and a legend outside the plot area.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

W, H = 1000, 380
LEFT, RIGHT, TOP, BOTTOM = 72, 760, 30, 320
DASHES = {'-': '', '--': '7,3', ':': '1.5,3', '-.': '7,3,1.5,3'}


def nice_ticks(lo: float, hi: float, n: int = 6) -> np.ndarray:
  """Round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of 10)."""
  span = hi - lo
  if not span > 0 or not math.isfinite(span):
    return np.array([lo])
  raw = span / n
  mag = 10 ** math.floor(math.log10(raw))
  step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
  start = math.ceil(lo / step - 1e-9) * step
  ticks = np.arange(start, hi + step * 1e-9, step)
  return np.round(ticks, 12)


def _fmt_tick(v: float) -> str:
  return f'{v:.6g}'


def _esc(s) -> str:
  return html.escape(str(s), quote=True)


def _stroke(style: dict, width: float = 1.0, opacity: float = 1.0, k: int = 1) -> str:
  """Stroke attributes; ``k`` scales widths and dashes (paths drawn in units of 1/k px)."""
  dash = DASHES.get(style.get('linestyle', '-'), '')
  if dash and k != 1:
    dash = ','.join(f'{float(v) * k:g}' for v in dash.split(','))
  out = f'stroke="{style["color"]}" stroke-width="{width * k:g}" fill="none" stroke-linecap="round"'
  if opacity < 1:
    out += f' stroke-opacity="{opacity}"'
  return out + (f' stroke-dasharray="{dash}"' if dash else '')


_FMT = {'M': 'M%d %d', 'L': 'L%d %d', 'm': 'M%d %dl0 0'}
#: Curve paths are written in integer units of 1/SUB px (inside ``scale(1/SUB)``).
SUB = 10


def _path_data(px: np.ndarray, py: np.ndarray, starts: np.ndarray) -> str:
  """``M``/``L`` commands in 1/SUB px; a new subpath at each trial start and after a NaN."""
  ok = np.isfinite(px) & np.isfinite(py)
  new = np.zeros(len(px), dtype=bool)
  new[starts] = True
  prev_bad = np.r_[True, ~ok[:-1]]
  new |= prev_bad
  m = new[ok]
  single = m & np.r_[m[1:], True]  # a subpath of one point: draw it as a round dot
  cmd = np.where(single, 'm', np.where(m, 'M', 'L')).tolist()
  # far-off points (diverged runs) are clipped away anyway; bound them so they fit an int
  xs = np.round(np.clip(px[ok], -1e6, 1e6) * SUB).astype(np.int64).tolist()
  ys = np.round(np.clip(py[ok], -1e6, 1e6) * SUB).astype(np.int64).tolist()
  return ''.join(_FMT[c] % (x, y) for c, x, y in zip(cmd, xs, ys))


def curves_svg(
  workload: str,
  evals: pd.DataFrame,
  target: float,
  minimize: bool,
  metric: str,
  hits: pd.DataFrame | None,
  budget_s: float | None,
  styles: dict[str, dict],
  time_unit,
) -> str:
  """One SVG figure: validation metric against submission time for every trial.

  ``evals`` rows of one workload in file order within each trial; ``styles`` from
  :func:`.plots.submission_styles`; ``time_unit(seconds) -> (divisor, name)``.
  """
  sub_codes = (
    evals['submission'].cat.codes.to_numpy() if hasattr(evals['submission'], 'cat') else None
  )
  subs_all = (
    [str(c) for c in evals['submission'].cat.categories]
    if sub_codes is not None
    else sorted(set(evals['submission'].astype(str)))
  )
  if sub_codes is None:
    lookup = {s: i for i, s in enumerate(subs_all)}
    sub_codes = np.array([lookup[str(s)] for s in evals['submission']])
  present = sorted({subs_all[i] for i in np.unique(sub_codes)}) if len(sub_codes) else []
  x_s = evals['submission_time_s'].to_numpy(dtype=float)
  y = evals['value'].to_numpy(dtype=float)
  longest = max(float(np.nanmax(x_s)) if len(x_s) else 0.0, budget_s or 0.0)
  unit, unit_name = time_unit(longest)
  x = x_s / unit
  x_hi = (longest / unit) or 1.0
  finite = y[np.isfinite(y)]
  if finite.size:
    lo, hi = np.percentile(finite, [2, 98])
    lo, hi = min(lo, target), max(hi, target)
  else:
    lo, hi = target, target
  pad = 0.08 * (hi - lo or abs(target) or 1.0)
  y_lo, y_hi = lo - pad, hi + pad
  sx = (RIGHT - LEFT) / x_hi
  sy = (BOTTOM - TOP) / (y_hi - y_lo)
  to_px = lambda v: LEFT + v * sx  # noqa: E731
  to_py = lambda v: BOTTOM - (v - y_lo) * sy  # noqa: E731
  ev_idx = evals['eval'].to_numpy()
  trial_start = ev_idx == 0
  h_px = max(H, TOP + 30 + 15 * (len(present) + 2))
  out = [
    f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h_px}" width="{W}" height="{h_px}" '
    f'font-family="system-ui,sans-serif" font-size="11" role="img" aria-label="{_esc(workload)}">',
    f'<defs><clipPath id="c_{_esc(workload)}"><rect x="{LEFT}" y="{TOP}" '
    f'width="{RIGHT - LEFT}" height="{BOTTOM - TOP}"/></clipPath></defs>',
    '<rect width="100%" height="100%" fill="#fff"/>',
  ]
  grid, labels = [], []
  for t in nice_ticks(0.0, x_hi):
    px = to_px(t)
    grid.append(f'M{px:.1f} {TOP}V{BOTTOM}')
    labels.append(
      f'<text x="{px:.1f}" y="{BOTTOM + 15}" text-anchor="middle">{_fmt_tick(t)}</text>'
    )
  for t in nice_ticks(y_lo, y_hi):
    py = to_py(t)
    grid.append(f'M{LEFT} {py:.1f}H{RIGHT}')
    labels.append(f'<text x="{LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{_fmt_tick(t)}</text>')
  out.append(f'<path d="{"".join(grid)}" stroke="#ddd" stroke-width="0.8"/>')
  out += labels
  out.append(f'<g clip-path="url(#c_{_esc(workload)})">')
  out.append(f'<g transform="scale({1 / SUB:g})">')
  for s in present:
    m = sub_codes == subs_all.index(s)
    starts = np.flatnonzero(trial_start[m])
    d = _path_data(to_px(x[m]), to_py(y[m]), starts)
    out.append(f'<path d="{d}" {_stroke(styles[s], 1.0, 0.6, SUB)}/>')
  out.append('</g>')
  if hits is not None and len(hits):
    h = hits[np.isfinite(hits['time_to_target'].to_numpy(dtype=float))]
    ty = to_py(target)
    for s, t in zip(h['submission'].astype(str), h['time_to_target'].to_numpy(dtype=float)):
      c = styles.get(s, {'color': '#000'})['color']
      out.append(
        f'<circle cx="{to_px(t / unit):.1f}" cy="{ty:.1f}" r="3" fill="{c}" '
        'stroke="#000" stroke-width="0.5"/>'
      )
  ty = to_py(target)
  out.append(
    f'<path d="M{LEFT} {ty:.1f}H{RIGHT}" stroke="#000" stroke-width="1" stroke-dasharray="6,4"/>'
  )
  if budget_s:
    bx = to_px(budget_s / unit)
    out.append(
      f'<path d="M{bx:.1f} {TOP}V{BOTTOM}" stroke="#777" stroke-width="1" '
      'stroke-dasharray="1.5,3"/>'
    )
  out.append('</g>')
  out.append(
    f'<path d="M{LEFT} {TOP}V{BOTTOM}H{RIGHT}" stroke="#333" stroke-width="1" fill="none"/>'
  )
  out.append(
    f'<text x="{(LEFT + RIGHT) / 2}" y="{TOP - 10}" text-anchor="middle" font-size="14">'
    f'{_esc(workload)}</text>'
  )
  out.append(
    f'<text x="{(LEFT + RIGHT) / 2}" y="{BOTTOM + 34}" text-anchor="middle" font-size="12">'
    f'submission time ({unit_name})</text>'
  )
  cy = (TOP + BOTTOM) / 2
  out.append(
    f'<text x="16" y="{cy}" text-anchor="middle" font-size="12" '
    f'transform="rotate(-90 16 {cy})">validation/{_esc(metric)}</text>'
  )
  entries = [(s, styles[s]) for s in present]
  entries.append(
    (f'target {target:g} ({"min" if minimize else "max"})', {'color': '#000', 'linestyle': '--'})
  )
  if budget_s:
    entries.append(
      (f'budget {budget_s / unit:.3g} {unit_name}', {'color': '#777', 'linestyle': ':'})
    )
  for i, (label, st) in enumerate(entries):
    ly = TOP + 6 + 15 * i
    lx = RIGHT + 16
    out.append(f'<path d="M{lx} {ly}h24" {_stroke(st, 1.8)}/>')
    out.append(f'<text x="{lx + 30}" y="{ly + 4}">{_esc(label)}</text>')
  out.append('</svg>')
  return '\n'.join(out)
