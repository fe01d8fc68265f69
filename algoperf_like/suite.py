"""Run the baselines on a suite of workloads, score them, print the leaderboard.

Full mode: each baseline is tuned on every workload of the suite as the
external-tuning ruleset says (one study of ``num_tuning_trials`` quasirandom
points of its own search space). Quick mode (``make demo``): each baseline
runs once per workload with its best point from that workload's committed
target-setting runs (``workloads/target_setting/<workload>.json``), which is
a per-workload oracle, not a tuning result: it shows the machinery and the
relative speed of the algorithms in minutes, not a benchmark score. Where
no such point converged, the baseline's first search-space point is used.
A submission with no target-setting runs of its own (a data-selection method
built on NAdamW, say) can borrow them: with ``quick_base='nadamw'`` it takes
NAdamW's best point for the hyperparameters the two share and its own first
search-space point for the rest, so that only what differs is compared.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

from algoperf_like import registry, search_space, target_setting, trial_plan
from algoperf_like.trial_plan import TrialSpec


def best_point(workload: str, algorithm: str) -> Optional[dict]:
  """The algorithm's best tuning point in the workload's target-setting record."""
  path = target_setting.provenance_path(workload)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    record = json.load(f)
  direction = record['targets']['metric_direction']
  runs = [
    r
    for r in record['tuning_runs']
    if r['algorithm'] == algorithm and r['best_validation'] is not None
  ]
  if not runs:
    return None
  pick = min if direction == 'min' else max
  return pick(runs, key=lambda r: r['best_validation'])['hyperparameters']


def quick_point(workload: str, name: str, space, quick_base: Optional[str] = None) -> dict:
  """The point a submission runs with in quick mode (see the module docstring)."""
  first = search_space.quasirandom_points(space, 1)[0]
  best = best_point(workload, name)
  if best is None and quick_base:
    base = best_point(workload, quick_base)
    if base is not None:
      best = {**first, **{k: v for k, v in base.items() if k in first}}
  return first if best is None else best


def plan_suite(
  workloads: List[str],
  submissions: List[str],
  experiment_dir: str,
  quick: bool,
  num_tuning_trials: int,
  rng_seed: int,
  quick_base: Optional[str] = None,
  num_studies: int = 1,
) -> List[TrialSpec]:
  """The trials of every submission on every workload, in ``num_studies`` studies.

  In quick mode a study is the same point with the study's own seed, so that more
  studies measure the spread over seeds (scoring takes the median over studies).
  """
  plan: List[TrialSpec] = []
  for name in submissions:
    path = registry.submission_path(name)
    space = search_space.load_search_space(registry.search_space_path(name))
    if not quick:
      plan += trial_plan.plan_trials(
        workloads,
        path,
        space,
        'external',
        num_studies=num_studies,
        num_tuning_trials=num_tuning_trials,
        rng_seed=rng_seed,
        experiment_dir=experiment_dir,
        experiment_name=name,
      )
      continue
    points = {w: quick_point(w, name, space, quick_base) for w in workloads}
    for study in range(num_studies):
      for workload in workloads:
        plan.append(
          TrialSpec(
            workload=workload,
            submission_path=path,
            study=study,
            trial=1,
            rng_seed=trial_plan.derive_trial_seed(rng_seed, workload, study, 1),
            hyperparameters=points[workload],
            tuning_ruleset='external',
            log_dir=trial_plan.trial_log_dir(experiment_dir, name, study, workload, 1),
          )
        )
  return plan
