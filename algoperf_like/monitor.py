"""Progress of a sweep, read from the log tree (so it works for every executor).

A background thread polls the trial directories of the plan. On a terminal
it draws a live ``rich`` table (trials done, running, failed and to go; for
each running trial its step, submission time against budget and last
validation metric against target). Without a terminal it prints one plain
line per new evaluation and per finished trial, fit for CI and Slurm logs.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import threading
from typing import Any, Dict, Optional, Sequence, TextIO

from algoperf_like import trial_logs
from algoperf_like.trial_plan import TrialSpec


def last_eval_row(log_dir: str) -> Optional[Dict[str, str]]:
  """The last complete row of ``eval_measurements.csv`` (None if there is none yet)."""
  path = os.path.join(log_dir, trial_logs.EVAL_FILE)
  try:
    with open(path, newline='') as f:
      text = f.read()
  except OSError:
    return None
  lines = text.splitlines(keepends=True)
  complete = [l for l in lines if l.endswith('\n')]
  if len(complete) < 2:
    return None
  return next(csv.DictReader(io.StringIO(complete[0] + complete[-1])))


# Trial statuses that end a trial with an error (the reason in the summary's 'error').
UNSUCCESSFUL = ('failed', 'rule_violation')


def describe_summary(summary: Dict[str, Any]) -> str:
  if summary.get('time_to_target') is not None:
    return f'target reached in {summary["time_to_target"]:.2f}s of submission time'
  reason = (
    f': {summary["error"]}'
    if summary.get('status') in UNSUCCESSFUL and summary.get('error')
    else ''
  )
  return f'target not reached ({summary.get("status")}{reason})'


class SweepMonitor:
  """Polls the plan's trial directories and shows progress until ``stop()``."""

  max_finished_rows = 10  # The live table lists the latest finished trials only.

  def __init__(
    self,
    plan: Sequence[TrialSpec],
    targets: Dict[str, Dict[str, Any]],
    stream: Optional[TextIO] = None,
    interval: float = 1.0,
    live: Optional[bool] = None,
  ) -> None:
    self.plan = list(plan)
    self.targets = targets  # workload -> {'metric': name, 'target': value, 'budget': s}
    self.stream = stream or sys.stderr  # Looked up now: tests replace sys.stderr.
    self.interval = interval
    self.live = self.stream.isatty() if live is None else live
    self._seen_steps: Dict[str, str] = {}
    self._rows: Dict[str, Dict[str, str]] = {}
    self._finished: Dict[str, Dict[str, Any]] = {}
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._loop, daemon=True)
    self._rich_live = None

  # ----- Called by the sweep. -----
  def start(self) -> 'SweepMonitor':
    if self.live:
      from rich.live import Live

      self._rich_live = Live(
        self._table(), console=self._console(), refresh_per_second=2, transient=False
      )
      self._rich_live.start()
    self._thread.start()
    return self

  def trial_finished(self, trial: TrialSpec, summary: Dict[str, Any]) -> None:
    self._poll_trial(trial)  # Print the last eval before the verdict.
    self._finished[trial.log_dir] = summary
    if not self.live:
      done = len(self._finished)
      print(
        f'[{done}/{len(self.plan)}] {self._label(trial)}: {describe_summary(summary)}',
        file=self.stream,
        flush=True,
      )

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()
    if self._rich_live is not None:
      self._rich_live.update(self._table())
      self._rich_live.stop()

  # ----- Polling. -----
  def _loop(self) -> None:
    while not self._stop.wait(self.interval):
      for trial in self.plan:
        if trial.log_dir not in self._finished:
          self._poll_trial(trial)
      if self._rich_live is not None:
        self._rich_live.update(self._table())

  def _poll_trial(self, trial: TrialSpec) -> None:
    row = last_eval_row(trial.log_dir)
    if row is None or self._seen_steps.get(trial.log_dir) == row['global_step']:
      return
    self._seen_steps[trial.log_dir] = row['global_step']
    self._rows[trial.log_dir] = row
    if not self.live:
      print(
        f'[{self._label(trial)}] {self._progress_text(trial, row)}', file=self.stream, flush=True
      )

  def _label(self, trial: TrialSpec) -> str:
    return f'{trial.workload} study {trial.study} trial {trial.trial}'

  def _progress_text(self, trial: TrialSpec, row: Dict[str, str]) -> str:
    t = self.targets[trial.workload]
    metric = row.get(f'validation/{t["metric"]}', '')
    try:
      metric = f'{float(metric):.4f}'
    except ValueError:
      pass
    return (
      f'step {int(float(row["global_step"])):>7d} | submission '
      f'{float(row["accumulated_submission_time"]):8.1f}s / {t["budget"]:.0f}s | '
      f'validation/{t["metric"]} {metric} (target {t["target"]:g})'
    )

  def counts(self) -> Dict[str, int]:
    failed = sum(1 for s in self._finished.values() if s.get('status') in UNSUCCESSFUL)
    running = sum(
      1 for t in self.plan if t.log_dir not in self._finished and os.path.isdir(t.log_dir)
    )
    return {
      'done': len(self._finished) - failed,
      'failed': failed,
      'running': running,
      'to go': len(self.plan) - len(self._finished) - running,
    }

  def _console(self):
    from rich.console import Console

    return Console(file=self.stream)

  def _table(self):
    from rich.table import Table

    c = self.counts()
    table = Table(title=' | '.join(f'{k} {v}' for k, v in c.items()), title_justify='left')
    for column in ('trial', 'status', 'progress'):
      table.add_column(column)
    finished = [t for t in self.plan if t.log_dir in self._finished][-self.max_finished_rows :]
    for trial in finished:
      summary = self._finished[trial.log_dir]
      table.add_row(self._label(trial), summary.get('status', ''), describe_summary(summary))
    for trial in self.plan:
      row = self._rows.get(trial.log_dir)
      if trial.log_dir not in self._finished and row is not None:
        table.add_row(self._label(trial), 'running', self._progress_text(trial, row))
    return table
