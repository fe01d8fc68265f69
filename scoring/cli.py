"""Command line: ``python -m algoperf_like.scoring`` / ``algoperf-like score``.

``main(argv) -> int``: 0 on success, 2 on bad input (one-line message on
stderr, no traceback).  Warnings about untidy logs go to stderr as
``warning: ...`` lines (and to ``warnings.txt`` in the output directory).
"""

from __future__ import annotations

import sys
import warnings

from absl import flags as absl_flags

from algoperf_like import command_line as cl

from .errors import ScoringError

DESCRIPTION = 'Score AlgoPerf-style log trees (time to target, performance profiles).'
RENAMED = (
  cl.Renamed(
    'self_tuning_ruleset',
    'tuning_ruleset',
    boolean=True,
    value=lambda on: 'self' if on else 'external',
  ),
  cl.negated('heldout_rule'),
)


def define_flags() -> absl_flags.FlagValues:
  fv = absl_flags.FlagValues()
  d = absl_flags
  d.DEFINE_string(
    'submission_directory',
    None,
    'Ruleset directory: {submission}/study_k/{workload}_{framework}/trial_m/ (required).',
    flag_values=fv,
  )
  cl.define_output_dir(fv, None, 'Where tables, plots and report.html go (required).')
  d.DEFINE_string(
    'workload_targets',
    None,
    "workload_targets JSON (default: this project's targets, workloads/targets.json).",
    flag_values=fv,
  )
  cl.define_tuning_ruleset(fv)
  d.DEFINE_string(
    'reference',
    None,
    'Submission to compute speedups against (geometric mean of time ratios).',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'best_trial',
    'eval',
    ['eval', 'time', 'eval_listing'],
    'Best trial per study: fewest evals to target (official code, default; ties: the '
    'shorter time), shortest time (documentation), or eval_listing: fewest evals, ties: '
    "the lower trial number (AlgoPerf's code breaks ties by directory listing order; "
    'this is its result when folders list in ascending order).',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'integral',
    'trapezoid',
    ['trapezoid', 'exact'],
    'Score integral: trapezoid on the official tau grid (default) or exact.',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'enforce_budget',
    False,
    'Hits after max_allowed_runtime_sec (x self-tuning factor) do not count (docs).',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'heldout_rule',
    True,
    'Apply the held-out workloads rule (held_out_workloads of the targets file).',
    flag_values=fv,
  )
  d.DEFINE_float('max_tau', 4.0, 'Upper end of tau.', flag_values=fv)
  d.DEFINE_integer('num_points', 100, 'Tau grid size.', flag_values=fv)
  d.DEFINE_float(
    'cut', 4.0, 'Times above CUT x the best count as not reached (0 disables).', flag_values=fv
  )
  d.DEFINE_string(
    'time_column', 'accumulated_submission_time', 'CSV column used as time.', flag_values=fv
  )
  d.DEFINE_integer(
    'expected_studies',
    3,
    'Warn when a workload has another number of studies (0: no check).',
    flag_values=fv,
  )
  d.DEFINE_integer(
    'expected_trials',
    None,
    'Warn when a study has another number of trials (default: 5 external, 1 self-tuning).',
    flag_values=fv,
  )
  d.DEFINE_string(
    'report_dir',
    None,
    'Also write a Markdown report with its plots there (README.md, *.png).',
    flag_values=fv,
  )
  d.DEFINE_string('report_title', 'Scoring report', 'Title of that report.', flag_values=fv)
  d.DEFINE_string(
    'report_command', None, 'The command that regenerates the report, quoted in it.', flag_values=fv
  )
  d.DEFINE_string(
    'submissions', None, 'Comma-separated subset of submissions to score.', flag_values=fv
  )
  d.DEFINE_boolean('quiet', False, 'Print no tables and no warnings.', flag_values=fv)
  return fv


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  fv = define_flags()
  try:
    parsed = cl.parse(fv, argv, 'algoperf-like score', DESCRIPTION, RENAMED)
    if parsed.positional:
      raise cl.UsageError(f'unexpected argument {parsed.positional[0]!r}')
    cl.require(fv, 'submission_directory', 'output_dir')
  except cl.UsageError as e:
    sys.stderr.write(f'algoperf-like score: {e}\n')
    return 2
  except SystemExit as e:  # --help
    return int(e.code or 0)
  cl.warn(parsed)
  args = fv
  from . import report
  from .errors import ScoringWarning
  from .pipeline import ScoringOptions, score_directory

  opts = ScoringOptions(
    self_tuning=args.tuning_ruleset == 'self',
    best_trial=args.best_trial,
    integral=args.integral,
    enforce_budget=args.enforce_budget,
    heldout_rule=args.heldout_rule,
    max_tau=args.max_tau,
    num_points=args.num_points,
    cut=args.cut or None,
    reference=args.reference,
    time_column=args.time_column,
    expected_studies=args.expected_studies or None,
    expected_trials=args.expected_trials,
    submissions=[s for s in args.submissions.split(',') if s] if args.submissions else None,
  )
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', ScoringWarning)  # printed below instead
      res = score_directory(args.submission_directory, args.workload_targets, opts)
    report.write_outputs(res, args.output_dir)
    if args.report_dir:
      report.write_report_dir(res, args.report_dir, args.report_title, args.report_command)
  except ScoringError as e:
    sys.stderr.write(f'error: {e}\n')
    return 2
  except OSError as e:
    sys.stderr.write(f'error: {e.strerror or e}: {e.filename or ""}\n')
    return 2
  if not args.quiet:
    for m in res.warnings:
      sys.stderr.write(f'warning: {m}\n')
    report.print_tables(res)
    sys.stdout.write(f'Wrote {args.output_dir}/report.html\n')
  return 0


if __name__ == '__main__':  # pragma: no cover
  raise SystemExit(main())
