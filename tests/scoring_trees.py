"""Helpers to build tiny AlgoPerf-style log trees for the scoring tests."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / 'shared' / 'fixtures'

HEADER = [
  'accumulated_eval_time',
  'accumulated_logging_time',
  'accumulated_submission_time',
  'global_step',
  'preemption_count',
  'score',
  'total_duration',
]


def write_trial(
  root: Path,
  sub: str,
  study: int | str,
  wdir: str,
  trial: int | str,
  times,
  values,
  metric: str = 'validation/error_rate',
  steps=None,
  extra_cols: dict | None = None,
) -> Path:
  """Write ``{root}/{sub}/study_k/{wdir}/trial_m/eval_measurements.csv``.

  ``times`` = accumulated_submission_time per eval, ``values`` = metric per
  eval (``None``/``float('nan')`` -> written as ``nan``)."""
  study = study if isinstance(study, str) else f'study_{study}'
  trial = trial if isinstance(trial, str) else f'trial_{trial}'
  d = Path(root) / sub / study / wdir / trial
  d.mkdir(parents=True, exist_ok=True)
  steps = steps if steps is not None else [100 * (i + 1) for i in range(len(times))]
  cols = HEADER + [metric] + list((extra_cols or {}).keys())
  lines = [','.join(cols)]
  for i, (t, v) in enumerate(zip(times, values)):
    v = 'nan' if v is None else repr(float(v))
    extra = [repr(float(c[i])) for c in (extra_cols or {}).values()]
    lines.append(
      ','.join(
        [
          repr(1.0 * i),
          '0.0',
          repr(float(t)),
          str(steps[i]),
          '0',
          repr(float(t)),
          repr(float(t) + 5.0),
          v,
        ]
        + extra
      )
    )
  (d / 'eval_measurements.csv').write_text('\n'.join(lines) + '\n')
  return d / 'eval_measurements.csv'


def write_targets(path: Path, workloads: dict, base=None, held_out=(), version=None) -> Path:
  """``workloads``: {name: (metric, target[, extra dict])}."""
  wl = {}
  for name, spec in workloads.items():
    entry = {'target_metric_name': spec[0], 'validation_target_value': spec[1], 'step_hint': 1000}
    if len(spec) > 2:
      entry.update(spec[2])
    wl[name] = entry
  raw = {
    'base_workloads': list(base if base is not None else workloads),
    'held_out_workloads': list(held_out),
    'workloads': wl,
  }
  if version is not None:
    raw['benchmark_version'] = version
  Path(path).write_text(json.dumps(raw, indent=1))
  return Path(path)
