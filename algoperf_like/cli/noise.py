"""``algoperf-like noise``: rerun fixed configurations, measure the noise of time to target.

Runs each submission on each workload with its quick-mode point (``suite --quick``),
``--seeds`` seeds x ``--repeats`` runs of each seed (:mod:`algoperf_like.noise`), then
writes the analysis (:mod:`algoperf_like.scoring.noise`): machine noise, training noise,
the gap between the submissions, signal-to-noise ratios and the number of studies the
benchmark score needs to separate them. Finished trials are skipped, so the command
resumes, and ``--noanalyse`` / ``--norun`` split running from reporting.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like.cli import run as run_cli
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'Rerun each submission on each workload with its quick-mode point, several seeds and '
  'repeats of each seed; report machine noise, training noise, signal-to-noise ratios and '
  'how many studies the score needs to separate the submissions.'
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string('workloads', 'noise', 'Workloads or suites, comma-separated.', flag_values=fv)
  cl.define_workload_module(fv)
  d.DEFINE_string(
    'submissions', 'nadamw,adamw', 'Baselines (by name) or groups, comma-separated.', flag_values=fv
  )
  d.DEFINE_integer('seeds', 3, 'Seeds (one study each).', flag_values=fv)
  d.DEFINE_integer('repeats', 3, 'Runs of each seed (trials of a study).', flag_values=fv)
  d.DEFINE_string(
    'quick_base', None, 'As suite --quick_base (points for submissions without target '
    'setting runs of their own).', flag_values=fv
  )  # fmt: skip
  cl.define_rng_seed(fv, 'Seed of the plan (as suite --rng_seed).')
  cl.define_experiment_dir(fv, os.path.join('experiments', 'noise'), 'Where the logs go.')
  cl.define_overwrite(fv, 'Delete earlier logs in experiment_dir first.')
  cl.define_data_dir(fv)
  cl.define_max_global_steps(fv, 'Stop each trial after this many steps (tests, smoke runs).')
  d.DEFINE_float(
    'max_runtime_sec', None, "Override each workload's budget (seconds).", flag_values=fv
  )
  d.DEFINE_boolean('run', True, 'Run the trials not finished yet.', flag_values=fv)
  d.DEFINE_boolean('analyse', True, 'Analyse the tree and write the report.', flag_values=fv)
  d.DEFINE_string(
    'report_dir', os.path.join('docs', 'noise'), 'Where README.md and the plots go.', flag_values=fv
  )
  d.DEFINE_string(
    'report_command', None, 'The command quoted in the report (default: this command line).',
    flag_values=fv,
  )  # fmt: skip
  d.DEFINE_integer(
    'bootstrap_samples', 2000, 'Synthetic studies drawn per study count.', flag_values=fv
  )
  d.DEFINE_integer('max_studies', 50, 'Largest study count tried for separation.', flag_values=fv)
  d.DEFINE_integer(
    'calibrate_repeats',
    0,
    'Time the calibration workload (algoperf-like calibrate) with this many repeats just '
    "before and after each trial, into the trial's calibration.json (0: not).",
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'allow_mixed_hardware',
    False,
    'Analyse trials that ran on different hardware classes (else an error).',
    flag_values=fv,
  )
  return fv


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like noise', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  cl.import_workload_modules(fv.workload_module)
  names = run_cli.workload_names(fv.workloads)
  subs = run_cli.submission_names(fv.submissions)
  from algoperf_like import noise

  try:
    plan = noise.plan_noise(
      names, subs, fv.seeds, fv.repeats, fv.experiment_dir, fv.rng_seed, fv.quick_base
    )
  except ValueError as e:
    raise UsageError(str(e)) from None
  cl.warn(parsed)
  command = fv.report_command or ' '.join(['algoperf-like', 'noise'] + list(argv))
  rc = 0
  started = time.monotonic()
  if fv.run:
    if fv.overwrite and os.path.exists(fv.experiment_dir):
      shutil.rmtree(fv.experiment_dir)
    cl.quiet_libraries()
    run_flags = run_cli.define_flags()
    run_args = ['algoperf-like', f'--data_dir={fv.data_dir}', '--checkpoint_period_sec=60']
    if fv.max_global_steps:
      run_args.append(f'--max_global_steps={fv.max_global_steps}')
    if fv.max_runtime_sec:
      run_args.append(f'--max_runtime_sec={fv.max_runtime_sec}')
    run_flags(run_args)
    run_flags.workload_module = fv.workload_module
    print(
      f'{len(plan)} trials: {", ".join(subs)} on {", ".join(names)}, '
      f'{fv.seeds} seeds x {fv.repeats} repeats',
      file=sys.stderr,
    )
    executor = noise.LoadRecordingExecutor(
      run_cli.make_executor(run_flags, fv.experiment_dir, 'local'),
      fv.experiment_dir,
      fv.calibrate_repeats,
    )
    rc = run_cli.run_plan(plan, run_flags, executor)
  if not fv.analyse:
    return rc
  if rc:  # A failed trial (a diverged run, say) is a miss in the analysis, not an error.
    print('some trials failed: they count as not reaching the target', file=sys.stderr)
  from algoperf_like.scoring import noise as noise_analysis
  from algoperf_like.scoring.errors import ScoringError

  try:
    result = noise_analysis.analyse_directory(
      fv.experiment_dir,
      submissions=subs,
      workloads=names,
      samples=fv.bootstrap_samples,
      max_studies=fv.max_studies,
      allow_mixed_hardware=fv.allow_mixed_hardware,
    )
  except ScoringError as e:
    raise UsageError(str(e)) from None
  if fv.report_dir:
    noise_analysis.write_report(
      result, fv.report_dir, command, run_seconds=time.monotonic() - started if fv.run else None
    )
  print(noise_analysis.summary_text(result))
  if fv.report_dir:
    print(f'report: {os.path.join(fv.report_dir, "README.md")}')
  return 0
