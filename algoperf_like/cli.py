"""``algoperf-like``: run trials, score log trees, list workloads.

Flags keep AlgoPerf's names. This module is the only place that reads flags
or the environment; everything below it takes explicit arguments. Bad input
ends in one line on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from typing import List, Optional

from absl import flags as absl_flags

USAGE = """usage: algoperf-like COMMAND [FLAGS]

commands:
  run         train a submission on workloads (AlgoPerf's submission_runner flags)
  score       score log trees: performance profiles, scores, leaderboard, report
  workloads   list the available workloads and their targets

'algoperf-like COMMAND --help' shows the flags of a command."""

DEFAULT_DATA_DIR = os.path.join('~', '.cache', 'algoperf_like', 'data')


class UsageError(Exception):
  """Bad command-line input: printed as one line, exit code 2."""


def _run_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string('workload', None, 'Workload name, or a comma-separated list.', flag_values=fv)
  d.DEFINE_string('submission_path', None, 'Path to the submission module.', flag_values=fv)
  d.DEFINE_string('tuning_search_space', None,
                  'tuning_search_space.json (external tuning ruleset).', flag_values=fv)
  d.DEFINE_enum('tuning_ruleset', 'external', ['external', 'self'], 'Tuning ruleset.',
                flag_values=fv)
  d.DEFINE_string('experiment_dir', 'experiments', 'Root directory of the logs.',
                  flag_values=fv)
  d.DEFINE_string('experiment_name', None,
                  'Logs go to experiment_dir/experiment_name/study_k/... '
                  '(default: the submission folder name).', flag_values=fv)
  d.DEFINE_integer('num_tuning_trials', 5, 'Trials per study (external tuning).',
                   lower_bound=1, flag_values=fv)
  d.DEFINE_integer('num_studies', 3, 'Independent studies.', lower_bound=1, flag_values=fv)
  d.DEFINE_integer('rng_seed', 0, 'Seed of the plan; each trial derives its own seed.',
                   lower_bound=0, flag_values=fv)
  d.DEFINE_integer('max_global_steps', None, 'Stop each trial after this many steps.',
                   lower_bound=1, flag_values=fv)
  d.DEFINE_integer('eval_every_steps', None,
                   'Evaluate every N steps instead of every eval_period_time_sec '
                   '(reproducibility tests; not for scoring).', lower_bound=1, flag_values=fv)
  d.DEFINE_float('max_runtime_sec', None, "Override the workload's runtime budget.",
                 lower_bound=0.0, flag_values=fv)
  d.DEFINE_boolean('overwrite', False, 'Delete existing logs of this experiment first.',
                   flag_values=fv)
  d.DEFINE_boolean('resume_last_run', False,
                   'Continue an existing experiment: skip finished trials, rerun the others.',
                   flag_values=fv)
  d.DEFINE_boolean('dry_run', False, 'Print the planned trials as JSON lines; run nothing.',
                   flag_values=fv)
  d.DEFINE_boolean('official_per_study_draw', False,
                   "Draw the same first points in every study, as AlgoPerf's scripts do.",
                   flag_values=fv)
  d.DEFINE_string('data_dir', DEFAULT_DATA_DIR, 'TFDS data directory (CPU workloads '
                  'generate their data there on first use).', flag_values=fv)
  return fv


def _parse(fv: absl_flags.FlagValues, argv: List[str]) -> None:
  if any(a in ('--help', '-h', '--helpfull') for a in argv):
    print(fv.get_help(), file=sys.stderr)
    raise SystemExit(0)
  try:
    rest = fv(['algoperf-like'] + argv)
  except absl_flags.Error as e:
    raise UsageError(str(e).splitlines()[0]) from None
  if len(rest) > 1:
    raise UsageError(f'unexpected argument {rest[1]!r}')


def _quiet_libraries() -> None:
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # TF only reads data here.
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.ERROR)


def run_command(argv: List[str]) -> int:
  fv = _run_flags()
  _parse(fv, argv)
  from algoperf_like import search_space as search_space_lib
  from algoperf_like import trial_plan
  import workloads

  if not fv.workload:
    raise UsageError('--workload is required (known: ' + ', '.join(workloads.workload_names()) + ')')
  if not fv.submission_path:
    raise UsageError('--submission_path is required')
  names = [w.strip() for w in fv.workload.split(',') if w.strip()]
  for name in names:
    if name not in workloads.REGISTRY:
      raise UsageError(f'--workload: unknown workload {name!r} '
                       f'(known: {", ".join(workloads.workload_names())})')
  if not os.path.isfile(fv.submission_path):
    raise UsageError(f'--submission_path: {fv.submission_path}: file not found')
  space = None
  if fv.tuning_ruleset == 'external':
    if not fv.tuning_search_space:
      raise UsageError('--tuning_search_space is required under --tuning_ruleset=external')
    space = search_space_lib.load_search_space(fv.tuning_search_space)
  elif fv.tuning_search_space:
    raise UsageError('--tuning_search_space must not be given under --tuning_ruleset=self')
  if fv.overwrite and fv.resume_last_run:
    raise UsageError('--overwrite and --resume_last_run exclude each other')
  experiment_name = fv.experiment_name or os.path.basename(
      os.path.dirname(os.path.abspath(fv.submission_path)))
  plan = trial_plan.plan_trials(
      names, os.path.abspath(fv.submission_path), space, fv.tuning_ruleset,
      num_studies=fv.num_studies, num_tuning_trials=fv.num_tuning_trials,
      rng_seed=fv.rng_seed, experiment_dir=fv.experiment_dir,
      experiment_name=experiment_name, official_per_study_draw=fv.official_per_study_draw)
  if fv.dry_run:
    for trial in plan:
      print(json.dumps(trial.to_json(), sort_keys=True))
    return 0

  _quiet_libraries()
  import jax
  from algoperf_like.submission import checked_batch_size, load_submission
  submission = load_submission(fv.submission_path)
  for name in names:  # Fail before anything is written.
    checked_batch_size(submission, name, jax.device_count())
  root = os.path.join(fv.experiment_dir, experiment_name)
  if os.path.exists(root):
    if fv.overwrite:
      shutil.rmtree(root)
    elif not fv.resume_last_run:
      raise UsageError(f'--experiment_dir: {root} already exists; pass --overwrite to '
                       'start over or --resume_last_run to continue it')
  os.makedirs(root, exist_ok=True)
  from algoperf_like import trial_logs
  trial_logs.write_json(os.path.join(root, 'plan.json'),
                        trial_plan.plan_record(plan, flags=fv.flag_values_dict()))
  return _run_plan(plan, submission, fv)


def _run_plan(plan, submission, fv) -> int:
  from algoperf_like import progress, runner, trial_logs
  import workloads
  config = runner.RunConfig(
      data_dir=fv.data_dir, tuning_ruleset=fv.tuning_ruleset,
      max_global_steps=fv.max_global_steps, eval_every_steps=fv.eval_every_steps,
      max_runtime_sec=fv.max_runtime_sec)
  summaries, instances = [], {}
  for trial in plan:
    label = f'{trial.workload} study {trial.study} trial {trial.trial}'
    done = trial_logs.read_summary(trial.log_dir)
    if done is not None and done.get('status') != 'failed':
      print(f'[{label}] already finished ({done["status"]}): skipped', file=sys.stderr)
      continue
    if trial.workload not in instances:
      instances[trial.workload] = workloads.get_workload(trial.workload, fv.data_dir)
    start = time.perf_counter()
    result = runner.train_once(instances[trial.workload], submission,
                               trial.hyperparameters_tuple(), trial.rng_seed,
                               trial.log_dir, config, on_eval=progress.EvalPrinter(label),
                               flags=fv.flag_values_dict())
    if abs(time.perf_counter() - start - result.wall_clock_s) > max(1.0, 0.02 * result.wall_clock_s):
      print(f'[{label}] warning: the time account does not match the outside clock',
            file=sys.stderr)
    summaries.append(progress.format_summary(label, result))
  for line in summaries:
    print(line)
  return 0


def workloads_command(argv: List[str]) -> int:
  if argv:
    raise UsageError(f'workloads takes no arguments, got {argv[0]!r}')
  import workloads
  from workloads import targets
  for name in workloads.workload_names():
    t = targets.workload_targets(name)
    print(f'{name}: validation/{t["target_metric_name"]} target {t["validation_target_value"]} '
          f'({t["metric_direction"]}), budget {t["max_allowed_runtime_sec"]}s')
  return 0


def score_command(argv: List[str]) -> int:
  from scoring import cli as scoring_cli
  return scoring_cli.main(argv)


COMMANDS = {'run': run_command, 'score': score_command, 'workloads': workloads_command}


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if not argv or argv[0] in ('-h', '--help', 'help'):
    print(USAGE)
    return 0 if argv else 2
  command, rest = argv[0], argv[1:]
  if command not in COMMANDS:
    print(f'algoperf-like: unknown command {command!r} (run, score, workloads)', file=sys.stderr)
    return 2
  from algoperf_like.search_space import SearchSpaceError
  from algoperf_like.submission import SubmissionError
  try:
    return COMMANDS[command](rest)
  except (UsageError, SearchSpaceError, SubmissionError) as e:
    print(f'algoperf-like {command}: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f'algoperf-like {command}: interrupted', file=sys.stderr)
    return 130


def run_main() -> None:
  """Console-script entry point."""
  sys.exit(main())
