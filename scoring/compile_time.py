"""Time to target without compilation (``score --exclude_compile_time``).

Compilation is submission time under AlgoPerf's rules, and stays so in the
default score. This project's runner also records, per evaluation, the compile
seconds spent in the submission's calls up to that evaluation
(``trial_summary.json`` ``compile_time.submission_compile_s_at_eval``, see
:mod:`algoperf_like.compile_time`); subtracting them from each eval's
``accumulated_submission_time`` gives the time the submission spent computing,
which compares machines and JAX versions whose compilers differ in speed.

A trial without that record (AlgoPerf's logs, older trees), or whose record does
not cover every eval of its CSV (a trial resumed after a preemption records only
its last attempt), keeps its times, and a warning counts such trials.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from algoperf_like import trial_logs

from .read import LogData


def _offsets(trial_dir: str, n_evals: int) -> np.ndarray | None:
  try:
    with open(os.path.join(trial_dir, trial_logs.SUMMARY_FILE)) as f:
      record = (json.load(f) or {}).get('compile_time')
  except (OSError, ValueError, AttributeError):
    return None
  if not isinstance(record, dict) or record.get('resumed'):
    return None
  at_eval = record.get('submission_compile_s_at_eval')
  if not isinstance(at_eval, list) or len(at_eval) != n_evals:
    return None
  return np.asarray(at_eval, dtype=float)


def without_compile_time(logs: LogData) -> tuple[LogData, list[str]]:
  """``logs`` with each eval's time less the submission's compile seconds before it.

  Returns:
    The adjusted copy and warning messages.
  """
  lengths = logs.trials['n_evals'].to_numpy(dtype=np.int64)
  offsets = np.zeros(int(lengths.sum()))
  missing = 0
  start = 0
  for path, n in zip(logs.trials['path'], lengths):
    got = _offsets(os.path.dirname(str(path)), int(n)) if n else np.zeros(0)
    if got is None:
      missing += 1
    else:
      offsets[start : start + n] = got
    start += n
  evals = logs.evals.copy()
  evals['submission_time_s'] = evals['submission_time_s'].to_numpy(dtype=float) - offsets
  msgs = []
  if missing:
    msgs.append(
      f'--exclude_compile_time: {missing} of {len(lengths)} trial(s) have no per-eval compile '
      'record covering their evals (AlgoPerf logs, resumed trials): their times include '
      'compilation'
    )
  return dataclasses.replace(logs, evals=evals), msgs
