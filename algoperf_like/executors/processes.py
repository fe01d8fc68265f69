"""Each trial in its own child process, up to ``max_parallel`` at a time.

A trial that crashes, leaks memory or is killed takes only its own process
down: the parent notices the missing summary and marks that trial failed.
Child processes are started with ``spawn`` (a fresh interpreter: JAX state
is never forked).
"""

from __future__ import annotations

import multiprocessing
import time
from typing import List, Sequence, Tuple

from algoperf_like import command_line, sweep, trial_logs


def _child(job: sweep.TrialJob) -> None:
  command_line.quiet_libraries()  # Quiet TF/absl logging in the child as in the CLI.
  sweep.run_trial(job)


class ProcessExecutor:
  def __init__(self, max_parallel: int = 1, poll_seconds: float = 0.2) -> None:
    if max_parallel < 1:
      raise ValueError(f'max_parallel must be >= 1, got {max_parallel}')
    self.max_parallel = max_parallel
    self.poll_seconds = poll_seconds

  def run(self, jobs: Sequence[sweep.TrialJob], report) -> None:
    context = multiprocessing.get_context('spawn')
    pending = list(jobs)
    running: List[Tuple[sweep.TrialJob, multiprocessing.Process]] = []
    try:
      while pending or running:
        while pending and len(running) < self.max_parallel:
          job = pending.pop(0)
          process = context.Process(target=_child, args=(job,), daemon=True)
          process.start()
          running.append((job, process))
        time.sleep(self.poll_seconds)
        for job, process in list(running):
          if process.is_alive():
            continue
          process.join()
          running.remove((job, process))
          summary = trial_logs.read_summary(job.trial.log_dir)
          if summary is None:
            summary = sweep.failed_summary(
              job.trial,
              f'worker process exited with code {process.exitcode} before the trial finished',
            )
          report(job, summary)
    finally:
      for _, process in running:  # Ctrl-C or an error here: stop the children too.
        process.terminate()
        process.join()
