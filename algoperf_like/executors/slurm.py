"""One Slurm job-array task per trial, through submitit.

The submitting process waits for the array and reports each trial as its
task ends; a task that fails, times out or is cancelled is reported failed
(its own logs say why when the runner got that far). Trials write their logs
to the shared experiment directory, so the tree is the same as a local run.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Optional, Sequence

from algoperf_like import sweep, trial_logs


class SlurmExecutor:
  """Args:
  folder: where submitit keeps job scripts, pickles and Slurm stdout/stderr.
  partition: Slurm partition (None: the cluster's default).
  time_min: time limit per task, in minutes.
  cpus_per_task, gpus_per_task: resources per task.
  max_parallel: tasks of the array that may run at once (None: no limit).
  python: the command that starts Python in each task (None: this interpreter), e.g.
    ``apptainer exec --nv algoperf-like.sif python`` to run every trial in the image.
  """

  def __init__(
    self,
    folder: str,
    partition: Optional[str] = None,
    time_min: int = 60,
    cpus_per_task: int = 1,
    gpus_per_task: int = 0,
    max_parallel: Optional[int] = None,
    poll_seconds: float = 2.0,
    python: Optional[str] = None,
  ) -> None:
    self.folder = folder
    self.python = python
    self.parameters = {
      'timeout_min': time_min,
      'cpus_per_task': cpus_per_task,
      'slurm_job_name': 'algoperf_like',
    }
    if partition:
      self.parameters['slurm_partition'] = partition
    if gpus_per_task:
      self.parameters['slurm_gpus_per_task'] = gpus_per_task
    if max_parallel:
      self.parameters['slurm_array_parallelism'] = max_parallel
    self.poll_seconds = poll_seconds

  def run(self, jobs: Sequence[sweep.TrialJob], report) -> None:
    if not jobs:
      return
    import submitit

    extra = {'slurm_python': self.python} if self.python else {}
    executor = submitit.AutoExecutor(folder=os.path.abspath(self.folder), cluster='slurm', **extra)
    executor.update_parameters(**self.parameters)
    tasks = executor.map_array(sweep.run_trial, list(jobs))
    pending = list(zip(jobs, tasks))
    try:
      while pending:
        time.sleep(self.poll_seconds)
        queued = _queued_job_ids()
        for job, task in list(pending):
          # Without Slurm accounting submitit cannot see a task that Slurm cancelled or
          # timed out; a task that has left the queue without a result has ended too.
          if not task.done() and (queued is None or task.job_id in queued):
            continue
          pending.remove((job, task))
          summary = trial_logs.read_summary(job.trial.log_dir)
          if summary is None:
            try:
              task.result()
              reason = 'the Slurm task ended without a trial summary'
            except Exception as e:  # submitit raises the task's failure here.
              reason = f'Slurm task {task.job_id} failed: {str(e).splitlines()[0][:300]}'
            summary = sweep.failed_summary(job.trial, reason)
          report(job, summary)
    except KeyboardInterrupt:
      for _, task in pending:
        task.cancel(check=False)
      raise


def _queued_job_ids() -> Optional[set]:
  """Ids (``123_4`` for array tasks) of this user's jobs in the queue; None if unknown."""
  try:
    out = subprocess.run(
      ['squeue', '--noheader', '--me', '--array', '--format=%i'],
      capture_output=True,
      text=True,
      timeout=30,
      check=True,
    ).stdout
  except (OSError, subprocess.SubprocessError):
    return None
  return {line.strip() for line in out.splitlines() if line.strip()}
