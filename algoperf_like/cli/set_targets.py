"""``algoperf-like set-targets``: set workloads' targets and budgets by AlgoPerf's procedure."""

from __future__ import annotations

import json
import os
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like.command_line import Renamed, UsageError

DESCRIPTION = (
  "Set a workload's targets and budgets by AlgoPerf's target-setting procedure on a step "
  'budget (see algoperf_like/target_setting.py), or --reproduce the committed seed runs.'
)
DEFAULT_OUTPUT_DIR = 'workloads'
RENAMED = (
  Renamed('trials', 'num_tuning_trials'),
  Renamed('seeds', 'num_seeds'),
  Renamed('steps', 'max_global_steps'),
  Renamed('eval_every', 'eval_every_steps'),
)
# The flags that make up the budget (--budget_from_record takes them from the record).
BUDGET_FLAGS = (
  'max_global_steps',
  'step_hint',
  'eval_every_steps',
  'num_tuning_trials',
  'num_seeds',
  'rng_seed',
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  cl.define_workload(fv)
  cl.define_workload_module(fv)
  cl.define_max_global_steps(fv, 'Step budget of every run (default: 1.5x the step_hint).')
  d.DEFINE_integer(
    'step_hint',
    None,
    "step_hint during the runs, which sets the baselines' schedules; the one committed "
    "for scored runs is twice it (default: half the workload's current one).",
    lower_bound=1,
    flag_values=fv,
  )
  cl.define_eval_every_steps(fv, 'Evaluate every N steps (default: max_global_steps / 20).')
  cl.define_num_tuning_trials(fv, 3, 'Quasirandom points per algorithm.')
  d.DEFINE_integer(
    'num_seeds', 5, 'Reruns of the best configuration.', lower_bound=1, flag_values=fv
  )
  cl.define_rng_seed(fv, 'Seed of the procedure.')
  d.DEFINE_integer(
    'candidates',
    3,
    'Configurations, best first, whose seed runs are tried until one converges in every seed.',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'budget_from_record',
    False,
    "Use the budget (steps, eval period, trials, seeds, step_hint) of the workload's committed "
    'record; the other budget flags must then be left unset.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'retime',
    False,
    'Rerun the committed seed runs of the chosen configuration to measure the budget and the '
    'evaluation period again (on a quiet machine); targets stay as committed.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'rebudget',
    False,
    'Recompute the committed scored budget (step_hint, max_allowed_runtime_sec) from the '
    'committed record by the current rule, with no new runs; targets stay as committed.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'reproduce',
    False,
    'Rerun the committed seed runs and compare with the '
    'committed target instead of setting a new one.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'commit',
    True,
    'Write OUTPUT_DIR/target_setting/<workload>.json and OUTPUT_DIR/targets.json.',
    flag_values=fv,
  )
  cl.define_output_dir(
    fv,
    DEFAULT_OUTPUT_DIR,
    'Where --commit writes (default: ./workloads, which at the repository root is the folder '
    'of the committed targets; targets.json there is updated, or started from the committed '
    'one).',
  )
  cl.define_data_dir(fv)
  return fv


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like set-targets', DESCRIPTION, RENAMED)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  cl.import_workload_modules(fv.workload_module)
  from algoperf_like import registry
  from algoperf_like.cli.run import workload_names
  from algoperf_like.workloads import targets as targets_lib

  if not fv.workload:
    raise UsageError('--workload is required (known: ' + ', '.join(registry.workload_names()) + ')')
  names = workload_names(fv.workload)
  if fv.commit and os.path.exists(fv.output_dir) and not os.path.isdir(fv.output_dir):
    raise UsageError(f'--output_dir: {fv.output_dir} is not a directory')
  cl.warn(parsed)
  cl.quiet_libraries()
  from algoperf_like import target_setting

  for name in names:
    workload = registry.get_workload(name, fv.data_dir)
    if fv.reproduce:
      path = target_setting.provenance_path(name)
      if not os.path.exists(path):
        raise UsageError(f'--reproduce: {path} does not exist (run set-targets first)')
      with open(path) as f:
        report = target_setting.reproduce(workload, fv.data_dir, json.load(f))
      reproduced = report['reproduced_target']
      print(
        f'{name}: committed target {report["committed_target"]:.6g}, reproduced '
        + ('none (every rerun diverged)' if reproduced is None else f'{reproduced:.6g}')
        + f' (spread of the committed seed runs {report["committed_spread"]:.3g}); '
        f'{report["converged"]}/{report["seed_runs"]} reruns converged'
      )
      continue
    if fv.retime:
      path = target_setting.provenance_path(name)
      if not os.path.exists(path):
        raise UsageError(f'--retime: {path} does not exist (run set-targets first)')
      with open(path) as f:
        record = target_setting.retime(workload, fv.data_dir, json.load(f))
      print(f'{name}: ' + json.dumps(record['targets'], sort_keys=True))
      _commit(fv, record, target_setting, targets_lib)
      continue
    if fv.rebudget:
      path = target_setting.provenance_path(name)
      if not os.path.exists(path):
        raise UsageError(f'--rebudget: {path} does not exist (run set-targets first)')
      with open(path) as f:
        record = target_setting.rebudget(json.load(f))
      print(f'{name}: ' + json.dumps(record['targets'], sort_keys=True))
      _commit(fv, record, target_setting, targets_lib)
      continue
    if fv.budget_from_record:
      budget = _recorded_budget(fv, name, target_setting)
    else:
      step_hint = fv.step_hint or target_setting.runs_step_hint(workload.step_hint)
      steps = fv.max_global_steps or int(1.5 * step_hint)
      budget = target_setting.Budget(
        steps=steps,
        eval_every=fv.eval_every_steps or max(steps // 20, 1),
        trials=fv.num_tuning_trials,
        seeds=fv.num_seeds,
        rng_seed=fv.rng_seed,
        candidates=fv.candidates,
        step_hint=step_hint,
      )
    record = target_setting.set_targets(workload, fv.data_dir, budget)
    print(f'{name}: ' + json.dumps(record['targets'], sort_keys=True))
    _commit(fv, record, target_setting, targets_lib)
  return 0


def _commit(fv, record, target_setting, targets_lib) -> None:
  if fv.commit:
    target_setting.commit(record, fv.output_dir)
    targets_lib.load_targets.cache_clear()
    print(f'{record["workload"]}: wrote {fv.output_dir}/target_setting/ and targets.json')


def _recorded_budget(fv, name: str, target_setting):
  """The committed record's budget, with this procedure's --candidates."""
  given = [f'--{f}' for f in BUDGET_FLAGS if fv[f].present]
  if given:
    raise UsageError(f'--budget_from_record: leave {", ".join(given)} unset')
  path = target_setting.provenance_path(name)
  if not os.path.exists(path):
    raise UsageError(f'--budget_from_record: {path} does not exist')
  with open(path) as f:
    recorded = dict(json.load(f)['budget'], candidates=fv.candidates)
  recorded['algorithms'] = tuple(recorded['algorithms'])
  return target_setting.Budget(**recorded)
