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
from typing import List, Optional

from absl import flags as absl_flags

from algoperf_like.spec import DEFAULT_DATA_DIR

USAGE = """usage: algoperf-like COMMAND [FLAGS]

commands:
  run         train a submission on workloads (AlgoPerf's submission_runner flags)
  suite       run the baselines on a suite, score them, print the leaderboard
  score       score log trees: performance profiles, scores, leaderboard, report
  check       check a submission against the rules (static checks and a smoke run)
  workloads   list the available workloads and their targets
  set-targets set a workload's targets and budgets by AlgoPerf's procedure

'algoperf-like COMMAND --help' shows the flags of a command."""


class UsageError(Exception):
  """Bad command-line input: printed as one line, exit code 2."""


def _run_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string('workload', None, 'Workload name, or a comma-separated list.', flag_values=fv)
  d.DEFINE_string('submission_path', None, 'Path to the submission module.', flag_values=fv)
  d.DEFINE_string(
    'tuning_search_space',
    None,
    'tuning_search_space.json (external tuning ruleset).',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'tuning_ruleset', 'external', ['external', 'self'], 'Tuning ruleset.', flag_values=fv
  )
  d.DEFINE_string('experiment_dir', 'experiments', 'Root directory of the logs.', flag_values=fv)
  d.DEFINE_string(
    'experiment_name',
    None,
    'Logs go to experiment_dir/experiment_name/study_k/... (default: the submission folder name).',
    flag_values=fv,
  )
  d.DEFINE_integer(
    'num_tuning_trials', 5, 'Trials per study (external tuning).', lower_bound=1, flag_values=fv
  )
  d.DEFINE_integer('num_studies', 3, 'Independent studies.', lower_bound=1, flag_values=fv)
  d.DEFINE_integer(
    'rng_seed',
    0,
    'Seed of the plan; each trial derives its own seed.',
    lower_bound=0,
    flag_values=fv,
  )
  d.DEFINE_integer(
    'max_global_steps',
    None,
    'Stop each trial after this many steps.',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_integer(
    'eval_every_steps',
    None,
    'Evaluate every N steps instead of every eval_period_time_sec '
    '(reproducibility tests; not for scoring).',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_float(
    'max_runtime_sec',
    None,
    "Override the workload's runtime budget.",
    lower_bound=0.0,
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'overwrite', False, 'Delete existing logs of this experiment first.', flag_values=fv
  )
  d.DEFINE_boolean(
    'resume_last_run',
    False,
    'Continue an existing experiment: skip finished trials, continue '
    'interrupted ones from their last checkpoint, run the rest.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'dry_run', False, 'Print the planned trials as JSON lines; run nothing.', flag_values=fv
  )
  d.DEFINE_boolean(
    'official_per_study_draw',
    False,
    "Draw the same first points in every study, as AlgoPerf's scripts do.",
    flag_values=fv,
  )
  d.DEFINE_string(
    'data_dir',
    DEFAULT_DATA_DIR,
    'TFDS data directory (CPU workloads generate their data there on first use).',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'save_checkpoints',
    True,
    'Checkpoint each trial at evaluations (see '
    '--checkpoint_period_sec), so that an interrupted trial continues from there.',
    flag_values=fv,
  )
  d.DEFINE_float(
    'checkpoint_period_sec',
    0.0,
    'Checkpoint at an evaluation only when this '
    'many wall-clock seconds have passed since the last checkpoint (0: at every '
    'evaluation); an interrupted trial loses at most this much work.',
    lower_bound=0.0,
    flag_values=fv,
  )
  d.DEFINE_enum(
    'executor',
    'local',
    ['local', 'processes', 'slurm'],
    'Where trials run: here, one child process each, or one Slurm task each.',
    flag_values=fv,
  )
  d.DEFINE_integer(
    'max_parallel',
    1,
    'Trials at once (processes; Slurm array parallelism).',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_string(
    'slurm_partition', None, 'Slurm partition (default: the cluster default).', flag_values=fv
  )
  d.DEFINE_integer(
    'slurm_time_min', 60, 'Slurm time limit per trial, minutes.', lower_bound=1, flag_values=fv
  )
  d.DEFINE_integer('slurm_cpus_per_task', 1, 'CPUs per Slurm task.', lower_bound=1, flag_values=fv)
  d.DEFINE_integer('slurm_gpus_per_task', 0, 'GPUs per Slurm task.', lower_bound=0, flag_values=fv)
  d.DEFINE_string(
    'slurm_folder',
    None,
    'Folder for Slurm job files and task logs (default: experiment_dir/experiment_name/slurm).',
    flag_values=fv,
  )
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


def quiet_libraries() -> None:
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # TF only reads data here.
  from absl import logging as absl_logging

  absl_logging.set_verbosity(absl_logging.ERROR)


def run_command(argv: List[str]) -> int:
  fv = _run_flags()
  _parse(fv, argv)
  from algoperf_like import registry, trial_plan
  from algoperf_like import search_space as search_space_lib

  if not fv.workload:
    raise UsageError('--workload is required (known: ' + ', '.join(registry.workload_names()) + ')')
  if not fv.submission_path:
    raise UsageError('--submission_path is required')
  names = _workload_names(fv.workload)
  if not os.path.isfile(fv.submission_path):
    raise UsageError(f'--submission_path: {fv.submission_path}: file not found')
  space = None
  if fv.tuning_ruleset == 'external':
    if not fv.tuning_search_space:
      raise UsageError('--tuning_search_space is required under --tuning_ruleset=external')
    space = search_space_lib.load_search_space(fv.tuning_search_space)
  elif fv.tuning_search_space:
    raise UsageError('--tuning_search_space must not be given under --tuning_ruleset=self')
  for flag in ('data_dir', 'experiment_dir'):
    path = os.path.expanduser(getattr(fv, flag))
    if os.path.exists(path) and not os.path.isdir(path):
      raise UsageError(f'--{flag}: {path} is not a directory')
  if fv.overwrite and fv.resume_last_run:
    raise UsageError('--overwrite and --resume_last_run exclude each other')
  experiment_name = fv.experiment_name or os.path.basename(
    os.path.dirname(os.path.abspath(fv.submission_path))
  )
  plan = trial_plan.plan_trials(
    names,
    os.path.abspath(fv.submission_path),
    space,
    fv.tuning_ruleset,
    num_studies=fv.num_studies,
    num_tuning_trials=fv.num_tuning_trials,
    rng_seed=fv.rng_seed,
    experiment_dir=fv.experiment_dir,
    experiment_name=experiment_name,
    official_per_study_draw=fv.official_per_study_draw,
  )
  if fv.dry_run:
    for trial in plan:
      print(json.dumps(trial.to_json(), sort_keys=True))
    return 0

  quiet_libraries()
  import jax

  from algoperf_like.submission import checked_batch_size, load_submission

  submission = load_submission(fv.submission_path)
  for name in names:  # Fail before anything is written.
    checked_batch_size(submission, name, jax.device_count())
  root = os.path.join(fv.experiment_dir, experiment_name)
  record = trial_plan.plan_record(plan)
  plan_file = os.path.join(root, 'plan.json')
  executor = _make_executor(fv, root)  # Bad executor options fail before anything is written.
  if os.path.exists(root) and not fv.overwrite:
    # Re-running the same command continues it; anything else would mix two experiments.
    if not _same_plan(plan_file, record):
      hint = (
        "its plan.json differs from this command's plan"
        if fv.resume_last_run
        else 'pass --overwrite to start over, or rerun the command that made it'
      )
      raise UsageError(f'--experiment_dir: {root} already exists with another plan; {hint}')
    print(f'{root}: same plan as before: resuming', file=sys.stderr)
  if fv.overwrite and os.path.exists(root):
    shutil.rmtree(root)
  os.makedirs(root, exist_ok=True)
  from algoperf_like import trial_logs

  if not os.path.exists(plan_file):
    trial_logs.write_json(plan_file, record)
  return _run_plan(plan, fv, executor)


def _same_plan(plan_file: str, record) -> bool:
  try:
    with open(plan_file) as f:
      return json.load(f)['trials'] == json.loads(json.dumps(record['trials']))
  except (OSError, ValueError, KeyError):
    return False


def _make_executor(fv, root: str):
  from algoperf_like.executors import make_executor

  if fv.executor == 'local':
    return make_executor('local')
  if fv.executor == 'processes':
    return make_executor('processes', max_parallel=fv.max_parallel)
  if shutil.which('sbatch') is None:
    raise UsageError('--executor=slurm: sbatch is not on PATH (no Slurm client here)')
  return make_executor(
    'slurm',
    folder=fv.slurm_folder or os.path.join(root, 'slurm'),
    partition=fv.slurm_partition,
    time_min=fv.slurm_time_min,
    cpus_per_task=fv.slurm_cpus_per_task,
    gpus_per_task=fv.slurm_gpus_per_task,
    max_parallel=fv.max_parallel if fv.max_parallel > 1 else None,
  )


def _run_plan(plan, fv, executor) -> int:
  from algoperf_like import monitor, runner, spec, sweep
  from algoperf_like.workloads import targets

  config = runner.RunConfig(
    data_dir=fv.data_dir,
    tuning_ruleset=fv.tuning_ruleset,
    max_global_steps=fv.max_global_steps,
    eval_every_steps=fv.eval_every_steps,
    max_runtime_sec=fv.max_runtime_sec,
    save_checkpoints=fv.save_checkpoints,
    checkpoint_period_sec=fv.checkpoint_period_sec,
  )
  finished, to_run = sweep.split_finished(plan)
  for trial in finished:
    print(f'[{sweep.trial_label(trial)}] finished earlier: skipped', file=sys.stderr)
  budget_factor = spec.SELF_TUNING_BUDGET_FACTOR if fv.tuning_ruleset == 'self' else 1.0
  workload_info = {}
  for name in {t.workload for t in plan}:
    t = targets.workload_targets(name)
    workload_info[name] = {
      'metric': t['target_metric_name'],
      'target': t['validation_target_value'],
      'budget': (fv.max_runtime_sec or t['max_allowed_runtime_sec']) * budget_factor,
    }
  progress = monitor.SweepMonitor(to_run, workload_info).start()
  summaries = []

  def report(job, summary):
    progress.trial_finished(job.trial, summary)
    summaries.append((job.trial, summary))

  try:
    executor.run(sweep.jobs_for(to_run, config, fv.flag_values_dict()), report)
  finally:
    progress.stop()
  for trial, summary in summaries:
    print(
      f'{sweep.trial_label(trial)}: {monitor.describe_summary(summary)}, '
      f'seed {trial.rng_seed}, logs {trial.log_dir}'
    )
  return 1 if any(s.get('status') == 'failed' for _, s in summaries) else 0


def workloads_command(argv: List[str]) -> int:
  if argv:
    raise UsageError(f'workloads takes no arguments, got {argv[0]!r}')
  from algoperf_like import registry
  from algoperf_like.workloads import targets

  for name in registry.workload_names():
    t = targets.workload_targets(name)
    print(
      f'{name}: validation/{t["target_metric_name"]} target {t["validation_target_value"]} '
      f'({t["metric_direction"]}), budget {t["max_allowed_runtime_sec"]}s'
    )
  return 0


def score_command(argv: List[str]) -> int:
  from algoperf_like.scoring import cli as scoring_cli

  return scoring_cli.main(argv)


def _set_targets_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string('workload', None, 'Workload name(s), comma-separated.', flag_values=fv)
  d.DEFINE_integer(
    'steps',
    None,
    'Step budget of every run (default: 1.5x the step_hint).',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_integer(
    'step_hint',
    None,
    "step_hint during the runs, which sets the baselines' "
    "schedules, and the one committed (default: the workload's current one).",
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_integer(
    'eval_every',
    None,
    'Evaluate every N steps (default: steps / 20).',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_integer('trials', 3, 'Quasirandom points per algorithm.', lower_bound=1, flag_values=fv)
  d.DEFINE_integer('seeds', 5, 'Reruns of the best configuration.', lower_bound=1, flag_values=fv)
  d.DEFINE_integer('rng_seed', 0, 'Seed of the procedure.', lower_bound=0, flag_values=fv)
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
    'reproduce',
    False,
    'Rerun the committed seed runs and compare with the '
    'committed target instead of setting a new one.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'commit',
    True,
    'Write workloads/target_setting/<workload>.json and workloads/targets.json.',
    flag_values=fv,
  )
  d.DEFINE_string('data_dir', DEFAULT_DATA_DIR, 'TFDS data directory.', flag_values=fv)
  return fv


def set_targets_command(argv: List[str]) -> int:
  fv = _set_targets_flags()
  _parse(fv, argv)
  from algoperf_like import registry
  from algoperf_like.workloads import targets as targets_lib

  if not fv.workload:
    raise UsageError('--workload is required (known: ' + ', '.join(registry.workload_names()) + ')')
  names = _workload_names(fv.workload)
  quiet_libraries()
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
    if fv.budget_from_record:
      budget = _recorded_budget(fv, name, target_setting)
    else:
      step_hint = fv.step_hint or workload.step_hint
      steps = fv.steps or int(1.5 * step_hint)
      budget = target_setting.Budget(
        steps=steps,
        eval_every=fv.eval_every or max(steps // 20, 1),
        trials=fv.trials,
        seeds=fv.seeds,
        rng_seed=fv.rng_seed,
        candidates=fv.candidates,
        step_hint=step_hint,
      )
    record = target_setting.set_targets(workload, fv.data_dir, budget)
    print(f'{name}: ' + json.dumps(record['targets'], sort_keys=True))
    if fv.commit:
      target_setting.commit(record, str(targets_lib.TARGETS_FILE))
      targets_lib.load_targets.cache_clear()
  return 0


def _recorded_budget(fv, name: str, target_setting):
  """The committed record's budget, with this procedure's --candidates."""
  budget_flags = ('steps', 'step_hint', 'eval_every', 'trials', 'seeds', 'rng_seed')
  given = [f'--{f}' for f in budget_flags if fv[f].present]
  if given:
    raise UsageError(f'--budget_from_record: leave {", ".join(given)} unset')
  path = target_setting.provenance_path(name)
  if not os.path.exists(path):
    raise UsageError(f'--budget_from_record: {path} does not exist')
  with open(path) as f:
    recorded = dict(json.load(f)['budget'], candidates=fv.candidates)
  recorded['algorithms'] = tuple(recorded['algorithms'])
  return target_setting.Budget(**recorded)


def _workload_names(value: str) -> List[str]:
  """Names from a comma-separated list of workloads and suites."""
  from algoperf_like import registry

  try:
    return registry.expand_workloads(value)
  except registry.UnknownWorkloadError as e:
    raise UsageError(f'--workload: {e}') from None


def suite_command(argv: List[str]) -> int:
  from algoperf_like import registry

  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string(
    'workload', registry.DEFAULT_SUITE, 'Suite or workloads, comma-separated.', flag_values=fv
  )
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
  d.DEFINE_integer(
    'num_tuning_trials', 5, 'Trials per workload (full mode).', lower_bound=1, flag_values=fv
  )
  d.DEFINE_integer(
    'num_studies',
    1,
    'Studies (full mode: independent tunings; quick mode: '
    'the same point with another seed); scores use the median.',
    lower_bound=1,
    flag_values=fv,
  )
  d.DEFINE_integer('rng_seed', 0, 'Seed of the plan.', lower_bound=0, flag_values=fv)
  d.DEFINE_string(
    'experiment_dir',
    os.path.join('experiments', 'suite'),
    'Where the logs and the scores go.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'overwrite', False, 'Delete earlier logs in experiment_dir first.', flag_values=fv
  )
  d.DEFINE_string('data_dir', DEFAULT_DATA_DIR, 'TFDS data directory.', flag_values=fv)
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
  _parse(fv, argv)
  names = _workload_names(fv.workload)
  try:
    subs = registry.expand_submissions(fv.submissions)
  except registry.UnknownSubmissionError as e:
    raise UsageError(f'--submissions: no submissions/{e.args[1]}/submission.py') from None
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
  if fv.overwrite and os.path.exists(fv.experiment_dir):
    shutil.rmtree(fv.experiment_dir)
  quiet_libraries()
  from algoperf_like.executors import make_executor

  run_flags = _run_flags()
  # Suite trials last seconds to a minute: one checkpoint a minute bounds the loss.
  run_flags(['algoperf-like', f'--data_dir={fv.data_dir}', '--checkpoint_period_sec=60'])
  print(
    f'{len(plan)} trials: {", ".join(subs)} on {", ".join(names)}'
    + (' (quick: best known points)' if fv.quick else ''),
    file=sys.stderr,
  )
  _run_plan(plan, run_flags, make_executor('local'))  # Failed trials count as not reached.
  output_dir = fv.experiment_dir.rstrip(os.sep) + '_scores'
  score_args = [
    '--submission_directory',
    fv.experiment_dir,
    '--output_dir',
    output_dir,
    '--expected_studies',
    str(fv.num_studies),
    '--reference',
    subs[0],
    '--expected_trials',
    str(1 if fv.quick else fv.num_tuning_trials),
  ]
  if fv.report_dir:
    command = fv.report_command or ' '.join(['algoperf-like', 'suite'] + list(argv))
    score_args += [
      '--report_dir',
      fv.report_dir,
      '--report_title',
      fv.report_title,
      '--report_command',
      command,
    ]
  rc = score_command(score_args)
  print(f'logs: {fv.experiment_dir}; scores and report: {output_dir}/report.html')
  return rc


def check_command(argv: List[str]) -> int:
  quiet_libraries()
  from algoperf_like import checker

  return checker.check_main(argv)


COMMANDS = {
  'run': run_command,
  'suite': suite_command,
  'score': score_command,
  'check': check_command,
  'workloads': workloads_command,
  'set-targets': set_targets_command,
}


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if not argv or argv[0] in ('-h', '--help', 'help'):
    print(USAGE)
    return 0 if argv else 2
  command, rest = argv[0], argv[1:]
  if command not in COMMANDS:
    print(f'algoperf-like: unknown command {command!r} ({", ".join(COMMANDS)})', file=sys.stderr)
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
