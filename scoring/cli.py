"""Command line: ``python -m algoperf_like.scoring`` / ``algoperf-like score``.

``main(argv) -> int``: 0 on success, 2 on bad input (one-line message on
stderr, no traceback).  Warnings about untidy logs go to stderr as
``warning: ...`` lines (and to ``warnings.txt`` in the output directory).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

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
    None,
    'Warn when a workload has another number of studies (default: by the targets '
    "file's benchmark_version, 5 for 0.5, else 3; 0: no check).",
    flag_values=fv,
  )
  d.DEFINE_integer(
    'bootstrap_samples',
    1000,
    'Bootstrap resamples of studies (and trials) for 95% intervals (0: none).',
    flag_values=fv,
  )
  d.DEFINE_integer('bootstrap_seed', 0, 'Seed of the bootstrap.', flag_values=fv)
  d.DEFINE_string(
    'compare_to',
    None,
    'An earlier --output_dir: print and write (diff.csv, diff.md) what changed.',
    flag_values=fv,
  )
  d.DEFINE_enum(
    'format',
    'text',
    ['text', 'json'],
    'What goes to stdout: tables (text) or the scores as JSON.',
    flag_values=fv,
  )
  d.DEFINE_boolean('html_report', True, 'Write report.html (the slowest output).', flag_values=fv)
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
  d.DEFINE_boolean(
    'exclude_compile_time',
    False,
    "Time to target less the compile seconds of the submission's calls before that eval "
    '(trial_summary.json compile_time; AlgoPerf counts compilation, the default here too).',
    flag_values=fv,
  )
  d.DEFINE_string(
    'normalise_to_reference',
    None,
    'A calibration record (algoperf-like calibrate) of the reference system: express '
    "times in its seconds, scaling each trial by its own calibration's speed "
    '(calibration.json in the trial, submission or tree directory).',
    flag_values=fv,
  )
  d.DEFINE_boolean(
    'allow_mixed_hardware',
    False,
    'Compare trials that ran on different hardware classes (flagged in the warnings); '
    'without it such a comparison is an error.',
    flag_values=fv,
  )
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
    expected_studies=(0 if args.expected_studies is None else (args.expected_studies or None)),
    bootstrap_samples=args.bootstrap_samples,
    bootstrap_seed=args.bootstrap_seed,
    expected_trials=args.expected_trials,
    submissions=[s for s in args.submissions.split(',') if s] if args.submissions else None,
    exclude_compile_time=args.exclude_compile_time,
    allow_mixed_hardware=args.allow_mixed_hardware,
    normalise_to_reference=args.normalise_to_reference,
  )
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', ScoringWarning)  # printed below instead
      res = score_directory(args.submission_directory, args.workload_targets, opts)
    report.write_outputs(res, args.output_dir, html_report=args.html_report)
    if args.report_dir:
      report.write_report_dir(res, args.report_dir, args.report_title, args.report_command)
    changes = None
    if args.compare_to:
      from . import diff

      changes = diff.compare(res.scores, diff.read_previous(args.compare_to))
      changes_md = diff.to_markdown(changes, args.compare_to)
      changes.to_csv(Path(args.output_dir) / 'diff.csv', index=False)
      (Path(args.output_dir) / 'diff.md').write_text(changes_md)
  except ScoringError as e:
    sys.stderr.write(f'error: {e}\n')
    return 2
  except OSError as e:
    sys.stderr.write(f'error: {e.strerror or e}: {e.filename or ""}\n')
    return 2
  if args.format == 'json':
    doc = report.scores_json(res)
    if changes is not None:
      doc['compare_to'] = {
        'previous': args.compare_to,
        'changes': json.loads(changes.to_json(orient='records')),
      }
    sys.stdout.write(json.dumps(doc, indent=1) + '\n')
  if args.quiet:
    return 0
  where = str(Path(args.output_dir) / 'warnings.txt')
  for line in report.warning_lines(res.warnings, where, args.submission_directory):
    sys.stderr.write(line + '\n')
  if args.format == 'text':
    report.print_tables(res)
    if changes is not None:
      sys.stdout.write(changes_md + '\n')
    sys.stdout.write(f'Wrote {args.output_dir}\n')
  return 0


if __name__ == '__main__':  # pragma: no cover
  raise SystemExit(main())
