"""Set a workload's targets and budgets the way AlgoPerf does, automatically.

Procedure (AlgoPerf, "Benchmarking Neural Network Training Algorithms",
Dahl et al. 2023, section on target setting), on a fixed step budget so that
it is deterministic on CPU:

1. For each candidate algorithm (AdamW, NAdamW, Nesterov, heavy-ball
   momentum), run ``trials`` quasirandom points of its search space for
   ``steps`` steps, evaluating every ``eval_every`` steps; score each run by
   its best validation metric.
2. Stability: rank the tuning configurations by that score and rerun the best one
   with ``seeds`` fresh seeds. A seed run *converged* when it closed at least
   ``CONVERGED_FRACTION`` of the gap between the untrained model (the metric of
   the initialised model, evaluated once) and the best seed run; a run that
   diverged did not converge. The first configuration whose seed runs all
   converged is chosen; otherwise the next one is tried, up to ``candidates``
   configurations. Where none is stable, the one with the most converged seed
   runs is chosen if a majority of them converged, else the procedure fails.
   A configuration on the edge of stability (some seeds stuck) would give a
   bimodal set of results whose median another CPU's rounding flips, so it is
   never the one a target rests on. The record keeps every candidate's seed
   runs and how many converged.
3. Validation target: the median over those reruns of the best validation
   metric. Test target: the median of the test metric at the same evals.
   A run that diverges (NaN or inf) is recorded and has no result.
4. ``budget.step_hint``: the step_hint the runs used (it sets the baselines'
   schedules, so the runs can be repeated exactly); the median number of steps the
   reruns took to reach the target is recorded beside it.
5. Scored budget. The best validation metric of a target-setting run comes with the
   last steps of its annealing, so a scored run on the same schedule would meet the
   target at the very end of its schedule, where seed-to-seed noise (measured: a few
   hundredths of SSIM on fastmri1d) decides whether it is met at all, and a tuned
   baseline reached it in 1 to 3 of the 6 base workloads. The committed
   ``step_hint`` is therefore ``SCORED_STEP_HINT_FACTOR`` times the runs' one (the
   runs' own stays in ``budget.step_hint``, so they can be repeated), as AlgoPerf's
   step_hint is what fits in the runtime budget rather than what the targets took.
   ``max_allowed_runtime_sec``: three times the median submission time the reruns
   took to reach the target, at least 10 s (compilation alone takes about a second
   on CPU; a shared 2-core machine is noisy), and at least ``SCHEDULE_HEADROOM`` times
   the time of the scored schedule at the reruns' speed, so that a slow machine does
   not cut the schedule short.
   ``eval_period_time_sec``: chosen so that evaluation costs about 15% of the
   training time (the reruns' median cost of one evaluation / 0.15), at least 0.2 s.

The result, with every run's configuration, seed and numbers and the
machine's fingerprint, goes to ``<output_dir>/target_setting/<workload>.json``
and the targets into ``<output_dir>/targets.json`` (see :func:`commit`); the
committed ones are package data of ``algoperf_like.workloads`` (the repository's
``workloads/`` folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.resources
import json
import math
import os
import statistics
from typing import Any, Callable, Dict, List, Optional, Sequence

from algoperf_like import environment, registry, search_space, trial_logs
from algoperf_like.runner import RunConfig, train_once
from algoperf_like.submission import load_submission
from algoperf_like.trial_plan import derive_trial_seed

ALGORITHMS = registry.submission_group('target_setting')
EVAL_SHARE = 0.15
# ...but no shorter than this: the cheapest evaluations (criteo_synth, a few ms) would
# otherwise come every few dozen steps, each with its log row and progress line.
MIN_EVAL_PERIOD_SEC = 0.2
# A seed run converged when it closed this share of the gap from the untrained model to the
# best seed run (a stuck or half-trained run falls short; see the module docstring).
CONVERGED_FRACTION = 0.9
STABILITY_RULE = (
  'A seed run converged when (untrained - value) >= converged_fraction * (untrained - best), '
  'best being the best seed run of the configuration and untrained the metric of the '
  'initialised model; a diverged run did not converge. The best-ranked tuning configuration '
  'whose seed runs all converged is chosen (at most budget.candidates are tried); failing '
  'that, the one with the most converged seed runs, if they are a majority.'
)
RUNTIME_FACTOR = 3.0  # Budget = 3x the reruns' median time to target...
MIN_RUNTIME_SEC = 10.0  # ...but at least 10 s: compilation alone takes ~1 s on CPU.
# The scored schedule (the committed step_hint) is this many times the one the targets were
# set with, so that the target falls inside it, not at its end (see the docstring, item 5)...
SCORED_STEP_HINT_FACTOR = 2
# ...and the runtime budget holds that whole schedule this many times over.
SCHEDULE_HEADROOM = 1.5
SCORED_BUDGET_RULE = (
  'targets.step_hint = step_hint_factor x budget.step_hint (the schedule the targets were '
  'set with); targets.max_allowed_runtime_sec = ceil(max(3 x median_time_to_target_sec, '
  'schedule_headroom x targets.step_hint x seconds per step of the runs, 10)), the seconds '
  'per step being the median submission seconds of seconds_from over budget.steps.'
)


@dataclasses.dataclass(frozen=True)
class Budget:
  """How much the procedure runs: the committed targets record these numbers."""

  steps: int
  eval_every: int
  trials: int = 3
  seeds: int = 5
  rng_seed: int = 0
  algorithms: Sequence[str] = ALGORITHMS
  # Configurations, best first, whose seed runs are tried until one converges in every seed.
  candidates: int = 3
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
  submission = load_submission(registry.submission_path(algorithm))
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
  if budget.step_hint is None:
    budget = dataclasses.replace(budget, step_hint=runs_step_hint(workload.step_hint))
  tuning: List[Dict[str, Any]] = []
  for algorithm in budget.algorithms:
    space = search_space.load_search_space(registry.search_space_path(algorithm))
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
  # Best first; a stable sort keeps the algorithms' order among ties.
  ranked = sorted(finished, key=lambda r: r['best_validation'], reverse=direction == 'max')

  seeds = [derive_trial_seed(budget.rng_seed, name, 1, k + 1) for k in range(budget.seeds)]
  untrained = untrained_validation(workload, seeds[0], data_dir)
  log(f'[{name}] untrained model: validation/{workload.target_metric_name} {untrained}')
  candidates: List[Dict[str, Any]] = []
  for rank, config in enumerate(ranked[: budget.candidates]):
    runs = []
    for k, seed in enumerate(seeds):
      run = _run(workload, config['algorithm'], config['hyperparameters'], seed, budget, data_dir)
      log(
        f'[{name}] candidate {rank + 1} ({config["algorithm"]}) seed {k + 1}/{budget.seeds}: '
        f'best validation/{workload.target_metric_name} {run["best_validation"]}'
      )
      runs.append(run)
    flags = converged(
      [r['best_validation'] for r in runs], untrained, direction, CONVERGED_FRACTION
    )
    for run, ok in zip(runs, flags, strict=True):
      run['converged'] = ok
    candidates.append({'config': config, 'seed_runs': runs, 'converged': sum(flags)})
    log(f'[{name}] candidate {rank + 1}: {sum(flags)}/{len(runs)} seed runs converged')
    if all(flags):
      break
  chosen = choose_stable(candidates, budget.seeds)
  if chosen is None:
    raise RuntimeError(
      f'{name}: no configuration among the best {len(candidates)} converged in a majority of '
      f'{budget.seeds} seeds; raise --candidates or the step budget'
    )
  best, reruns = chosen['config'], chosen['seed_runs']
  valid = [r for r in reruns if r['best_validation'] is not None]
  validation_target = statistics.median(r['best_validation'] for r in valid)
  test_values = [r['test_at_best'] for r in valid if r['test_at_best'] is not None]
  steps_to_target, time_to_target, eval_seconds = _timing(valid, validation_target, direction)
  targets = {
    'target_metric_name': workload.target_metric_name,
    'metric_direction': direction,
    'validation_target_value': round(validation_target, 6),
    'test_target_value': round(statistics.median(test_values), 6) if test_values else None,
    'eval_period_time_sec': eval_period(eval_seconds),
    **scored_budget(
      budget.step_hint, budget.steps, [r['submission_seconds'] for r in valid], time_to_target
    ),
  }
  for run in tuning + [r for c in candidates for r in c['seed_runs']]:
    run.pop('curve', None)
  return {
    'workload': name,
    'targets': targets,
    'budget': dataclasses.asdict(budget),
    'best': {'algorithm': best['algorithm'], 'hyperparameters': best['hyperparameters']},
    'stability': {
      'rule': STABILITY_RULE,
      'converged_fraction': CONVERGED_FRACTION,
      'untrained_validation': untrained,
      'converged_seed_runs': chosen['converged'],
      'seed_runs': len(reruns),
      'candidate_rank': candidates.index(chosen) + 1,
      'rejected_candidates': [
        {
          'algorithm': c['config']['algorithm'],
          'hyperparameters': c['config']['hyperparameters'],
          'tuning_best_validation': c['config']['best_validation'],
          'converged_seed_runs': c['converged'],
          'seed_runs': c['seed_runs'],
        }
        for c in candidates
        if c is not chosen
      ],
    },
    'tuning_runs': tuning,
    'seed_runs': reruns,
    'median_time_to_target_sec': time_to_target,
    'median_steps_to_target': steps_to_target,
    'scored_budget': scored_budget_note('seed_runs'),
    'machine': environment.fingerprint(),
  }


def converged(
  values: Sequence[Optional[float]], untrained: float, direction: str, fraction: float
) -> List[bool]:
  """Which seed runs closed ``fraction`` of the gap from ``untrained`` to the best of them.

  Args:
    values: each seed run's best validation metric (None: it diverged).
    untrained: the metric of the initialised, untrained model.
    direction: 'min' or 'max', the metric's better direction.
    fraction: the share of the gap a run must close.

  Returns:
    One flag per run. Where no run improved on the untrained model, none converged.
  """
  sign = 1.0 if direction == 'min' else -1.0
  finite = [v for v in values if v is not None and math.isfinite(v)]
  if not finite:
    return [False] * len(values)
  best = min(finite) if direction == 'min' else max(finite)
  gap = sign * (untrained - best)
  if not gap > 0:
    return [False] * len(values)
  return [
    v is not None and math.isfinite(v) and sign * (untrained - v) >= fraction * gap - 1e-12
    for v in values
  ]


def choose_stable(candidates: List[Dict[str, Any]], seeds: int) -> Optional[Dict[str, Any]]:
  """The first candidate whose every seed run converged; else the most converged majority."""
  for candidate in candidates:
    if candidate['converged'] == seeds:
      return candidate
  most = max(candidates, key=lambda c: c['converged'], default=None)  # First among ties.
  return most if most is not None and 2 * most['converged'] > seeds else None


def untrained_validation(workload, rng_seed: int, data_dir: str) -> float:
  """The target metric on the validation split of the initialised, untrained model."""
  import jax

  init_key = jax.random.split(jax.random.PRNGKey(rng_seed), 4)[1]  # As the runner splits.
  params, model_state = workload.init_model_fn(init_key)
  result = workload.eval_model(
    workload.eval_batch_size, params, model_state, init_key, data_dir, None, 0
  )
  return float(result[f'validation/{workload.target_metric_name}'])


def _timing(runs: List[Dict[str, Any]], target: float, direction: str):
  """Median steps and submission seconds to ``target``, and median seconds per evaluation."""
  reach = [_first_reaching(r['curve'], target, direction) for r in runs]
  reach = [c for c in reach if c is not None]
  return (
    int(statistics.median(c['global_step'] for c in reach)),
    statistics.median(c['submission_time'] for c in reach),
    statistics.median(r['eval_seconds_per_eval'] for r in runs),
  )


def runtime_budget(time_to_target: float, schedule_seconds: float = 0.0) -> int:
  """``max_allowed_runtime_sec`` from the reruns' median time to the target.

  ``schedule_seconds``: how long the scored schedule takes at the reruns' speed.
  """
  return int(
    math.ceil(
      max(
        RUNTIME_FACTOR * time_to_target,
        SCHEDULE_HEADROOM * schedule_seconds,
        MIN_RUNTIME_SEC,
      )
    )
  )


def scored_step_hint(runs_step_hint: int) -> int:
  """The committed ``step_hint``: the scored schedule (docstring, item 5)."""
  return SCORED_STEP_HINT_FACTOR * runs_step_hint


def runs_step_hint(scored: int) -> int:
  """The schedule target-setting runs use by default when the workload has ``scored``."""
  return max(1, math.ceil(scored / SCORED_STEP_HINT_FACTOR))


def scored_budget(
  runs_step_hint_value: int, steps: int, submission_seconds: Sequence[float], time_to_target: float
) -> Dict[str, int]:
  """``step_hint`` and ``max_allowed_runtime_sec`` of the scored runs.

  ``submission_seconds``: the reruns' submission time for their ``steps`` steps, which
  gives the speed (compilation and evaluations included, so it errs long).
  """
  step_hint = scored_step_hint(runs_step_hint_value)
  per_step = statistics.median(submission_seconds) / steps
  return {
    'step_hint': step_hint,
    'max_allowed_runtime_sec': runtime_budget(time_to_target, per_step * step_hint),
  }


def rebudget(record: Dict[str, Any]) -> Dict[str, Any]:
  """``record`` with its scored budget recomputed from its recorded runs (no new runs).

  The targets and every choice stay; the seconds come from the retimed runs when the
  record has them (measured on a quiet machine), else from its seed runs.
  """
  seconds = (record.get('retimed') or {}).get('submission_seconds') or [
    r['submission_seconds'] for r in record['seed_runs'] if r['submission_seconds'] is not None
  ]
  targets = dict(record['targets'])
  targets.update(
    scored_budget(
      record['budget']['step_hint'],
      record['budget']['steps'],
      seconds,
      record['median_time_to_target_sec'],
    )
  )
  return dict(
    record,
    targets=targets,
    scored_budget=scored_budget_note(
      'retimed.submission_seconds' if record.get('retimed') else 'seed_runs'
    ),
  )


def scored_budget_note(seconds_from: str) -> Dict[str, Any]:
  """How a record's scored budget was derived (kept in the record)."""
  return {
    'rule': SCORED_BUDGET_RULE,
    'step_hint_factor': SCORED_STEP_HINT_FACTOR,
    'schedule_headroom': SCHEDULE_HEADROOM,
    'seconds_from': seconds_from,
  }


