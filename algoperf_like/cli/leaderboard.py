"""``algoperf-like leaderboard``: a leaderboard CI's answer to one submission.

Checks the submission, runs it on the CPU suite (quick: one trial per workload with the first
point of its own search space; ``--full``: ``--num_tuning_trials`` points), scores it with the
leaderboard's entries and writes ``comment.md`` and ``summary.json`` into ``--output_dir``
(see :mod:`algoperf_like.leaderboard`). Exit code 0 accepted, 1 rejected, 2 error.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import List, Optional

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like import registry
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  "A leaderboard's check of one submission: check (rules, smoke run), run on the CPU suite "
  "(quick by default, --full tunes), score with the leaderboard's entries; writes comment.md "
  'and summary.json. Exit code 0: accepted, 1: rejected (a rule broken), 2: error.'
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  cl.define_submission_path(
    fv, 'The submission folder (submission.py, tuning_search_space.json), or a baseline by name.'
  )
  d.DEFINE_string(
    'leaderboard_dir',
    None,
    "The leaderboard's committed logs: LEADERBOARD_DIR/<submission>/study_k/<workload>_jax/"
    'trial_m/ (what run --experiment_dir=LEADERBOARD_DIR --experiment_name=<submission> '
    'writes; required, may be empty).',
    flag_values=fv,
  )
  cl.define_output_dir(
    fv, 'leaderboard_report', 'Where comment.md, summary.json, the logs and scores go.'
  )
  cl.define_overwrite(fv, 'Delete --output_dir first (else it must be empty or missing).')
  d.DEFINE_boolean(
    'full',
    False,
    'Tune: --num_tuning_trials points of the search space per workload (default: quick, '
    'one trial with its first point).',
    flag_values=fv,
  )
  cl.define_workload(fv, registry.DEFAULT_SUITE, 'Suite or workloads to run, comma-separated.')
  d.DEFINE_integer(
    'num_tuning_trials',
    None,
    'Trials per study (default: 1 quick, 5 with --full).',
    lower_bound=1,
    flag_values=fv,
  )
  cl.define_num_studies(fv, 1, 'Studies per workload.')
  cl.define_tuning_ruleset(fv)
  cl.define_data_dir(fv)
  cl.define_rng_seed(fv, 'Seed of the plan.')
  cl.define_max_global_steps(fv, 'Stop each trial after this many steps (tests, slow machines).')
  cl.define_eval_every_steps(fv, 'Evaluate every N steps instead of by time (tests).')
  d.DEFINE_integer(
    'bootstrap_samples',
    1000,
    'Bootstrap resamples for the score intervals (0: none).',
    lower_bound=0,
    flag_values=fv,
  )
  cl.define_sandbox(fv, True)
  return fv


def run_url(environ) -> Optional[str]:
  """The GitHub Actions run's address, when GitHub's variables say where it is."""
  parts = [environ.get(k) for k in ('GITHUB_SERVER_URL', 'GITHUB_REPOSITORY', 'GITHUB_RUN_ID')]
  if not all(parts):
    return None
  return f'{parts[0].rstrip("/")}/{parts[1]}/actions/runs/{parts[2]}'


def main(argv: List[str]) -> int:
  fv = define_flags()
  parsed = cl.parse(fv, argv, 'algoperf-like leaderboard', DESCRIPTION)
  if parsed.positional:
    raise UsageError(f'unexpected argument {parsed.positional[0]!r}')
  cl.require(fv, 'submission_path', 'leaderboard_dir')
  from algoperf_like import checker
  from algoperf_like import leaderboard as lb
  from algoperf_like.cli import run as run_cli

  options = lb.Options(
    submission_dir=checker.submission_folder(fv.submission_path),
    leaderboard_dir=os.path.expanduser(fv.leaderboard_dir),
    output_dir=os.path.expanduser(fv.output_dir),
    workloads=run_cli.workload_names(fv.workload),
    full=fv.full,
    num_tuning_trials=fv.num_tuning_trials,
    num_studies=fv.num_studies,
    tuning_ruleset=fv.tuning_ruleset,
    data_dir=fv.data_dir,
    rng_seed=fv.rng_seed,
    max_global_steps=fv.max_global_steps,
    eval_every_steps=fv.eval_every_steps,
    bootstrap_samples=fv.bootstrap_samples,
    run_url=run_url(os.environ),
    sandbox=cl.sandbox_config(fv),
  )
  try:
    lb.validate(options)
  except lb.BadInput as e:
    raise UsageError(str(e)) from None
  out = options.output_dir
  if os.path.isdir(out) and os.listdir(out):
    if not fv.overwrite:
      raise UsageError(f'--output_dir: {out} is not empty (pass --overwrite to replace it)')
    shutil.rmtree(out)
  cl.warn(parsed)
  cl.quiet_libraries()
  outcome = lb.evaluate(options)
  print(
    f'{outcome.verdict}: {outcome.reason or outcome.name}; {os.path.join(out, lb.COMMENT_FILE)}',
    file=sys.stderr,
  )
  return outcome.exit_code
