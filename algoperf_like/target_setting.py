"""Set a workload's targets and budgets the way AlgoPerf does, automatically.

Procedure (AlgoPerf, "Benchmarking Neural Network Training Algorithms",
Dahl et al. 2023, section on target setting), on a fixed step budget so that
it is deterministic on CPU:

1. For each candidate algorithm (AdamW, NAdamW, Nesterov, heavy-ball
   momentum), run ``trials`` quasirandom points of its search space for
   ``steps`` steps, evaluating every ``eval_every`` steps; score each run by
   its best validation metric.
2. Take the best algorithm and configuration, and rerun it with ``seeds``
   fresh seeds.
3. Validation target: the median over those reruns of the best validation
   metric. Test target: the median of the test metric at the same evals.
   A run that diverges (NaN or inf) is recorded and has no result.
4. ``step_hint``: the step_hint the runs used (it sets the baselines'
   schedules, so a baseline run with the committed targets repeats a
   target-setting run); the median number of steps the reruns took to reach
   the target is recorded beside it. ``max_allowed_runtime_sec``: three times the median
   submission time they took to reach it, at least 10 s (compilation alone
   takes about a second on CPU; a shared 2-core machine is noisy).
   ``eval_period_time_sec``: chosen so that evaluation costs about 15% of the
   training time (the reruns' median cost of one evaluation / 0.15), at least 0.2 s.

The result, with every run's configuration, seed and numbers and the
machine's fingerprint, goes to ``workloads/target_setting/<workload>.json``
and the targets into ``workloads/targets.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import statistics
from typing import Any, Callable, Dict, List, Optional, Sequence

from algoperf_like import environment, search_space, trial_logs
from algoperf_like.runner import RunConfig, train_once
from algoperf_like.submission import load_submission
from algoperf_like.trial_plan import derive_trial_seed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALGORITHMS = ('adamw', 'nadamw', 'nesterov', 'momentum')
EVAL_SHARE = 0.15
# ...but no shorter than this: the cheapest evaluations (criteo_synth, a few ms) would
# otherwise come every few dozen steps, each with its log row and progress line.
MIN_EVAL_PERIOD_SEC = 0.2
RUNTIME_FACTOR = 3.0  # Budget = 3x the reruns' median time to target...
MIN_RUNTIME_SEC = 10.0  # ...but at least 10 s: compilation alone takes ~1 s on CPU.


@dataclasses.dataclass(frozen=True)
class Budget:
  """How much the procedure runs: the committed targets record these numbers."""

  steps: int
  eval_every: int
  trials: int = 3
  seeds: int = 5
  rng_seed: int = 0
  algorithms: Sequence[str] = ALGORITHMS
  # The workload's step_hint during the runs (it sets the baselines' schedules); recorded
  # so that the runs can be repeated exactly after the procedure commits a new one.
  step_hint: Optional[int] = None


@contextlib.contextmanager
def step_hint_of(workload, step_hint: Optional[int]):
  """Run with ``workload.step_hint == step_hint`` (None: unchanged)."""
  original = workload.constants
  if step_hint is not None:
    workload.constants = dataclasses.replace(original, step_hint=step_hint)
  try:
    yield workload
  finally:
    workload.constants = original


def _better(direction: str) -> Callable[[float, float], bool]:
  return (lambda a, b: a < b) if direction == 'min' else (lambda a, b: a > b)


def _run(
  workload,
  algorithm: str,
  point: Optional[Dict[str, Any]],
  seed: int,
  budget: Budget,
  data_dir: str,
) -> Dict[str, Any]:
  """One run on the step budget; its best validation eval and its curve."""
  submission = load_submission(os.path.join(REPO, 'submissions', algorithm, 'submission.py'))
  config = RunConfig(
    data_dir=data_dir,
    max_global_steps=budget.steps,
    eval_every_steps=budget.eval_every,
    stop_at_target=False,
    max_runtime_sec=1e9,
    save_checkpoints=False,
  )
  try:
    with step_hint_of(workload, budget.step_hint):
      result = train_once(
        workload, submission, search_space.make_hyperparameters(point), seed, None, config
      )
  except FloatingPointError as e:  # Diverged (NaN or inf): a run with no result.
    return {
      'algorithm': algorithm,
      'hyperparameters': point,
      'rng_seed': seed,
      'best_validation': None,
      'test_at_best': None,
      'diverged': str(e),
      'eval_seconds_per_eval': float('nan'),
      'submission_seconds': None,
      'curve': [],
    }
  key = f'validation/{workload.target_metric_name}'
  better = _better(workload.metric_direction)
  best = None
  for row in result.eval_results:
    value = row.get(key)
    if value is not None and math.isfinite(value) and (best is None or better(value, best[key])):
      best = row
  curve = [
    {
      'global_step': r['global_step'],
      'submission_time': r['accumulated_submission_time'],
      'validation': r.get(key),
      'test': r.get(f'test/{workload.target_metric_name}'),
    }
    for r in result.eval_results
  ]
  evals = max(len(result.eval_results), 1)
  return {
    'algorithm': algorithm,
    'hyperparameters': point,
    'rng_seed': seed,
    'best_validation': None if best is None else best[key],
    'test_at_best': None if best is None else best.get(f'test/{workload.target_metric_name}'),
    'eval_seconds_per_eval': result.timing['eval_time_s'] / evals,
    'submission_seconds': result.accumulated_submission_time,
    'curve': curve,
  }


def _first_reaching(curve: List[Dict[str, Any]], target: float, direction: str):
  better_or_equal = (lambda v: v <= target) if direction == 'min' else (lambda v: v >= target)
  return next(
    (c for c in curve if c['validation'] is not None and better_or_equal(c['validation'])), None
  )


def set_targets(
  workload, data_dir: str, budget: Budget, log: Callable[[str], None] = print
) -> Dict[str, Any]:
  """Run the procedure for one workload; return the provenance record (targets included)."""
  name, direction = workload.workload_name, workload.metric_direction
  better = _better(direction)
  if budget.step_hint is None:
    budget = dataclasses.replace(budget, step_hint=workload.step_hint)
  tuning: List[Dict[str, Any]] = []
  for algorithm in budget.algorithms:
    space = search_space.load_search_space(
      os.path.join(REPO, 'submissions', algorithm, 'tuning_search_space.json')
    )
    for i, point in enumerate(search_space.quasirandom_points(space, budget.trials)):
      seed = derive_trial_seed(budget.rng_seed, name, 0, i + 1, salt=ALGORITHMS.index(algorithm))
      run = _run(workload, algorithm, point, seed, budget, data_dir)
      log(
        f'[{name}] tuning {algorithm} point {i + 1}/{budget.trials}: best '
        f'validation/{workload.target_metric_name} {run["best_validation"]}'
      )
      tuning.append(run)
  finished = [r for r in tuning if r['best_validation'] is not None]
  if not finished:
    raise RuntimeError(f'{name}: every tuning run diverged; raise the budget or fix the workload')
  best = finished[0]
  for run in finished[1:]:
    if better(run['best_validation'], best['best_validation']):
      best = run

  reruns = []
  for k in range(budget.seeds):
    seed = derive_trial_seed(budget.rng_seed, name, 1, k + 1)
    run = _run(workload, best['algorithm'], best['hyperparameters'], seed, budget, data_dir)
    log(
      f'[{name}] seed {k + 1}/{budget.seeds} of {best["algorithm"]}: best '
      f'validation/{workload.target_metric_name} {run["best_validation"]}'
    )
    reruns.append(run)
  valid = [r for r in reruns if r['best_validation'] is not None]
  validation_target = statistics.median(r['best_validation'] for r in valid)
  test_values = [r['test_at_best'] for r in valid if r['test_at_best'] is not None]
  reach = [_first_reaching(r['curve'], validation_target, direction) for r in valid]
  reach = [c for c in reach if c is not None]
  steps_to_target = int(statistics.median(c['global_step'] for c in reach))
  time_to_target = statistics.median(c['submission_time'] for c in reach)
  eval_seconds = statistics.median(r['eval_seconds_per_eval'] for r in valid)
  targets = {
    'target_metric_name': workload.target_metric_name,
    'metric_direction': direction,
    'validation_target_value': round(validation_target, 6),
    'test_target_value': round(statistics.median(test_values), 6) if test_values else None,
    'max_allowed_runtime_sec': int(
      math.ceil(max(RUNTIME_FACTOR * time_to_target, MIN_RUNTIME_SEC))
    ),
    'eval_period_time_sec': eval_period(eval_seconds),
    'step_hint': budget.step_hint,
  }
  for run in tuning + reruns:
    run.pop('curve')
  return {
    'workload': name,
    'targets': targets,
    'budget': dataclasses.asdict(budget),
    'best': {'algorithm': best['algorithm'], 'hyperparameters': best['hyperparameters']},
    'tuning_runs': tuning,
    'seed_runs': reruns,
    'median_time_to_target_sec': time_to_target,
    'median_steps_to_target': steps_to_target,
    'machine': environment.fingerprint(),
  }


def eval_period(eval_seconds: float) -> float:
  """Seconds between evaluations so that they cost ``EVAL_SHARE`` of training time."""
  return round(max(eval_seconds / EVAL_SHARE, MIN_EVAL_PERIOD_SEC), 2)


def provenance_path(name: str) -> str:
  return os.path.join(REPO, 'workloads', 'target_setting', f'{name}.json')


def commit(record: Dict[str, Any], targets_file: str) -> None:
  """Write the provenance file and the workload's entry of ``targets.json``."""
  import json

  os.makedirs(os.path.dirname(provenance_path(record['workload'])), exist_ok=True)
  trial_logs.write_json(provenance_path(record['workload']), record)
  with open(targets_file) as f:
    all_targets = json.load(f)
  entry = dict(record['targets'])
  entry['provenance'] = (
    f'algoperf-like set-targets: workloads/target_setting/{record["workload"]}.json'
  )
  all_targets['workloads'][record['workload']] = entry
  with open(targets_file + '.tmp', 'w') as f:
    json.dump(all_targets, f, indent=2)
    f.write('\n')
  os.replace(targets_file + '.tmp', targets_file)


def reproduce(
  workload, data_dir: str, record: Dict[str, Any], log: Callable[[str], None] = print
) -> Dict[str, float]:
  """Rerun the committed seed runs of ``record``; compare their median with its target."""
  budget = Budget(**record['budget'])
  values = []
  for run in record['seed_runs']:
    again = _run(
      workload, run['algorithm'], run['hyperparameters'], run['rng_seed'], budget, data_dir
    )
    log(
      f'[{workload.workload_name}] seed {run["rng_seed"]}: best validation '
      f'{again["best_validation"]} (committed {run["best_validation"]})'
    )
    values.append(again['best_validation'])
  committed = [r['best_validation'] for r in record['seed_runs']]
  return {
    'committed_target': record['targets']['validation_target_value'],
    'reproduced_target': statistics.median(values),
    'committed_spread': max(committed) - min(committed),
  }
