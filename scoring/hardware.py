"""Pinned hardware: times are compared only between trials that ran on one class of machine.

A time to target is a property of the submission *and* the machine. Each trial's
``meta_data_{k}.json`` names the machine (this project's runner: ``hardware_class``
and the ``device.*``/``cpu.*`` keys it is made from; AlgoPerf's runner:
``gpu_model_name``/``gpu_count``, ``cpu_model_name``/``cpu_count``), and
:func:`algoperf_like.environment.hardware_class` turns either into a class such as
``cpu: Intel(R) Xeon(R) Processor x2`` or ``gpu: Tesla V100-SXM2-16GB x8``.

The rule (:func:`check`): when the trials being compared carry more than one known
class, scoring stops with a one-line error naming the classes, unless mixed hardware
is allowed, in which case the report's warnings say so. A trial whose class is
unknown (no ``meta_data`` file, or one without those keys: hand-made trees, logs of
other tools) cannot be shown to differ and is not refused; when known and unknown
classes meet, a warning counts the unknown trials. A trial resumed on another
machine has both classes (``A + B``) and so differs from either.
"""

from __future__ import annotations

import glob
import json
import os

import pandas as pd

from algoperf_like.environment import hardware_class

from .errors import ScoringError

UNKNOWN = 'unknown'


def trial_class(trial_dir: str) -> str:
  """The hardware class of the trial in ``trial_dir`` ('unknown' where none is recorded)."""
  classes = set()
  for path in sorted(glob.glob(os.path.join(trial_dir, 'meta_data_*.json'))):
    try:
      with open(path) as f:
        meta = json.load(f)
    except (OSError, ValueError):
      continue
    c = hardware_class(meta) if isinstance(meta, dict) else None
    if c:
      classes.add(c)
  return ' + '.join(sorted(classes)) if classes else UNKNOWN


def classes(trials: pd.DataFrame) -> pd.DataFrame:
  """``submission, workload, study, trial, hardware_class`` for the trials of a tree.

  Args:
    trials: :class:`~.read.LogData` ``trials`` (with the eval CSV ``path``).
  """
  out = trials[['submission', 'workload', 'study', 'trial']].astype(str).copy()
  out['hardware_class'] = [trial_class(os.path.dirname(p)) for p in trials['path']]
  return out.reset_index(drop=True)


def check(hw: pd.DataFrame, allow_mixed: bool = False) -> list[str]:
  """Refuse a comparison across hardware classes; returns the warnings to report.

  Raises:
    ScoringError: more than one known class and ``allow_mixed`` is False.
  """
  known = hw[hw['hardware_class'] != UNKNOWN]
  names = sorted(set(known['hardware_class']))
  msgs = []
  if len(names) > 1:
    by_class = known.groupby('hardware_class')['submission'].agg(lambda s: sorted(set(s)))
    listed = '; '.join(f'{c} ({", ".join(by_class[c])})' for c in names)
    if not allow_mixed:
      raise ScoringError(
        f'trials ran on different hardware classes: {listed}; '
        'pass --allow_mixed_hardware to compare them anyway'
      )
    msgs.append(f'mixed hardware (allowed): times compared across classes: {listed}')
  n_unknown = int((hw['hardware_class'] == UNKNOWN).sum())
  if names and n_unknown:
    msgs.append(
      f'{n_unknown} trial(s) record no hardware class (not checked against {", ".join(names)})'
    )
  return msgs