def retime(
  workload, data_dir: str, record: Dict[str, Any], log: Callable[[str], None] = print
) -> Dict[str, Any]:
  """Measure the time-derived numbers of ``record`` again; targets and choices stay.

  The budget and the evaluation period come from wall-clock times, which another job on
  the machine inflates while the step-based results stay the same. This reruns the chosen
  configuration's seed runs on this machine and recomputes ``max_allowed_runtime_sec``,
  ``eval_period_time_sec`` and the median time and steps to the target from them.

  Returns:
    A new record: the same targets, with the two budgets, the medians and a ``retimed``
    entry (this machine's fingerprint, the runs' times) replaced or added.
  """
  budget = Budget(**dict(record['budget'], algorithms=tuple(record['budget']['algorithms'])))
  targets = dict(record['targets'])
  runs = []
  for run in record['seed_runs']:
    again = _run(
      workload, run['algorithm'], run['hyperparameters'], run['rng_seed'], budget, data_dir
    )
    log(
      f'[{record["workload"]}] retime seed {run["rng_seed"]}: '
      f'{again["submission_seconds"]} s submission time'
    )
    if again['best_validation'] is not None:
      runs.append(again)
  steps, seconds, eval_seconds = _timing(
    runs, targets['validation_target_value'], targets['metric_direction']
  )
  targets.update(
    scored_budget(budget.step_hint, budget.steps, [r['submission_seconds'] for r in runs], seconds)
  )
  targets['eval_period_time_sec'] = eval_period(eval_seconds)
  return dict(
    record,
    targets=targets,
    median_time_to_target_sec=seconds,
    median_steps_to_target=steps,
    scored_budget=scored_budget_note('retimed.submission_seconds'),
    retimed={
      'note': 'max_allowed_runtime_sec, eval_period_time_sec and the medians were measured '
      "again by set-targets --retime (the chosen configuration's seed runs rerun); the "
      'targets and every choice of the procedure are those of the original runs.',
      'before': {
        k: record['targets'][k] for k in ('max_allowed_runtime_sec', 'eval_period_time_sec')
      },
      'submission_seconds': [r['submission_seconds'] for r in runs],
      'eval_seconds_per_eval': [r['eval_seconds_per_eval'] for r in runs],
      'machine': environment.fingerprint(),
    },
  )


