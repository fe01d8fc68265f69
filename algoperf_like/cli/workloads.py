"""``algoperf-like workloads``: the registered workloads, suites and baselines."""

from __future__ import annotations

from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like import registry
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'List the registered workloads with their target and budget, the suites, and the '
  'baselines that --submission_path takes by name.'
)


def _constants(name: str, targets) -> dict:
  """A workload's target and budget: from the targets file, else from the workload itself."""
  entries = targets.load_targets()['workloads']
  if name in entries:
    return entries[name]
  c = registry.get_workload(name).constants  # A workload registered by --workload_module.
  return {
    'target_metric_name': c.target_metric_name,
    'validation_target_value': c.validation_target_value,
    'metric_direction': c.metric_direction,
    'max_allowed_runtime_sec': c.max_allowed_runtime_sec,
  }


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

  for name in registry.workload_names():
    t = _constants(name, targets)
    print(
      f'{name}: validation/{t["target_metric_name"]} target {t["validation_target_value"]} '
      f'({t["metric_direction"]}), budget {t["max_allowed_runtime_sec"]}s'
    )
  print()
  for name in registry.suite_names():
    print(f'suite {name}: {", ".join(registry.SUITES[name])}')
  print()
  print('baselines (--submission_path=NAME): ' + ', '.join(registry.submission_names()))
  for group, names in sorted(registry.SUBMISSION_GROUPS.items()):
    print(f'baseline group {group}: {", ".join(names)}')
  return 0
