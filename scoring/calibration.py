"""Reference-system normalisation (``score --normalise_to_reference=REF``).

A calibration record (``algoperf-like calibrate``, :mod:`algoperf_like.calibration`)
says how many seconds this machine took for a fixed small training loop. With
the reference system's record ``REF`` (a committed calibration, e.g.
``docs/noise/reference_calibration.json`` for this project's 2-core CPU machine),
every time of a trial is multiplied by ``REF.seconds / calibration.seconds``: a
machine twice as fast as the reference gets its times doubled, so that times from
different machines are in the reference system's seconds.

A trial's calibration is the first ``calibration.json`` found in its trial
directory (``algoperf-like noise --calibrate`` writes one per trial, timed just
before and after it), its submission directory, or the root of the tree (one
calibration for a whole study: ``algoperf-like calibrate --output=TREE/calibration.json``).
How well the loop predicts a workload's speed is measured, not assumed: see the
noise report (``docs/noise/``), which gives the calibration's own coefficient of
variation and whether normalising shrinks the spread between repeats.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from .errors import ScoringError
from .read import LogData

FILE = 'calibration.json'


def load(path: str | Path) -> dict:
  """A calibration record; ScoringError when it is missing or has no ``seconds``."""
  try:
    with open(path) as f:
      record = json.load(f)
  except OSError as e:
    raise ScoringError(f'cannot read calibration {path}: {e.strerror}') from None
  except ValueError:
    raise ScoringError(f'calibration {path} is not JSON') from None
  seconds = record.get('seconds') if isinstance(record, dict) else None
  if not isinstance(seconds, (int, float)) or not seconds > 0:
    raise ScoringError(f'calibration {path} has no positive "seconds"')
  return record


def trial_calibration(eval_csv: str, root: str) -> str | None:
  """The calibration file that applies to the trial of ``eval_csv`` (None: none)."""
  trial_dir = Path(eval_csv).parent
  candidates = [trial_dir / FILE, trial_dir.parents[2] / FILE, Path(root) / FILE]
  return next((str(c) for c in candidates if c.is_file()), None)


def normalise(logs: LogData, root: str, reference: str | Path) -> tuple[LogData, list[str]]:
  """``logs`` with every trial's times in reference-system seconds.

  Raises:
    ScoringError: the reference or a trial's calibration is missing or unreadable.
  """
  ref = load(reference)['seconds']
  lengths = logs.trials['n_evals'].to_numpy(dtype=np.int64)
  factors = np.ones(int(lengths.sum()))
  missing, cache, start = [], {}, 0
  for path, n in zip(logs.trials['path'], lengths):
    cal = trial_calibration(str(path), root)
    if cal is None:
      missing.append(str(path))
    else:
      if cal not in cache:
        cache[cal] = load(cal)['seconds']
      factors[start : start + n] = ref / cache[cal]
    start += n
  if missing:
    raise ScoringError(
      f'--normalise_to_reference: {len(missing)} trial(s) have no {FILE} (in the trial, '
      f'submission or tree directory), e.g. {os.path.dirname(missing[0])}; run '
      f'algoperf-like calibrate --output={os.path.join(root, FILE)}'
    )
  evals = logs.evals.copy()
  evals['submission_time_s'] = evals['submission_time_s'].to_numpy(dtype=float) * factors
  spread = sorted(set(np.round(ref / np.array(list(cache.values())), 3)))
  msg = (
    f'times in reference-system seconds ({reference}: {ref:.4g} s); factors '
    f'{spread[0]}-{spread[-1]} from {len(cache)} calibration(s)'
  )
  return dataclasses.replace(logs, evals=evals), [msg]
