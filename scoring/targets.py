"""Workload targets: which metric, which value, which direction, which budget.

A targets file is JSON in the format of AlgoPerf's ``workload_targets*.json``::

    {"benchmark_version": "0.6",
     "base_workloads": ["criteo1tb", ...],
     "held_out_workloads": [],
     "workloads": {"criteo1tb": {"target_metric_name": "loss",
                                 "validation_target_value": 0.123735,
                                 "step_hint": 10666}, ...}}

Optional per-workload keys understood here:

* ``target_metric_goal``: ``"minimize"`` | ``"maximize"`` (official key), or
  ``metric_direction``: ``"min"`` | ``"max"`` (this project's key).  Without
  them the direction comes from :data:`METRIC_DIRECTION`, an explicit table
  keyed by the exact metric name (no substring guessing).
* ``max_allowed_runtime_sec``: runtime budget of the external-tuning ruleset.
  Without it the budget of an official workload is taken from
  ``official_budgets.json`` (by ``benchmark_version``; held-out variants use
  their base workload's budget).

A trial "reaches the target" at eval ``i`` when ``v_i <= target`` for a
minimized metric and ``v_i >= target`` for a maximized one (NaN never does).

The file is read by path; workload code (which may import JAX) is never
imported.  The default file is this project's targets, package data of
``algoperf_like.workloads`` (``workloads/targets.json`` in the repository).
"""

from __future__ import annotations

import importlib.resources
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from algoperf_like.spec import SELF_TUNING_BUDGET_FACTOR

from .errors import TargetsError

#: Direction of every known metric, keyed by exact metric name: True = minimize.
METRIC_DIRECTION: dict[str, bool] = {
  # minimized
  'loss': True,
  'ce_loss': True,
  'l1_loss': True,
  'ctc_loss': True,
  'error_rate': True,
  'wer': True,
  'ppl': True,
  'perplexity': True,
  'mse': True,
  'mae': True,
  'mean_squared_error': True,
  'mean_absolute_error': True,
  # maximized
  'accuracy': False,
  'mean_average_precision': False,
  'map': False,
  'ssim': False,
  'bleu': False,
  'auc': False,
}

_GOALS = {'minimize': True, 'min': True, 'maximize': False, 'max': False}

BUDGETS_FILE = Path(str(importlib.resources.files(__package__) / 'official_budgets.json'))


@dataclass(frozen=True)
class WorkloadTarget:
  """Scoring constants of one workload (name without framework suffix)."""

  name: str
  metric: str  # e.g. "error_rate"
  value: float  # validation target
  minimize: bool
  step_hint: int | None = None
  budget_s: float | None = None  # external-tuning max_allowed_runtime_sec

  @property
  def column(self) -> str:
    """CSV column holding the validation metric."""
    return f'validation/{self.metric}'


@dataclass(frozen=True)
class Targets:
  """One benchmark version's targets (see module docstring)."""

  workloads: dict[str, WorkloadTarget]
  base: tuple[str, ...]
  held_out: tuple[str, ...] = ()
  version: str | None = None
  self_tuning_factor: float = SELF_TUNING_BUDGET_FACTOR
  path: str = ''
  extra: dict = field(default_factory=dict)

  def get(self, name: str) -> WorkloadTarget | None:
    return self.workloads.get(name)

  def base_of(self, workload: str) -> str:
    """Base workload of a (held-out) variant: the longest base name that
    is a prefix of ``workload``; the name itself when none matches."""
    if workload in self.base:
      return workload
    best = ''
    for b in self.base:
      if workload.startswith(b + '_') and len(b) > len(best):
        best = b
    return best or workload

  def budget(self, workload: str, self_tuning: bool = False) -> float | None:
    """Budget in seconds of ``workload`` for the chosen ruleset, or None."""
    t = self.get(workload)
    b = t.budget_s if t is not None else None
    if b is None:
      return None
    return b * (self.self_tuning_factor if self_tuning else 1.0)


