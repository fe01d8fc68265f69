"""``algoperf-like run``: train a submission on workloads (AlgoPerf's submission_runner flags)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import List, Optional

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'Train a submission on workloads: every workload x --num_studies x --num_tuning_trials, '
  "logged in AlgoPerf's layout under --experiment_dir/--experiment_name."
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  cl.define_workload(fv)
  cl.define_workload_module(fv)
  cl.define_submission_path(fv)
  d.DEFINE_string(
    'tuning_search_space',
    None,
    'tuning_search_space.json (external tuning ruleset): a path, or a file name in the '
    "submission's folder (e.g. mnist1d_demo_point.json with --submission_path=nadamw).",
    flag_values=fv,
  )
  cl.define_tuning_ruleset(fv)
  cl.define_experiment_dir(fv, 'experiments', 'Root directory of the logs.')
  d.DEFINE_string(
    'experiment_name',
    None,
    'Logs go to experiment_dir/experiment_name/study_k/... (default: the submission folder name).',
    flag_values=fv,
  )
  cl.define_num_tuning_trials(fv, 5, 'Trials per study (external tuning).')
  cl.define_num_studies(fv, 3, 'Independent studies.')
  cl.define_rng_seed(fv, 'Seed of the plan; each trial derives its own seed.')
  cl.define_max_global_steps(fv, 'Stop each trial after this many steps.')
  cl.define_eval_every_steps(
    fv,
    'Evaluate every N steps instead of every eval_period_time_sec '
    '(reproducibility tests; not for scoring).',
  )
  d.DEFINE_float(
    'max_runtime_sec',
    None,
    "Override the workload's runtime budget.",
    lower_bound=0.0,
    flag_values=fv,
  )
  cl.define_overwrite(fv, 'Delete existing logs of this experiment first.')
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
  cl.define_data_dir(fv)
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
    'Where trials run: here, one child process each, or one Slurm task each '
    '(slurm needs the [slurm] extra: pip install algoperf-like[slurm]).',
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
    'slurm_python',
    None,
    'The command that starts Python in each Slurm task (default: this interpreter), e.g. '
    '"apptainer exec --nv algoperf-like.sif python" to run every trial in the image.',
    flag_values=fv,
  )
  d.DEFINE_string(
    'slurm_folder',
    None,
    'Folder for Slurm job files and task logs (default: '
    "experiment_dir/experiment_name/study_0/slurm, where AlgoPerf's scorer does not look).",
    flag_values=fv,
  )
  cl.define_sandbox(fv, False)
  define_algoperf_flags(fv)
  return fv


TRACE_STEPS = 10  # Steps that --capture_jax_trace records.
# AlgoPerf flags accepted for compatibility that change nothing here, and why.
IGNORED_FLAGS = {
  'torch_compile': 'JAX only',
  'pytorch_eval_num_workers': 'JAX only',
}


def define_algoperf_flags(fv: absl_flags.FlagValues) -> None:
  """The flags of AlgoPerf v0.6's ``submission_runner.py`` that the flags above lack."""
  d = absl_flags
  d.DEFINE_enum(
    'framework',
    'jax',
    ['jax', 'pytorch'],
    'The framework of the submission: jax (pytorch is refused: JAX only).',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'submission_api',
    'auto',
    ['auto', 'jit', 'pmap'],
    "AlgoPerf's API generation: jit (v0.6, jit + sharding) or pmap (replicated params with "
    'a leading device axis, batches (devices, per_device, ...)); auto: detected from the '
    'source.',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'algoperf_version',
    'auto',
    ['auto', '0.5', '0.6'],
    'The AlgoPerf version the submission sees: 0.5 restores JAX names removed since '
    '(jax.tree_map, ...); auto: 0.5 when it imports algorithmic_efficiency.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'append_timestamp',
    False,
    'Append -YYYY-MM-DD-HH-MM-SS to --experiment_name (AlgoPerf; the scorer merges such runs).',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'capture_jax_trace',
    False,
    'Record a jax.profiler trace of 10 steps (from step 2, after compilation) into each '
    "trial's jax_trace/ folder (TensorBoard's profile plugin or Perfetto read it). Its device "
    'syncs count as submission time: profile, do not score.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'use_wandb',
    False,
    'Also log every row to Weights & Biases (pip install "algoperf-like[wandb]"), in --wandb_mode.',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'wandb_mode',
    'offline',
    ['offline', 'online'],
    "--use_wandb's mode: offline (files in each trial's wandb/, no network; "
    '`wandb sync` uploads them later) or online.',
    flag_values=fv,
  )
  d.DEFINE_integer(
    'hparam_start_index',
    None,
    'Run only the trials whose 0-based index in the study is at least this (AlgoPerf).',
    lower_bound=0,
    flag_values=fv,
  )
  d.DEFINE_integer(
    'hparam_end_index',
    None,
    'Run only the trials whose 0-based index in the study is below this (AlgoPerf).',
    lower_bound=0,
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'profile',
    False,
    "Time each phase of every trial (set-up, the submission's host time per step, the "
    'device wait at evaluations, prepare_for_eval, evaluation, logging, checkpoints): a '
    "table in the trial's profile.txt (rows in profile.json) and on stderr.",
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'skip_evals',
    False,
    'Evaluate only once, when the trial ends (max_global_steps, the budget, or '
    'TrainingCompleteError), not on the eval schedule; time to target is then only '
    'seen at the end: not for scoring.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'save_intermediate_checkpoints',
    False,
    "Keep every checkpoint (the trial's checkpoints/step_N/), not only the latest "
    '(AlgoPerf keeps every one by default).',
    flag_values=fv,
  )
  d.DEFINE_string(
    'imagenet_v2_data_dir',
    None,
    'Where the ImageNet workloads read their test split, ImageNet-v2 (TFDS '
    'imagenet_v2/matched-frequency; default: --data_dir).',
    flag_values=fv,
  )
  d.DEFINE_string(
    'librispeech_tokenizer_vocab_path',
    None,
    'The SentencePiece model of the LibriSpeech workloads (default: '
    'data_dir/spm_model.vocab, where datasets prepare writes it).',
    flag_values=fv,
  )
  for name, why in IGNORED_FLAGS.items():
    if name == 'torch_compile':
      d.DEFINE_boolean(name, False, f'Accepted, ignored: {why}.', flag_values=fv)
    elif name == 'pytorch_eval_num_workers':
      d.DEFINE_integer(name, 0, f'Accepted, ignored: {why}.', flag_values=fv)
    else:
      d.DEFINE_string(name, None, f'Accepted, ignored: {why}.', flag_values=fv)


