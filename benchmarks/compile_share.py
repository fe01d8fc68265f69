"""Share of time to target spent compiling, per trial of a log tree (Markdown to stdout).

Reads ``trial_summary.json`` ``compile_time`` (recorded by the runner,
:mod:`algoperf_like.compile_time`). Usage:
``python benchmarks/compile_share.py experiments/suite`` (after ``make demo``).
"""

from __future__ import annotations

import sys

from algoperf_like.scoring.compile_time import (
  compile_shares,
  shares_markdown,
  workload_summary_markdown,
)


def main(argv: list[str]) -> int:
  if len(argv) != 1:
    print('usage: python benchmarks/compile_share.py TREE', file=sys.stderr)
    return 2
  df = compile_shares(argv[0])
  if not len(df):
    print(f'no trials with a compile_time record under {argv[0]}', file=sys.stderr)
    return 2
  print(workload_summary_markdown(df) + '\n\nPer trial:\n\n' + shares_markdown(df))
  return 0


if __name__ == '__main__':
  raise SystemExit(main(sys.argv[1:]))
