"""Rerun fixed configurations to measure how noisy time to target is.

A noise study holds everything fixed but the seed and the machine: each
submission runs on each workload with the point ``suite --quick`` would give it
(its best target-setting point, :func:`algoperf_like.suite.quick_point`), with
``seeds`` seeds and ``repeats`` runs of each seed. Repeats of one seed differ
only by the machine (on CPU the computation is deterministic, so the evals give
the same metrics; only the clock, and so the step at which an eval falls due,
moves); different seeds differ by training too.

The log tree is AlgoPerf's layout, so the scorer and AlgoPerf's reader read it:
``{experiment_dir}/{submission}/study_{s}/{workload}_jax/trial_{r}/``, a study
per seed and a trial per repeat. Seed ``s`` is the seed ``suite --quick`` gives
study ``s`` (``derive_trial_seed(rng_seed, workload, s, 1)``), so study 0 is the
demo's run. Finished trials are skipped (:mod:`algoperf_like.sweep`), so an
interrupted study resumes. The load average of the machine at the end of each
trial is appended to ``{experiment_dir}/noise_conditions.jsonl``: a noise figure
means little without the load it was measured under. The numbers themselves
come from :mod:`algoperf_like.scoring.noise` (no JAX).
"""

from __future__ import annotations

import json
import os
import time
from typing import List, Optional, Sequence

from algoperf_like import registry, search_space, suite, trial_plan
from algoperf_like.trial_plan import TrialSpec

CONDITIONS_FILE = 'noise_conditions.jsonl'


def plan_noise(
  workloads: Sequence[str],
  submissions: Sequence[str],
  seeds: int,
  repeats: int,
  experiment_dir: str,
  rng_seed: int = 0,
  quick_base: Optional[str] = None,
) -> List[TrialSpec]:
  """Every (submission, workload, seed, repeat) trial, repeats of one seed adjacent.

  Args:
    workloads, submissions: names in the registry.
    seeds: studies (one seed each); repeats: trials per study (the same seed).
    experiment_dir: root of the log tree.
    rng_seed: the plan's seed (as ``suite --rng_seed``).
    quick_base: as ``suite --quick_base``.

  Returns:
    The plan, ordered seed, submission, workload, repeat (repeats of a seed adjacent).
  """
  if seeds < 1 or repeats < 1:
    raise ValueError(f'need seeds >= 1 and repeats >= 1, got {seeds} and {repeats}')
  points, paths = {}, {}
  for name in submissions:
    paths[name] = registry.submission_path(name)
    space = search_space.load_search_space(registry.search_space_path(name))
    points[name] = {w: suite.quick_point(w, name, space, quick_base) for w in workloads}
  plan: List[TrialSpec] = []
  # Seeds outermost: a study stopped early still compares every submission.
  for study in range(seeds):
    for name in submissions:
      for workload in workloads:
        seed = trial_plan.derive_trial_seed(rng_seed, workload, study, 1)
        for repeat in range(1, repeats + 1):
          plan.append(
            TrialSpec(
              workload=workload,
              submission_path=paths[name],
              study=study,
              trial=repeat,
              rng_seed=seed,
              hyperparameters=points[name][workload],
              tuning_ruleset='external',
              log_dir=trial_plan.trial_log_dir(experiment_dir, name, study, workload, repeat),
            )
          )
  return plan


def machine_load() -> dict:
  """The 1, 5 and 15 minute load averages and the core count (None where unknown)."""
  try:
    one, five, fifteen = os.getloadavg()
  except OSError:
    one = five = fifteen = None
  return {'load_1m': one, 'load_5m': five, 'load_15m': fifteen, 'cpu_count': os.cpu_count()}


class LoadRecordingExecutor:
  """Wraps an executor: after each trial, its load average goes to the conditions file.

  With ``calibrate_repeats`` > 0 the calibration workload
  (:mod:`algoperf_like.calibration`) is also timed just before and just after each
  trial, and their mean is written to the trial's ``calibration.json`` (what
  ``score --normalise_to_reference`` reads). Trials then run one at a time, in
  this process's order.
  """

  def __init__(self, inner, experiment_dir: str, calibrate_repeats: int = 0) -> None:
    self.inner = inner
    self.path = os.path.join(experiment_dir, CONDITIONS_FILE)
    self.calibrate_repeats = calibrate_repeats

  def _calibrate(self):
    from algoperf_like import calibration

    return calibration.calibrate(repeats=self.calibrate_repeats)

  def run(self, jobs, report) -> None:
    os.makedirs(os.path.dirname(self.path) or '.', exist_ok=True)
    before = {}

    def recorded(job, summary):
      record = {
        'log_dir': job.trial.log_dir,
        'time': time.time(),
        'wall_clock_s': summary.get('outside_wall_clock_s') or summary.get('wall_clock_s'),
        'nice': os.nice(0),
        **machine_load(),
      }
      if job.trial.log_dir in before:
        first, after = before.pop(job.trial.log_dir), self._calibrate()
        cal = dict(
          after,
          seconds=(first['seconds'] + after['seconds']) / 2,
          before_s=first['seconds'],
          after_s=after['seconds'],
          cv_before=first['cv'],
          cv_after=after['cv'],
        )
        with open(os.path.join(job.trial.log_dir, 'calibration.json'), 'w') as f:
          json.dump(cal, f, indent=1)
        record['calibration_s'] = cal['seconds']
      with open(self.path, 'a') as f:
        f.write(json.dumps(record) + '\n')
      report(job, summary)

    if not self.calibrate_repeats:
      self.inner.run(jobs, recorded)
      return
    for job in jobs:
      before[job.trial.log_dir] = self._calibrate()
      self.inner.run([job], recorded)
