"""Executors run trials somewhere: here, in child processes, or on a Slurm cluster.

Every executor has one method, ``run(jobs, report)``: it runs each
:class:`~algoperf_like.sweep.TrialJob` through :func:`~algoperf_like.sweep.run_trial`
and calls ``report(job, summary)`` as each trial ends. A trial that fails or
whose worker dies is reported with status ``failed``; the others go on.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Protocol, Sequence

from algoperf_like.sweep import TrialJob

Report = Callable[[TrialJob, Dict[str, Any]], None]


class Executor(Protocol):
  def run(self, jobs: Sequence[TrialJob], report: Report) -> None:
    """Run every job; call ``report`` once per job with its summary."""


def make_executor(name: str, **options) -> Executor:
  """``local``, ``processes`` (option ``max_parallel``) or ``slurm`` (submitit options)."""
  if name == 'local':
    from algoperf_like.executors.local import LocalExecutor

    return LocalExecutor(**options)
  if name == 'processes':
    from algoperf_like.executors.processes import ProcessExecutor

    return ProcessExecutor(**options)
  if name == 'slurm':
    from algoperf_like.executors.slurm import SlurmExecutor

    return SlurmExecutor(**options)
  raise ValueError(f'unknown executor {name!r} (local, processes, slurm)')