def ignored_flag_notes(fv: absl_flags.FlagValues) -> List[str]:
  """One note per accepted-but-ignored AlgoPerf flag set away from its default."""
  return [
    f'--{name}: accepted, ignored ({why})'
    for name, why in IGNORED_FLAGS.items()
    if fv[name].value != fv[name].default
  ]


def workload_names(value: str) -> List[str]:
  """Names from a comma-separated list of workloads and suites (``--workload``)."""
  from algoperf_like import registry

  try:
    return registry.expand_workloads(value)
  except registry.UnknownWorkloadError as e:
    raise UsageError(f'--workload: {e}') from None


def submission_names(value: str) -> List[str]:
  """Baselines from a comma-separated list of names and groups (``--submissions``)."""
  from algoperf_like import registry

  try:
    return registry.expand_submissions(value)
  except registry.UnknownSubmissionError as e:
    raise UsageError(f'--submissions: no submissions/{e.args[1]}/submission.py') from None


def submission_file(value: str) -> str:
  """The ``submission.py`` that ``--submission_path`` names (file, folder or baseline)."""
  from algoperf_like import registry

  try:
    return registry.resolve_submission(value)
  except FileNotFoundError as e:
    raise UsageError(f'--submission_path: {e}') from None


def search_space_file(value: str, submission: str) -> str:
  """``--tuning_search_space``: a path, or else a file of that name beside the submission."""
  path = os.path.expanduser(value)
  beside = os.path.join(os.path.dirname(submission), value)
  if not os.path.exists(path) and not os.path.isabs(path) and os.path.isfile(beside):
    return beside
  return path


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like run', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  cl.import_workload_modules(fv.workload_module)
  from algoperf_like import registry, trial_plan
  from algoperf_like import search_space as search_space_lib

  if fv.framework == 'pytorch':
    raise UsageError('--framework=pytorch: this harness runs JAX submissions only')
  if (
    fv.hparam_start_index is not None
    and fv.hparam_end_index is not None
    and fv.hparam_start_index >= fv.hparam_end_index
  ):
    raise UsageError('--hparam_start_index must be below --hparam_end_index')
  if fv.use_wandb:
    try:
      import wandb  # noqa: F401
    except ImportError:
      raise UsageError('--use_wandb needs wandb: pip install "algoperf-like[wandb]"') from None
  if not fv.workload:
    raise UsageError('--workload is required (known: ' + ', '.join(registry.workload_names()) + ')')
  if not fv.submission_path:
    raise UsageError('--submission_path is required')
  names = workload_names(fv.workload)
  submission_path = submission_file(fv.submission_path)
  space = None
  if fv.tuning_ruleset == 'external':
    if not fv.tuning_search_space:
      raise UsageError('--tuning_search_space is required under --tuning_ruleset=external')
    space = search_space_lib.load_search_space(
      search_space_file(fv.tuning_search_space, submission_path)
    )
  elif fv.tuning_search_space:
    raise UsageError('--tuning_search_space must not be given under --tuning_ruleset=self')
  for flag in ('data_dir', 'experiment_dir'):
    path = os.path.expanduser(getattr(fv, flag))
    if os.path.exists(path) and not os.path.isdir(path):
      raise UsageError(f'--{flag}: {path} is not a directory')
  if fv.overwrite and fv.resume_last_run:
    raise UsageError('--overwrite and --resume_last_run exclude each other')
  experiment_name = fv.experiment_name or os.path.basename(
    os.path.dirname(os.path.abspath(submission_path))
  )
  if fv.append_timestamp:
    import datetime

    experiment_name += datetime.datetime.now().strftime('-%Y-%m-%d-%H-%M-%S')
  plan = trial_plan.plan_trials(
    names,
    os.path.abspath(submission_path),
    space,
    fv.tuning_ruleset,
    num_studies=fv.num_studies,
    num_tuning_trials=fv.num_tuning_trials,
    rng_seed=fv.rng_seed,
    experiment_dir=fv.experiment_dir,
    experiment_name=experiment_name,
    official_per_study_draw=fv.official_per_study_draw,
  )
  start = fv.hparam_start_index or 0
  end = fv.hparam_end_index
  full_plan = plan  # Recorded whole: index ranges of one experiment can run apart.
  plan = [t for t in plan if t.trial - 1 >= start and (end is None or t.trial - 1 < end)]
  from algoperf_like.submission import missing_requirements

  missing = missing_requirements(submission_path)
  if missing:  # Said before anything runs; the import may still succeed.
    print(f'requirements.txt: not installed: {", ".join(missing)}', file=sys.stderr)
  for note in ignored_flag_notes(fv):
    print(note, file=sys.stderr)
  if fv.dry_run:
    cl.warn(parsed)
    for trial in plan:
      print(json.dumps(trial.to_json(), sort_keys=True))
    return 0

  cl.quiet_libraries()
  import jax

  from algoperf_like import sweep
  from algoperf_like.submission import load_submission, resolve_batch_size

  if not fv.sandbox:  # Importing runs the submission: under --sandbox only the trials do.
    submission = load_submission(submission_path)
    for name in names:  # Fail before anything is written.
      resolve_batch_size(submission, sweep.get_workload(name, fv.data_dir), jax.device_count())
  root = os.path.join(fv.experiment_dir, experiment_name)
  record = trial_plan.plan_record(full_plan)
  from algoperf_like import trial_logs

  plan_file = os.path.join(trial_logs.harness_dir(root), trial_logs.PLAN_FILE)
  executor = make_executor(fv, root)  # Bad executor options fail before anything is written.
  sandbox_config(fv)  # So does a machine where the sandbox cannot run.
  if os.path.exists(root) and not fv.overwrite:
    # Re-running the same command continues it; anything else would mix two experiments.
    old_plan = os.path.join(root, trial_logs.PLAN_FILE)  # Where earlier versions put it.
    if not (_same_plan(plan_file, record) or _same_plan(old_plan, record)):
      hint = (
        "its plan.json differs from this command's plan"
        if fv.resume_last_run
        else 'pass --overwrite to start over, or rerun the command that made it'
      )
      raise UsageError(f'--experiment_dir: {root} already exists with another plan; {hint}')
    print(f'{root}: same plan as before: resuming', file=sys.stderr)
  cl.warn(parsed)
  if fv.overwrite and os.path.exists(root):
    shutil.rmtree(root)
  os.makedirs(os.path.dirname(plan_file), exist_ok=True)
  old_plan = os.path.join(root, trial_logs.PLAN_FILE)
  if os.path.isfile(old_plan):  # Out of AlgoPerf's way: it would take the file for a study.
    os.replace(old_plan, plan_file)
  if not os.path.exists(plan_file):
    trial_logs.write_json(plan_file, record)
  return run_plan(plan, fv, executor)


