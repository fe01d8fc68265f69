"""``algoperf-like workloads``: the registered workloads, suites and baselines."""

from __future__ import annotations

import json
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like import registry
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'List the registered workloads with their targets, budget, step hint and model size '
  '(traced with jax.eval_shape: no data, no memory), the suites, and the baselines that '
  '--submission_path takes by name. --json: one JSON object per workload.'
)


def main(argv: List[str]) -> int:
  fv = absl_flags.FlagValues()
  cl.define_workload_module(fv)
  absl_flags.DEFINE_string(
    'algoperf_targets',
    None,
    "Write the targets in AlgoPerf's format (per workload exactly target_metric_name, "
    'validation_target_value, step_hint) to this JSON file, and list nothing.',
    flag_values=fv,
  )
  absl_flags.DEFINE_boolean(
    'json',
    False,
    'Print one JSON object per workload (name, num_params, num_model_state, loss_type, '
    'targets, budget, step_hint, base_workload), one per line, and nothing else.',
    flag_values=fv,
  )
  absl_flags.DEFINE_list(
    'workload',
    [],
    'Describe only these workloads or suites (default: every registered workload).',
    flag_values=fv,
  )
  parsed = cl.parse(fv, argv, 'algoperf-like workloads', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'workloads takes no arguments, got {parsed.positional[0]!r}')
  cl.import_workload_modules(fv.workload_module)
  cl.warn(parsed)
  from algoperf_like.workloads import targets

  if fv.algoperf_targets:
    from algoperf_like import trial_logs

    trial_logs.write_json(fv.algoperf_targets, targets.algoperf_targets())
    print(f'wrote {fv.algoperf_targets}')
    return 0

  from algoperf_like import workload_info

  try:
    names = registry.expand_workloads(fv.workload) if fv.workload else registry.workload_names()
  except registry.UnknownWorkloadError as e:
    raise UsageError(str(e)) from None
  for name in names:  # Printed as each is traced: seconds each for the large models.
    t = workload_info.describe(name)
    if fv.json:
      print(json.dumps(t), flush=True)
      continue
    print(
      f'{name}: validation/{t["target_metric_name"]} target {t["validation_target_value"]} '
      f'({t["metric_direction"]}), test target {t["test_target_value"]}, '
      f'budget {t["max_allowed_runtime_sec"]}s, step hint {t["step_hint"]}, '
      f'{workload_info.human_count(t["num_params"])} params, '
      f'{workload_info.human_count(t["num_model_state"])} state, {t["loss_type"]} loss, '
      f'base {t["base_workload"]}',
      flush=True,
    )
  if fv.json or fv.workload:
    return 0
  print()
  for name in registry.suite_names():
    print(f'suite {name}: {", ".join(registry.SUITES[name])}')
  print()
  print('baselines (--submission_path=NAME): ' + ', '.join(registry.submission_names()))
  for group, names in sorted(registry.SUBMISSION_GROUPS.items()):
    print(f'baseline group {group}: {", ".join(names)}')
  return 0