def default_targets_path() -> Path:
  """This project's ``targets.json``, package data of ``algoperf_like.workloads``.

  That package's ``__init__`` holds no code, so reading its data loads no workload.
  """
  return Path(str(importlib.resources.files('algoperf_like.workloads') / 'targets.json'))


def _official_budgets(version: str | None) -> tuple[dict[str, float], float]:
  data = json.loads(BUDGETS_FILE.read_text())
  ver = version if version in data['versions'] else data['latest']
  entry = data['versions'][ver]
  return dict(entry['max_allowed_runtime_sec']), float(entry['self_tuning_runtime_factor'])


def _direction(name: str, spec: dict, path: str) -> bool:
  for key in ('target_metric_goal', 'metric_direction'):
    if key in spec:
      goal = str(spec[key]).lower()
      if goal not in _GOALS:
        raise TargetsError(
          f'{path}: workload {name!r}: {key} must be one of {sorted(_GOALS)}, got {spec[key]!r}'
        )
      return _GOALS[goal]
  metric = spec['target_metric_name']
  if metric not in METRIC_DIRECTION:
    raise TargetsError(
      f'{path}: workload {name!r}: unknown direction of metric {metric!r}; '
      'add "metric_direction": "min"|"max" to the targets file'
    )
  return METRIC_DIRECTION[metric]


def load_targets(path: str | Path | None = None) -> Targets:
  """Load and validate a targets file (default: ``workloads/targets.json``)."""
  p = Path(path) if path is not None else default_targets_path()
  try:
    raw = json.loads(p.read_text())
  except FileNotFoundError:
    raise TargetsError(f'targets file not found: {p}') from None
  except (OSError, UnicodeDecodeError) as e:
    raise TargetsError(f'cannot read targets file {p}: {e}') from None
  except json.JSONDecodeError as e:
    raise TargetsError(f'{p}:{e.lineno}: invalid JSON: {e.msg}') from None
  if not isinstance(raw, dict) or not isinstance(raw.get('workloads'), dict):
    raise TargetsError(f"{p}: expected an object with a 'workloads' object")
  version = raw.get('benchmark_version')
  version = str(version) if version is not None else None
  budgets, factor = _official_budgets(version)
  factor = float(raw.get('self_tuning_runtime_factor', factor))
  wl: dict[str, WorkloadTarget] = {}
  for name, spec in raw['workloads'].items():
    if not isinstance(spec, dict):
      raise TargetsError(f'{p}: workload {name!r}: expected an object')
    try:
      metric = str(spec['target_metric_name'])
      value = float(spec['validation_target_value'])
    except (KeyError, TypeError, ValueError) as e:
      raise TargetsError(f'{p}: workload {name!r}: bad or missing field {e}') from None
    if math.isnan(value):
      raise TargetsError(f'{p}: workload {name!r}: target is NaN')
    budget = spec.get('max_allowed_runtime_sec')
    wl[name] = WorkloadTarget(
      name=name,
      metric=metric,
      value=value,
      minimize=_direction(name, spec, str(p)),
      step_hint=spec.get('step_hint'),
      budget_s=float(budget) if budget is not None else None,
    )
  base = tuple(raw.get('base_workloads') or sorted(wl))
  held = tuple(raw.get('held_out_workloads') or ())
  missing = [w for w in base + held if w not in wl]
  if missing:
    raise TargetsError(f"{p}: base/held-out workloads missing from 'workloads': {missing}")
  tg = Targets(
    workloads=wl, base=base, held_out=held, version=version, self_tuning_factor=factor, path=str(p)
  )
  # Official budgets for workloads (and their held-out variants) without one.
  filled = {}
  for name, t in wl.items():
    if t.budget_s is None:
      b = budgets.get(name, budgets.get(tg.base_of(name)))
      if b is not None:
        t = WorkloadTarget(t.name, t.metric, t.value, t.minimize, t.step_hint, float(b))
    filled[name] = t
  return Targets(
    workloads=filled,
    base=base,
    held_out=held,
    version=version,
    self_tuning_factor=factor,
    path=str(p),
  )
