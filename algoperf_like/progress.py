"""Progress lines while a trial trains, and the closing summary.

One line per evaluation (step, submission time against the budget, the
validation metric against the target). Plain text, so it reads the same on a
terminal, in CI and in a Slurm log.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, TextIO


def format_eval(label: str, record: Dict[str, Any]) -> str:
  metric = record['metric']
  metric_text = 'n/a' if metric is None else f'{metric:.4f}'
  mark = ' reached' if record['reached'] else ''
  return (
    f'[{label}] step {record["global_step"]:>7d} | submission '
    f'{record["submission_time"]:8.1f}s / {record["budget"]:.0f}s | '
    f'validation/{record["metric_name"]} {metric_text} '
    f'(target {record["target"]:g}){mark}'
  )


class EvalPrinter:
  """An ``on_eval`` callback printing :func:`format_eval` lines to a stream."""

  def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
    self.label = label
    self.stream = stream

  def __call__(self, record: Dict[str, Any]) -> None:
    print(format_eval(self.label, record), file=self.stream, flush=True)


def format_summary(label: str, result) -> str:
  if result.time_to_target is not None:
    outcome = f'target reached in {result.time_to_target:.2f}s of submission time'
  else:
    outcome = f'target not reached ({result.status})'
  return (
    f'{label}: {outcome}, {result.global_step} steps, seed {result.rng_seed}, logs {result.log_dir}'
  )
