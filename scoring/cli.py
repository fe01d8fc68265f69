"""Command line: ``python -m algoperf_like.scoring`` / ``algoperf-like score``.

``main(argv) -> int``: 0 on success, 2 on bad input (one-line message on
stderr, no traceback).  Warnings about untidy logs go to stderr as
``warning: ...`` lines (and to ``warnings.txt`` in the output directory).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from .errors import ScoringError


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # one line, exit code 2
    sys.stderr.write(f'{self.prog}: error: {message}\n')
    raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
  p = _Parser(
    prog='algoperf-like score',
    description='Score AlgoPerf-style log trees (time to target, performance profiles).',
  )
  p.add_argument(
    '--submission_directory',
    required=True,
    help='ruleset directory: {submission}/study_k/{workload}_{framework}/trial_m/',
  )
  p.add_argument('--output_dir', required=True, help='where tables, plots and report.html go')
  p.add_argument(
    '--workload_targets',
    default=None,
    help="workload_targets JSON (default: this project's workloads/targets.json)",
  )
  p.add_argument(
    '--self_tuning_ruleset',
    action='store_true',
    help='score the self-tuning ruleset (one trial per study, longer budget)',
  )
  p.add_argument(
    '--reference',
    default=None,
    help='submission to compute speedups against (geometric mean of time ratios)',
  )
  p.add_argument(
    '--best_trial',
    choices=['eval', 'time'],
    default='eval',
    help='best trial per study: fewest evals to target (official code, default) '
    'or shortest time (documentation)',
  )
  p.add_argument(
    '--integral',
    choices=['trapezoid', 'exact'],
    default='trapezoid',
    help='score integral: trapezoid on the official tau grid (default) or exact',
  )
  p.add_argument(
    '--enforce_budget',
    action='store_true',
    help='hits after max_allowed_runtime_sec (x self-tuning factor) do not count (docs)',
  )
  p.add_argument(
    '--no_heldout_rule',
    action='store_true',
    help='ignore held_out_workloads listed in the targets file',
  )
  p.add_argument('--max_tau', type=float, default=4.0, help='upper end of tau (default 4)')
  p.add_argument('--num_points', type=int, default=100, help='tau grid size (default 100)')
  p.add_argument(
    '--cut',
    type=float,
    default=4.0,
    help='times above CUT x the best count as not reached (default 4; 0 disables)',
  )
  p.add_argument(
    '--time_column',
    default='accumulated_submission_time',
    help='CSV column used as time (default accumulated_submission_time)',
  )
  p.add_argument(
    '--expected_studies',
    type=int,
    default=3,
    help='warn when a workload has another number of studies (0: no check)',
  )
  p.add_argument(
    '--expected_trials',
    type=int,
    default=None,
    help='warn when a study has another number of trials (default: 5 external, 1 self-tuning)',
  )
  p.add_argument(
    '--report_dir',
    default=None,
    help='also write a Markdown report with its plots there (README.md, *.png)',
  )
  p.add_argument('--report_title', default='Scoring report', help='title of that report')
  p.add_argument(
    '--report_command', default=None, help='the command that regenerates the report, quoted in it'
  )
  p.add_argument(
    '--submissions', default=None, help='comma-separated subset of submissions to score'
  )
  p.add_argument('--quiet', action='store_true', help='do not print tables or warnings')
  return p


def main(argv: list[str] | None = None) -> int:
  try:
    args = build_parser().parse_args(argv)
  except SystemExit as e:
    return int(e.code or 0)
  from . import report
  from .errors import ScoringWarning
  from .pipeline import ScoringOptions, score_directory

  opts = ScoringOptions(
    self_tuning=args.self_tuning_ruleset,
    best_trial=args.best_trial,
    integral=args.integral,
    enforce_budget=args.enforce_budget,
    heldout_rule=not args.no_heldout_rule,
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
