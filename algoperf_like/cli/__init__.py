"""``algoperf-like`` (also ``python -m algoperf_like``): one absl command per module.

``run``, ``suite``, ``leaderboard``, ``set-targets``, ``workloads``, ``datasets``, ``noise`` and ``calibrate`` live here (``cli/<command>.py``);
``score`` is :func:`algoperf_like.scoring.cli.main` and ``check`` is
:func:`algoperf_like.checker.check_main`. Every command parses its argv with
:mod:`algoperf_like.command_line`, so flags, help and errors behave the same in all of
them. The commands are the only place that reads flags or the environment; everything
below them takes explicit arguments. Bad input ends in one line on stderr and exit code 2,
with nothing written.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional

USAGE = """usage: algoperf-like COMMAND [FLAGS]   (or: python -m algoperf_like COMMAND [FLAGS])

commands:
  run         train a submission on workloads (AlgoPerf's submission_runner flags)
  suite       run the baselines on a suite, score them, print the leaderboard
  score       score log trees: performance profiles, scores, leaderboard, report
  check       check a submission against the rules (static checks and a smoke run)
  leaderboard check, run and score a submission against a leaderboard; write the PR comment
  workloads   list the workloads, suites and baselines, with targets and budgets
  set-targets set a workload's targets and budgets by AlgoPerf's procedure
  datasets    prepare a dataset into a --data_dir (AlgoPerf's dataset_setup.py), or list them
  noise       rerun fixed configurations: machine and training noise, signal-to-noise
  calibrate   time a fixed training loop here (for score --normalise_to_reference)

'algoperf-like COMMAND --help' shows the flags of a command; every command reads
--flagfile=FILE too."""

COMMAND_NAMES = (
  'run',
  'suite',
  'score',
  'check',
  'leaderboard',
  'workloads',
  'set-targets',
  'datasets',
  'noise',
  'calibrate',
)


def _command(name: str) -> Callable[[List[str]], int]:
  """The ``main(argv) -> int`` of a command, imported only when it runs."""
  if name == 'run':
    from algoperf_like.cli import run

    return run.main
  if name == 'suite':
    from algoperf_like.cli import suite

    return suite.main
  if name == 'score':
    from algoperf_like.scoring import cli as scoring_cli

    return scoring_cli.main
  if name == 'check':
    from algoperf_like import checker

    return checker.check_main
  if name == 'leaderboard':
    from algoperf_like.cli import leaderboard

    return leaderboard.main
  if name == 'workloads':
    from algoperf_like.cli import workloads

    return workloads.main
  if name == 'set-targets':
    from algoperf_like.cli import set_targets

    return set_targets.main
  if name == 'datasets':
    from algoperf_like.cli import datasets

    return datasets.main
  if name == 'noise':
    from algoperf_like.cli import noise

    return noise.main
  if name == 'calibrate':
    from algoperf_like.cli import calibrate

    return calibrate.main
  raise KeyError(name)


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if not argv or argv[0] in ('-h', '--help', 'help'):
    print(USAGE)
    return 0 if argv else 2
  command, rest = argv[0], argv[1:]
  if command not in COMMAND_NAMES:
    print(
      f'algoperf-like: unknown command {command!r} ({", ".join(COMMAND_NAMES)})', file=sys.stderr
    )
    return 2
  from algoperf_like.command_line import UsageError
  from algoperf_like.sandbox import SandboxUnavailable
  from algoperf_like.search_space import SearchSpaceError
  from algoperf_like.submission import SubmissionError

  try:
    return _command(command)(rest)
  except (UsageError, SearchSpaceError, SubmissionError, SandboxUnavailable) as e:
    print(f'algoperf-like {command}: {e}', file=sys.stderr)
    return 2
  except SystemExit as e:  # --help
    return e.code if isinstance(e.code, int) else 0
  except KeyboardInterrupt:
    print(f'algoperf-like {command}: interrupted', file=sys.stderr)
    return 130
  except BrokenPipeError:  # The reader left (`| head`, `| grep -q`): not an error of ours.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # No second error at exit.
    return 0


def run_main() -> None:
  """Console-script entry point."""
  sys.exit(main())