def eval_period(eval_seconds: float) -> float:
  """Seconds between evaluations so that they cost ``EVAL_SHARE`` of training time."""
  return round(max(eval_seconds / EVAL_SHARE, MIN_EVAL_PERIOD_SEC), 2)


def provenance_path(name: str) -> str:
  """The committed provenance record of ``name``: package data (it may not exist)."""
  return str(
    importlib.resources.files('algoperf_like.workloads') / 'target_setting' / f'{name}.json'
  )


def commit(record: Dict[str, Any], output_dir: str) -> None:
  """Write the provenance file and the workload's entry of ``targets.json`` into ``output_dir``.

  ``output_dir/target_setting/<workload>.json`` gets the record, and ``output_dir/targets.json``
  the workload's entry, its other entries kept from the file there or, when there is none,
  from the committed targets. In the repository ``output_dir=workloads`` commits them.
  """
  from algoperf_like.workloads import targets as targets_lib

  provenance = os.path.join(output_dir, 'target_setting', f'{record["workload"]}.json')
  os.makedirs(os.path.dirname(provenance), exist_ok=True)
  trial_logs.write_json(provenance, record)
  targets_file = os.path.join(output_dir, 'targets.json')
  with open(targets_file if os.path.exists(targets_file) else targets_lib.TARGETS_FILE) as f:
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
) -> Dict[str, Any]:
  """Rerun the committed seed runs of ``record``; compare them with its target.

  Returns:
    ``committed_target``; ``reproduced_target``, the median of the reruns that finished
    (None if none did); ``committed_spread``, max - min of the committed seed runs;
    ``converged`` and ``seed_runs``: how many reruns converged by the record's rule,
    measured from its untrained level, out of how many; ``values``: each rerun's best
    validation metric (None: diverged).
  """
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
  committed = [
    r['best_validation'] for r in record['seed_runs'] if r['best_validation'] is not None
  ]
  finished = [v for v in values if v is not None]
  stability = record.get('stability', {})
  flags = converged(
    values,
    stability.get('untrained_validation', float('nan')),
    record['targets']['metric_direction'],
    stability.get('converged_fraction', CONVERGED_FRACTION),
  )
  return {
    'committed_target': record['targets']['validation_target_value'],
    'reproduced_target': statistics.median(finished) if finished else None,
    'committed_spread': max(committed) - min(committed),
    'converged': sum(flags),
    'seed_runs': len(values),
    'values': values,
  }
