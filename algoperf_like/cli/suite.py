"""``algoperf-like suite``: run the baselines on a suite, score them, print the leaderboard."""

from __future__ import annotations

import os
import shutil
import sys
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like import registry
from algoperf_like.cli import run as run_cli
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'Run baselines on a suite of workloads (tuned, or --quick with their best target-setting '
  'point), score them and print the leaderboard; logs in --experiment_dir, scores and '
  'report in --experiment_dir + "_scores".'
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  cl.define_workload(fv, registry.DEFAULT_SUITE, 'Suite or workloads, comma-separated.')
  cl.define_workload_module(fv)
  d.DEFINE_string(
    'submissions',
    registry.DEFAULT_SUBMISSIONS,
    'Baselines (by name) or groups of them, comma-separated; groups: '
    + '; '.join(f'{g} = {",".join(n)}' for g, n in sorted(registry.SUBMISSION_GROUPS.items())),
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'quick',
    False,
    'One trial per baseline and workload, with its best point '
    'from target setting (a demo, not a tuning result).',
    flag_values=fv,
  )
  d.DEFINE_string(
    'quick_base',
    None,
    'Quick mode: for a submission with no target-setting '
    "runs of its own, take this algorithm's best point for the hyperparameters "
    'they share (e.g. nadamw for the data-selection baselines).',
    flag_values=fv,
  )
  cl.define_num_tuning_trials(fv, 5, 'Trials per workload (full mode).')
  cl.define_num_studies(
    fv,
    1,
    'Studies (full mode: independent tunings; quick mode: '
    'the same point with another seed); scores use the median.',
  )
  cl.define_rng_seed(fv, 'Seed of the plan.')
  cl.define_experiment_dir(
    fv, os.path.join('experiments', 'suite'), 'Where the logs go (the scores: beside it).'
  )
  cl.define_overwrite(fv, 'Delete earlier logs in experiment_dir first.')
  cl.define_data_dir(fv)
  cl.define_sandbox(fv, False)
  d.DEFINE_string(
    'report_dir',
    None,
    'Also write a Markdown report with its plots there (for committing, e.g. under docs/).',
    flag_values=fv,
  )
  d.DEFINE_string('report_title', 'Suite report', 'Title of that report.', flag_values=fv)
  d.DEFINE_string(
    'report_command',
    None,
    'The command quoted in the report as the way to regenerate it (default: this command line).',
    flag_values=fv,
  )
  return fv


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like suite', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  cl.import_workload_modules(fv.workload_module)
  names = run_cli.workload_names(fv.workload)
  subs = run_cli.submission_names(fv.submissions)
  from algoperf_like import suite

  try:
    plan = suite.plan_suite(
      names,
      subs,
      fv.experiment_dir,
      fv.quick,
      fv.num_tuning_trials,
      fv.rng_seed,
      fv.quick_base,
      fv.num_studies,
    )
  except ValueError as e:
    raise UsageError(str(e)) from None
  cl.sandbox_config(fv)  # A machine where the sandbox cannot run fails before anything is written.
  cl.warn(parsed)
  if fv.overwrite and os.path.exists(fv.experiment_dir):
    shutil.rmtree(fv.experiment_dir)
  cl.quiet_libraries()
  run_flags = run_cli.define_flags()
  # Suite trials last seconds to a minute: one checkpoint a minute bounds the loss.
  run_flags(['algoperf-like', f'--data_dir={fv.data_dir}', '--checkpoint_period_sec=60'])
  run_flags.workload_module = fv.workload_module
  for name in ('sandbox', 'sandbox_bwrap', 'sandbox_memory_gb', 'sandbox_max_processes'):
    setattr(run_flags, name, getattr(fv, name))
  run_flags.sandbox_time_limit_sec = fv.sandbox_time_limit_sec
  print(
    f'{len(plan)} trials: {", ".join(subs)} on {", ".join(names)}'
    + (' (quick: oracle points, not a benchmark result)' if fv.quick else ''),
    file=sys.stderr,
  )
  # Failed trials count as not reached.
  run_cli.run_plan(plan, run_flags, run_cli.make_executor(run_flags, fv.experiment_dir, 'local'))
  output_dir = fv.experiment_dir.rstrip(os.sep) + '_scores'
  score_args = [
    f'--submission_directory={fv.experiment_dir}',
    f'--output_dir={output_dir}',
    f'--expected_studies={fv.num_studies}',
    f'--reference={subs[0]}',
    f'--expected_trials={1 if fv.quick else fv.num_tuning_trials}',
  ]
  subset = _targets_for_subset(names, output_dir)
  if subset:
    score_args.append(f'--workload_targets={subset}')
  if fv.report_dir:
    command = fv.report_command or ' '.join(['algoperf-like', 'suite'] + list(argv))
    score_args += [
      f'--report_dir={fv.report_dir}',
      f'--report_title={fv.report_title}',
      f'--report_command={command}',
    ]
  from algoperf_like.scoring import cli as scoring_cli

  if fv.quick:
    print(QUICK_NOTICE.format(where='below'))
  rc = scoring_cli.main(score_args)
  if fv.quick:
    print(QUICK_NOTICE.format(where='above'))
  print(f'logs: {fv.experiment_dir}; scores and report: {output_dir}/report.html')
  return rc


def _targets_for_subset(names: List[str], output_dir: str):
  """A targets file whose base workloads are the ones run, when they are fewer than all.

  A suite of some base workloads (``demo``) is scored over those, not over all six with
  the rest counted as not reached. Returns its path, or None when the committed targets do.
  """
  from algoperf_like import trial_logs
  from algoperf_like.workloads import targets as targets_lib

  committed = targets_lib.load_targets()
  base = [w for w in committed['base_workloads'] if w in names]
  if not base or base == list(committed['base_workloads']):
    return None
  path = os.path.join(output_dir, 'workload_targets.json')
  os.makedirs(output_dir, exist_ok=True)
  trial_logs.write_json(
    path,
    dict(
      committed,
      _comment='workloads/targets.json with base_workloads restricted to the suite run.',
      base_workloads=base,
      held_out_workloads=[w for w in committed['held_out_workloads'] if w in names],
    ),
  )
  return path


# What the numbers of --quick are, printed before and after its leaderboard.
QUICK_NOTICE = (
  'QUICK MODE -- NOT A BENCHMARK RESULT. Every number {where} comes from oracle points: each '
  "baseline ran once per workload with its own best point from that workload's committed "
  'target-setting runs (chosen in hindsight, per workload), not with a point its tuning would '
  'have found. They show the machinery and how fast each algorithm can be; a benchmark result '
  'is `make suite` (algoperf-like suite without --quick: each baseline tuned with 5 '
  'quasirandom points of its search space per workload, as the external-tuning ruleset says).'
)