def _same_plan(plan_file: str, record) -> bool:
  try:
    with open(plan_file) as f:
      return json.load(f)['trials'] == json.loads(json.dumps(record['trials']))
  except (OSError, ValueError, KeyError):
    return False


def make_executor(fv, root: str, name: Optional[str] = None):
  """The executor that ``--executor`` (or ``name``) asks for, its options checked."""
  from algoperf_like.executors import make_executor as make
  from algoperf_like.trial_logs import SLURM_DIR, harness_dir

  name = name or fv.executor
  if name == 'local':
    return make('local')
  if name == 'processes':
    return make('processes', max_parallel=fv.max_parallel)
  if shutil.which('sbatch') is None:
    raise UsageError('--executor=slurm: sbatch is not on PATH (no Slurm client here)')
  try:
    import submitit  # noqa: F401
  except ImportError:
    raise UsageError(
      '--executor=slurm needs submitit: pip install "algoperf-like[slurm]"'
    ) from None
  return make(
    'slurm',
    folder=fv.slurm_folder or os.path.join(harness_dir(root), SLURM_DIR),
    partition=fv.slurm_partition,
    time_min=fv.slurm_time_min,
    cpus_per_task=fv.slurm_cpus_per_task,
    gpus_per_task=fv.slurm_gpus_per_task,
    max_parallel=fv.max_parallel if fv.max_parallel > 1 else None,
    python=fv.slurm_python,
  )


