"""Run a plan of trials: skip the finished ones, hand the rest to an executor.

A trial is finished when its ``trial_summary.json`` exists (written last by
the runner, whatever the outcome): that file is the explicit completion
marker. A trial directory without it is an interrupted attempt: it continues
from its latest checkpoint, or, without one, is cleared and runs again.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from algoperf_like import registry, trial_logs
from algoperf_like.checkpoints import TrialCheckpointer
from algoperf_like.runner import RunConfig
from algoperf_like.trial_plan import TrialSpec

_WORKLOADS: Dict[tuple, Any] = {}  # One instance per (workload, data_dir) per process.


@dataclasses.dataclass(frozen=True)
class TrialJob:
  """Everything a worker (this process, a child process, a Slurm task) needs for one trial."""

  trial: TrialSpec
  config: RunConfig
  flags: Dict[str, Any]
  # Modules that register workloads (``--workload_module``), imported before the trial.
  workload_modules: Tuple[str, ...] = ()
  # A sandbox.SandboxConfig: run the trial in bubblewrap (None: in this process).
  sandbox: Optional[Any] = None


def run_trial(job: TrialJob, on_eval: Optional[Callable] = None) -> Dict[str, Any]:
  """Run one trial and return its summary (the content of ``trial_summary.json``).

  Importable by name and picklable, so every executor runs trials the same way; a job with
  a ``sandbox`` runs in a bubblewrap child (:func:`algoperf_like.sandbox.run_trial`), whatever
  the executor.
  """
  if job.sandbox is not None:  # A sandbox.SandboxConfig.
    return job.sandbox.run_trial(job)
  from algoperf_like.runner import train_once
  from algoperf_like.submission import load_submission

  for module in job.workload_modules:
    registry.import_workload_module(module)
  job = prepare_log_dir(job)
  trial = job.trial
  config = job.config
  workload = get_workload(trial.workload, job.config.data_dir)
  vocab_path = (job.flags or {}).get('librispeech_tokenizer_vocab_path')
  if vocab_path and hasattr(workload, 'tokenizer_vocab_path'):  # The LibriSpeech workloads.
    workload.tokenizer_vocab_path = vocab_path
  submission = load_submission(trial.submission_path)
  start = time.monotonic()
  result = train_once(
    workload,
    submission,
    trial.hyperparameters_tuple(),
    trial.rng_seed,
    trial.log_dir,
    config,
    on_eval=on_eval,
    flags=job.flags,
  )
  # Timing integrity: the trial's own account against a clock it never saw.
  outside = time.monotonic() - start
  summary = result.summary()
  summary['outside_wall_clock_s'] = outside
  summary['timing_integrity_ok'] = abs(outside - sum(result.timing.values())) <= max(
    0.02 * outside, 1.0
  )
  trial_logs.write_json(os.path.join(trial.log_dir, trial_logs.SUMMARY_FILE), summary)
  return summary


def prepare_log_dir(job: TrialJob) -> TrialJob:
  """An interrupted attempt (a trial directory without a summary) continues from its latest
  checkpoint (the job's config gets ``resume``), or else its directory is emptied. The
  directory itself stays: in a sandbox it is a mount point."""
  trial, config = job.trial, job.config
  if os.path.isdir(trial.log_dir):
    if config.save_checkpoints and TrialCheckpointer(trial.log_dir).latest() is not None:
      return dataclasses.replace(job, config=dataclasses.replace(config, resume=True))
    for name in os.listdir(trial.log_dir):
      path = os.path.join(trial.log_dir, name)
      if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
  return job


def get_workload(name: str, data_dir: Optional[str]):
  """The registry's workload ``name``, one instance per (name, data_dir) in this process."""
  key = (name, data_dir)
  if key not in _WORKLOADS:
    _WORKLOADS[key] = registry.get_workload(name, data_dir)
  return _WORKLOADS[key]


def trial_label(trial: TrialSpec) -> str:
  return f'{trial.workload} study {trial.study} trial {trial.trial}'


def split_finished(plan: Sequence[TrialSpec]) -> tuple[list, list]:
  """``(finished, to_run)``: trials with a completion marker, and the others."""
  finished, to_run = [], []
  for trial in plan:
    (finished if trial_logs.read_summary(trial.log_dir) is not None else to_run).append(trial)
  return finished, to_run


def failed_summary(trial: TrialSpec, reason: str) -> Dict[str, Any]:
  """Mark a trial whose worker died without writing its summary (crash, OOM kill)."""
  os.makedirs(trial.log_dir, exist_ok=True)
  summary = {
    'status': 'failed',
    'error': reason,
    'rng_seed': trial.rng_seed,
    'time_to_target': None,
    'log_dir': trial.log_dir,
  }
  trial_logs.write_json(os.path.join(trial.log_dir, trial_logs.SUMMARY_FILE), summary)
  return summary


def jobs_for(
  trials: Sequence[TrialSpec],
  config: RunConfig,
  flags: Dict[str, Any],
  workload_modules: Sequence[str] = (),
  sandbox: Optional[Any] = None,
) -> List[TrialJob]:
  modules = tuple(registry.portable_module_name(m) for m in workload_modules)
  return [TrialJob(t, config, flags, modules, sandbox) for t in trials]
