"""Trial log files in AlgoPerf's layout and format.

``{experiment_dir}/{experiment_name}/study_{k}/{workload}_jax/trial_{m}/`` (and nothing
but ``study_{k}/`` in ``{experiment_dir}/{experiment_name}/``: the plan is in ``study_0/``):

- ``eval_measurements.csv``: one row per evaluation, AlgoPerf's columns;
- ``measurements.csv``: scalars a submission logs through ``workload.metrics_logger``
  (written at evaluations, see :class:`MetricLogger`), then AlgoPerf's final ``score`` row;
- ``tensorboard/``: the numbers of both CSVs as TensorBoard event files;
- ``wandb/`` (``--use_wandb``) and ``jax_trace/`` (``--capture_jax_trace``);
- ``hparams.json``: the trial's hyperparameters;
- ``meta_data_{k}.json`` / ``flags_{k}.json``: environment and flags, one per (re)start;
- ``trial_summary.json``: this project's completion marker (status, time to
  target, seed, time account), written last.

CSV rows are appended, never rewritten: the cost of logging stays flat as a
trial grows, and a crash leaves every row written up to the last evaluation on disk.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import time
from typing import Any, Dict, List, Optional

# The file names of a trial's logs (AlgoPerf's, and this project's plan and summary).
EVAL_FILE = 'eval_measurements.csv'
TRAIN_FILE = 'measurements.csv'
HPARAMS_FILE = 'hparams.json'
EVENTS_DIR = 'tensorboard'  # TensorBoard event files of the trial.
SUMMARY_FILE = 'trial_summary.json'
PLAN_FILE = 'plan.json'  # In {experiment_dir}/{experiment_name}/study_0/ (see harness_dir).
SLURM_DIR = 'slurm'  # Job files and task logs, beside the plan.


def harness_dir(experiment_root: str) -> str:
  """Where this project's own files of an experiment go: ``{root}/study_0/``.

  AlgoPerf's scorer takes every entry of ``{experiment_dir}/{experiment_name}/`` for a
  study directory (a file there is a ``NotADirectoryError``) and, in a study, keeps
  only directories, and in those only ``trial_\\d+`` folders: the first study's folder
  is the one place where files and folders of ours are invisible to it. Every plan has
  a study 0.
  """
  return os.path.join(experiment_root, 'study_0')


def _plain(value: Any) -> Any:
  """A JSON/CSV-friendly Python scalar (numpy and JAX scalars included)."""
  if hasattr(value, 'item') and getattr(value, 'shape', None) == ():
    value = value.item()
  if isinstance(value, float) and math.isnan(value):
    return float('nan')
  return value


class CsvAppender:
  """Appends dict rows to a CSV; the header is the sorted keys of the first row.

  A later row with keys the header lacks rewrites the file once with the
  union of columns (rare: a metric appearing mid-run).
  """

  def __init__(self, path: str) -> None:
    self.path = path
    self.columns: Optional[List[str]] = None
    if os.path.exists(path) and os.path.getsize(path) > 0:
      with open(path, newline='') as f:
        self.columns = next(csv.reader(f))

  def append(self, row: Dict[str, Any]) -> None:
    row = {k: _plain(v) for k, v in row.items()}
    if self.columns is None:
      self.columns = sorted(row)
      with open(self.path, 'w', newline='') as f:
        csv.writer(f).writerow(self.columns)
    elif not set(row) <= set(self.columns):
      self._widen(sorted(set(self.columns) | set(row)))
    with open(self.path, 'a', newline='') as f:
      csv.DictWriter(f, self.columns, restval='').writerow(row)

  def _widen(self, columns: List[str]) -> None:
    with open(self.path, newline='') as f:
      rows = list(csv.DictReader(f))
    tmp = self.path + '.tmp'
    with open(tmp, 'w', newline='') as f:
      writer = csv.DictWriter(f, columns, restval='')
      writer.writeheader()
      writer.writerows(rows)
    os.replace(tmp, self.path)
    self.columns = columns


class MetricLogger:
  """AlgoPerf's ``MetricLogger`` interface: ``append_scalar_metrics(metrics, global_step, ...)``.

  Rows for ``measurements.csv`` (what a submission logs from its timed ``update_params``)
  are kept as they come, device arrays included, and written by :meth:`flush`, which the
  runner calls at evaluations (untimed): logging a loss never waits for the device.
  Evaluation rows are written at once.
  """

  def __init__(
    self,
    log_dir: str,
    tensorboard: bool = True,
    wandb_mode: Optional[str] = None,
    wandb_config: Optional[Dict[str, Any]] = None,
  ) -> None:
    self._eval = CsvAppender(os.path.join(log_dir, EVAL_FILE))
    self._train = CsvAppender(os.path.join(log_dir, TRAIN_FILE))
    self._pending: List[Dict[str, Any]] = []
    self._events_dir = os.path.join(log_dir, EVENTS_DIR) if tensorboard else None
    self._writer = None
    self._wandb = None
    if wandb_mode:  # Weights & Biases (the [wandb] extra); 'offline' needs no network.
      import wandb

      self._wandb = wandb.init(
        mode=wandb_mode,
        dir=log_dir,
        config=wandb_config,
        name=os.path.relpath(log_dir, os.path.dirname(os.path.dirname(os.path.dirname(log_dir)))),
        settings=wandb.Settings(silent=True),
      )

  def _events(self, row: Dict[str, Any]) -> None:
    """The row's numbers as TensorBoard scalars in ``{log_dir}/tensorboard/``.

    Written as TensorBoard's event files are (TFRecords of ``Event`` protos) with
    TensorFlow's own protos and record writer (TensorFlow is a dependency, for the data
    pipelines; TensorBoard itself need not be installed). Without TensorFlow: none.
    """
    if self._events_dir is None:
      return
    if self._writer is None:
      try:
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2
        from tensorflow.core.util import event_pb2
      except ImportError:
        self._events_dir = None
        return
      os.makedirs(self._events_dir, exist_ok=True)
      name = f'events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}'
      self._writer = tf.io.TFRecordWriter(os.path.join(self._events_dir, name))
      self._protos = (event_pb2, summary_pb2)
      first = event_pb2.Event(wall_time=time.time(), file_version='brain.Event:2')
      self._writer.write(first.SerializeToString())
    event_pb2, summary_pb2 = self._protos
    values = [
      summary_pb2.Summary.Value(tag=key, simple_value=float(value))
      for key, value in sorted(row.items())
      if key != 'global_step' and isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    event = event_pb2.Event(
      wall_time=time.time(), step=int(row['global_step']), summary=summary_pb2.Summary(value=values)
    )
    self._writer.write(event.SerializeToString())
    self._writer.flush()

  def append_scalar_metrics(
    self,
    metrics: Dict[str, Any],
    global_step: int,
    preemption_count: Optional[int] = None,
    is_eval: bool = False,
  ) -> None:
    row = dict(metrics, global_step=global_step)
    if preemption_count is not None:
      row['preemption_count'] = preemption_count
    if is_eval:
      self.flush()  # Earlier steps first (W&B wants steps in order).
      self._eval.append(row)
      self._record({k: _plain(v) for k, v in row.items()})
    else:
      self._pending.append(row)

  def flush(self) -> None:
    """Write the pending ``measurements.csv`` rows (this waits for their values)."""
    pending, self._pending = self._pending, []
    for row in pending:
      self._train.append(row)
      self._record({k: _plain(v) for k, v in row.items()})

  def _record(self, row: Dict[str, Any]) -> None:
    self._events(row)
    if self._wandb is not None:
      numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != 'global_step'}
      self._wandb.log(numbers, step=int(row['global_step']))

  def finish(self) -> None:
    self.flush()
    if self._wandb is not None:
      self._wandb.finish()
      self._wandb = None


def write_json(path: str, obj: Any) -> None:
  """Write JSON atomically (temp file, then rename): never a half-written file."""
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=str)
    f.write('\n')
  os.replace(tmp, path)


def next_index(log_dir: str, prefix: str) -> int:
  """The first k for which ``{prefix}_{k}.json`` does not exist yet."""
  k = 0
  while os.path.exists(os.path.join(log_dir, f'{prefix}_{k}.json')):
    k += 1
  return k


def read_summary(log_dir: str) -> Optional[Dict[str, Any]]:
  path = os.path.join(log_dir, SUMMARY_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def drop_rows_after(path: str, global_step: int) -> None:
  """Remove rows logged after ``global_step`` (an attempt killed after its checkpoint)."""
  if not os.path.exists(path):
    return
  with open(path, newline='') as f:
    text = f.read()
  if not text.endswith('\n'):  # A row cut short by the kill.
    text = text[: text.rfind('\n') + 1]
  rows = list(csv.DictReader(io.StringIO(text)))
  kept = [r for r in rows if int(float(r['global_step'])) <= global_step]
  if not rows:
    return
  tmp = path + '.tmp'
  with open(tmp, 'w', newline='') as f:
    writer = csv.DictWriter(f, list(rows[0]), restval='')
    writer.writeheader()
    writer.writerows(kept)
  os.replace(tmp, path)