def sandbox_config(fv):
  """``--sandbox``'s configuration (None without it); memory shared by parallel trials."""
  return cl.sandbox_config(fv, fv.max_parallel if fv.executor == 'processes' else 1)


def run_plan(plan, fv, executor) -> int:
  """Run the trials of ``plan`` not finished yet with the run flags ``fv``; report each."""
  from algoperf_like import monitor, runner, sweep

  config = runner.RunConfig(
    data_dir=fv.data_dir,
    imagenet_v2_data_dir=fv.imagenet_v2_data_dir,
    tuning_ruleset=fv.tuning_ruleset,
    max_global_steps=fv.max_global_steps,
    eval_every_steps=fv.eval_every_steps,
    max_runtime_sec=fv.max_runtime_sec,
    save_checkpoints=fv.save_checkpoints,
    checkpoint_period_sec=fv.checkpoint_period_sec,
    submission_api=None if fv.submission_api == 'auto' else fv.submission_api,
    algoperf_version=None if fv.algoperf_version == 'auto' else fv.algoperf_version,
    capture_jax_trace_steps=TRACE_STEPS if fv.capture_jax_trace else 0,
    wandb_mode=fv.wandb_mode if fv.use_wandb else None,
    skip_evals=fv.skip_evals,
    save_intermediate_checkpoints=fv.save_intermediate_checkpoints,
    profile=fv.profile,
  )
  finished, to_run = sweep.split_finished(plan)
  for trial in finished:
    print(f'[{sweep.trial_label(trial)}] finished earlier: skipped', file=sys.stderr)
  workload_info = {}
  for name in {t.workload for t in plan}:
    workload = sweep.get_workload(name, fv.data_dir)
    workload_info[name] = {
      'metric': workload.target_metric_name,
      'target': workload.validation_target_value,
      'budget': runner.budget_seconds(workload, config),
    }
  progress = monitor.SweepMonitor(to_run, workload_info).start()
  summaries = []

  def report(job, summary):
    progress.trial_finished(job.trial, summary)
    summaries.append((job.trial, summary))

  jobs = sweep.jobs_for(
    to_run, config, fv.flag_values_dict(), fv.workload_module, sandbox_config(fv)
  )
  try:
    executor.run(jobs, report)
  finally:
    progress.stop()
  for trial, summary in summaries:
    print(
      f'{sweep.trial_label(trial)}: {monitor.describe_summary(summary)}, '
      f'seed {trial.rng_seed}, logs {trial.log_dir}'
    )
  return 1 if any(s.get('status') in monitor.UNSUCCESSFUL for _, s in summaries) else 0
