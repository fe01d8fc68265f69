"""Read the targets file: targets and budgets as data (no JAX import).

Both the workloads and the scorer read ``targets.json``, package data of
:mod:`algoperf_like.workloads` (``workloads/targets.json`` in the repository),
so a target lives in one place.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path
from typing import Any, Dict

TARGETS_FILE = Path(str(importlib.resources.files(__package__) / 'targets.json'))
# AlgoPerf's own numbers for its full-scale workloads (not set here: a benchmark version's).
ALGOPERF_WORKLOADS_FILE = Path(
  str(importlib.resources.files(__package__) / 'algoperf_workloads.json')
)


@functools.lru_cache(maxsize=None)
def load_targets(path: str | None = None) -> Dict[str, Any]:
  """The whole targets file as a dict (official ``workload_targets*.json`` layout)."""
  with open(path or TARGETS_FILE) as f:
    return json.load(f)


@functools.lru_cache(maxsize=None)
def load_algoperf_workloads() -> Dict[str, Any]:
  """AlgoPerf v0.6's constants of its full-scale workloads, by name."""
  with open(ALGOPERF_WORKLOADS_FILE) as f:
    return json.load(f)['workloads']


def workload_targets(name: str) -> Dict[str, Any]:
  """The entry of one workload (CPU suite: ``targets.json``; AlgoPerf's own workloads:
  ``algoperf_workloads.json``); ``KeyError`` names the known workloads."""
  entries = load_targets()['workloads']
  if name not in entries and name in load_algoperf_workloads():
    return load_algoperf_workloads()[name]
  if name not in entries:
    raise KeyError(
      f'no targets for workload {name!r} in {TARGETS_FILE} (known: {", ".join(sorted(entries))})'
    )
  return entries[name]


# The keys AlgoPerf's scorer reads per workload (its WorkloadConfig refuses any other).
ALGOPERF_KEYS = ('target_metric_name', 'validation_target_value', 'step_hint')


def algoperf_targets(path: str | None = None) -> Dict[str, Any]:
  """The targets file in AlgoPerf's format: the same top-level layout, and per workload
  exactly ``target_metric_name``, ``validation_target_value`` and ``step_hint``."""
  full = load_targets(path)
  out = {k: v for k, v in full.items() if k != 'workloads' and not k.startswith('_')}
  out['workloads'] = {
    name: {k: entry[k] for k in ALGOPERF_KEYS} for name, entry in full['workloads'].items()
  }
  return out
