"""Trials one after another in this process (the default)."""

from __future__ import annotations

import traceback
from typing import Callable, Optional, Sequence

from algoperf_like import sweep


class LocalExecutor:
  """Runs trials in order here. ``progress(job)`` may return an ``on_eval`` callback."""

  def __init__(self, progress: Optional[Callable] = None) -> None:
    self.progress = progress

  def run(self, jobs: Sequence[sweep.TrialJob], report) -> None:
    for job in jobs:
      on_eval = self.progress(job) if self.progress else None
      try:
        summary = sweep.run_trial(job, on_eval=on_eval)
      except Exception as e:  # The runner already wrote the reason into the trial's logs.
        summary = sweep.trial_logs.read_summary(job.trial.log_dir) or sweep.failed_summary(
          job.trial, f'{type(e).__name__}: {e}'
        )
        summary.setdefault('traceback', traceback.format_exc())
      report(job, summary)
