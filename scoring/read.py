"""Read a log tree into one tidy table (one row per eval).

Layout (this project's output and the official AlgoPerf leaderboard logs)::

    {root}/{submission}/study_{k}/{workload}_{framework}/trial_{m}/eval_measurements.csv

Also accepted, as the official tools do: ``root`` being a single submission
directory (it contains ``study_*``), a team level ``{root}/{team}/{submission}``
(v0.5 leaderboard layout), and submission directories with a timestamp suffix
``{submission}-YYYY-MM-DD-HH-MM-SS`` (merged into ``{submission}``, their trials
kept apart).

Untidy trees are handled like the official ``scoring_utils.get_experiment_df``
(skip what cannot be read) but every skip emits a :class:`ScoringWarning`
naming the path: trial dirs without ``eval_measurements.csv``, workload dirs
without trials, unknown workloads, stray files/dirs, NaN or missing metric
values, short (truncated) rows, which are NaN-filled as ``pandas.read_csv``
does.  A CSV that cannot be parsed (empty file, missing time/step column, a row
with too many fields, a non-numeric value in a needed column) raises
:class:`CorruptLogError` naming the file and line.

Only three columns are read, ``global_step``, the time column (default
``accumulated_submission_time``) and the workload's target metric column
(``validation/<target_metric_name>``), with ``pyarrow.csv`` in a thread pool.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from algoperf_like import trial_logs

from .errors import CorruptLogError, ScoringError, ScoringWarning
from .targets import Targets

EVAL_FILE = trial_logs.EVAL_FILE
STEP_COLUMN = 'global_step'
DEFAULT_TIME_COLUMN = 'accumulated_submission_time'
_FRAMEWORK = re.compile(r'^(.*)_(jax|pytorch)$')
_STUDY = re.compile(r'^study_(\d+)$')
_TRIAL = re.compile(r'^trial_(\d+)')  # re.match semantics, as the official code
_TIMESTAMP = re.compile(r'^(.*)-\d{4}(-\d{2}){5}$')
_KEYS = ['submission', 'study', 'workload', 'framework', 'trial']


def split_workload_dir(name: str) -> tuple[str, str]:
  """``'imagenet_resnet_jax'`` -> ``('imagenet_resnet', 'jax')``; no suffix -> ``(name, '')``."""
  m = _FRAMEWORK.match(name)
  return (m.group(1), m.group(2)) if m else (name, '')


@dataclass
class TrialFile:
  submission: str
  study: str
  workload: str
  framework: str
  trial: str
  path: str
  column: str  # metric column to read


@dataclass
class LogData:
  """``evals``: one row per eval with columns ``submission, study, workload,
  framework, trial, eval, global_step, submission_time_s, metric, value``
  (``value`` = the workload's validation target metric).  ``trials``: one row
  per trial file read (also trials with zero evals), with ``path`` and
  ``n_evals``."""

  evals: pd.DataFrame
  trials: pd.DataFrame
  time_column: str = DEFAULT_TIME_COLUMN
  # Trials this project's runner ended as ``rule_violation`` (``trial_summary.json``):
  # columns ``submission, study, workload, trial, path, error``; AlgoPerf's logs have none.
  violations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VIOLATION_COLUMNS))


VIOLATION_COLUMNS = ['submission', 'study', 'workload', 'trial', 'path', 'error']
RULE_VIOLATION = 'rule_violation'


def trial_status(trial_dir: str) -> tuple[str | None, str | None]:
  """``(status, error)`` from the ``trial_summary.json`` this project's runner writes in
  a trial directory; ``(None, None)`` where there is none (AlgoPerf's own logs)."""
  path = os.path.join(trial_dir, trial_logs.SUMMARY_FILE)
  try:
    with open(path) as fh:
      summary = json.load(fh)
  except (OSError, ValueError):
    return None, None
  if not isinstance(summary, dict):
    return None, None
  return summary.get('status'), summary.get('error')


def _dirs(path: str) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
  with os.scandir(path) as it:
    entries = sorted((e for e in it if not e.name.startswith('.')), key=lambda e: e.name)
  return [e for e in entries if e.is_dir()], [e for e in entries if not e.is_dir()]


def _has_studies(path: str) -> bool:
  try:
    return any(_STUDY.match(d.name) for d in _dirs(path)[0])
  except OSError:
    return False


# What this project's runner writes beside the study directories (not stray).
# noise_conditions.jsonl: the load averages of `algoperf-like noise` (algoperf_like.noise).
HARNESS_FILES = frozenset({trial_logs.PLAN_FILE, 'noise_conditions.jsonl'})
HARNESS_DIRS = frozenset({trial_logs.SLURM_DIR})


def find_submissions(root: str | Path, warn) -> list[tuple[str, str]]:
  """``[(submission name, directory)]`` below ``root`` (see module docstring)."""
  root = str(root)
  if not os.path.isdir(root):
    raise ScoringError(f'submission directory not found: {root}')
  if _has_studies(root):
    return [(os.path.basename(os.path.normpath(root)), root)]
  out = []
  dirs, files = _dirs(root)
  for f in files:
    if f.name not in HARNESS_FILES:
      warn(f'stray file ignored: {f.path}')
  for d in dirs:
    if _has_studies(d.path):
      out.append((d.name, d.path))
      continue
    inner = [s for s in _dirs(d.path)[0] if _has_studies(s.path)]
    if inner:  # team level (v0.5 layout)
      out.extend((s.name, s.path) for s in inner)
    else:
      warn(f'no study_* directories, skipped: {d.path}')
  merged = []
  for name, path in out:
    m = _TIMESTAMP.match(name)
    merged.append((m.group(1) if m else name, path))
  return merged


def find_trial_files(
  root: str | Path,
  targets: Targets,
  warn,
  submissions: list[str] | None = None,
  violations: list[dict] | None = None,
) -> list[TrialFile]:
  """Walk the tree and list the eval CSVs to read (warnings via ``warn``).

  Trials whose ``trial_summary.json`` says ``rule_violation`` are appended to
  ``violations`` (also those stopped before their first evaluation, without a CSV).
  """
  found: list[TrialFile] = []
  subs = find_submissions(root, warn)
  names = [n for n, _ in subs]
  if submissions:
    missing = sorted(set(submissions) - set(names))
    if missing:
      raise ScoringError(f'submission(s) not found in {root}: {", ".join(missing)}')
  for sub, sub_path in subs:
    if submissions and sub not in submissions:
      continue
    run = os.path.basename(sub_path)
    tag = '' if run == sub else '@' + run[len(sub) + 1 :]
    sdirs, sfiles = _dirs(sub_path)
    for f in sfiles:
      if f.name not in HARNESS_FILES:
        warn(f'stray file ignored: {f.path}')
    for sd in sdirs:
      if sd.name in HARNESS_DIRS:
        continue
      if not _STUDY.match(sd.name):
        warn(f'not a study_* directory, ignored: {sd.path}')
        continue
      wdirs, wfiles = _dirs(sd.path)
      for f in wfiles:
        if f.name not in HARNESS_FILES:
          warn(f'stray file ignored: {f.path}')
      for wd in wdirs:
        if wd.name in HARNESS_DIRS:
          continue
        workload, framework = split_workload_dir(wd.name)
        target = targets.get(workload)
        if target is None:
          warn(f'workload {workload!r} not in targets file, ignored: {wd.path}')
          continue
        tdirs = [t for t in _dirs(wd.path)[0] if _TRIAL.match(t.name)]
        if not tdirs:
          warn(f'no trial_* directories: {wd.path}')
        for td in tdirs:
          path = os.path.join(td.path, EVAL_FILE)
          status, error = trial_status(td.path)
          if status == RULE_VIOLATION and violations is not None:
            violations.append(
              {
                'submission': sub,
                'study': sd.name,
                'workload': workload,
                'trial': td.name + tag,
                'path': os.path.join(td.path, trial_logs.SUMMARY_FILE),
                'error': error or '',
              }
            )
          if not os.path.isfile(path):
            warn(f'missing {EVAL_FILE}, trial skipped: {td.path}')
            continue
          found.append(
            TrialFile(sub, sd.name, workload, framework, td.name + tag, path, target.column)
          )
  return found


def _to_float(tok: str) -> float:
  t = tok.strip()
  return float('nan') if t == '' else float(t)


def _slow_parse(path: str, text: str, cols: list[str], msgs: list[str]) -> dict[str, np.ndarray]:
  """Line-by-line parse with pandas semantics (short rows NaN-filled, blank
  lines skipped); raises CorruptLogError with the offending line number."""
  rows = csv.reader(io.StringIO(text))
  header = next(rows)
  idx = {c: header.index(c) for c in cols if c in header}
  out: dict[str, list[float]] = {c: [] for c in cols}
  short = []
  for lineno, row in enumerate(rows, start=2):
    if not row or all(not x.strip() for x in row):
      continue
    if len(row) > len(header):
      raise CorruptLogError(path, lineno, f'expected {len(header)} fields, got {len(row)}')
    if len(row) < len(header):
      short.append(lineno)
    for c in cols:
      i = idx.get(c)
      tok = row[i] if i is not None and i < len(row) else ''
      try:
        out[c].append(_to_float(tok))
      except ValueError:
        raise CorruptLogError(path, lineno, f'column {c!r}: not a number: {tok[:40]!r}') from None
  if short:
    msgs.append(
      f'truncated row(s) at line(s) {", ".join(map(str, short[:5]))} filled with NaN: {path}'
    )
  return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def _check_timing_integrity(eval_path: str, msgs: list[str]) -> None:
  """Flag a trial whose time account did not add up to its wall clock.

  This project's runner writes ``trial_summary.json`` beside the eval CSV with
  ``timing_integrity_ok``; official AlgoPerf logs have no such file.
  """
  summary = os.path.join(os.path.dirname(eval_path), trial_logs.SUMMARY_FILE)
  try:
    with open(summary) as fh:
      ok = json.load(fh).get('timing_integrity_ok', True)
  except (OSError, ValueError):
    return
  if ok is False:
    msgs.append(f'timing account does not add up to the wall clock: {summary}')


def read_trial(
  path: str, metric_col: str, time_col: str
) -> tuple[dict[str, np.ndarray], list[str]]:
  """Read the three needed columns of one eval CSV.  Returns the arrays
  (``global_step``, time, metric) and warning messages."""
  msgs: list[str] = []
  _check_timing_integrity(path, msgs)
  try:
    with open(path, 'rb') as fh:
      data = fh.read()
  except OSError as e:
    raise CorruptLogError(path, None, f'cannot read: {e.strerror}') from None
  nl = data.find(b'\n')
  head = data if nl < 0 else data[:nl]
  try:
    header = next(csv.reader([head.decode('utf-8').rstrip('\r')]), [])
  except UnicodeDecodeError:
    raise CorruptLogError(path, 1, 'header is not UTF-8 text') from None
  if not data.strip() or not header:
    raise CorruptLogError(path, 1, 'empty file, no CSV header')
  for c in (STEP_COLUMN, time_col):
    if c not in header:
      raise CorruptLogError(path, 1, f'missing column {c!r} in header')
  cols = [STEP_COLUMN, time_col, metric_col]
  if metric_col not in header:
    msgs.append(f'no column {metric_col!r} (trial counts as not reaching the target): {path}')
    cols_read = cols[:2]
  else:
    cols_read = cols
  bad_rows: list[int] = []

  def on_invalid(row):
    bad_rows.append(row.number or 0)
    return 'skip'

  try:
    table = pacsv.read_csv(
      pa.py_buffer(data),
      read_options=pacsv.ReadOptions(use_threads=False),
      parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
      convert_options=pacsv.ConvertOptions(
        include_columns=cols_read, column_types={c: pa.float64() for c in cols_read}
      ),
    )
    arrays = (
      None
      if bad_rows
      else {
        c: table.column(c).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        for c in cols_read
      }
    )
  except (pa.ArrowInvalid, pa.ArrowTypeError):
    arrays = None
  if arrays is None:  # malformed somewhere: find where, with pandas semantics
    try:
      text = data.decode('utf-8')
    except UnicodeDecodeError as e:
      line = data[: e.start].count(b'\n') + 1
      raise CorruptLogError(path, line, 'not UTF-8 text') from None
    arrays = _slow_parse(path, text, cols_read, msgs)
  if metric_col not in arrays:
    arrays[metric_col] = np.full(len(arrays[STEP_COLUMN]), np.nan)
  n_nan = int(np.isnan(arrays[metric_col]).sum()) if metric_col in header else 0
  if n_nan:
    msgs.append(
      f'{n_nan} NaN value(s) of {metric_col!r} (never count as reaching the target): {path}'
    )
  return arrays, msgs


def _clean_body(data: bytes) -> int | None:
  """Rows of a CSV that can be parsed together with others, or None.

  Clean means: a header line, then only ``\n``-terminated non-empty lines, no
  quotes and no carriage returns; anything else is read on its own.
  """
  nl = data.find(b'\n')
  if nl <= 0 or data.find(b'"') >= 0 or data.find(b'\r') >= 0:
    return None
  if len(data) > nl + 1 and (not data.endswith(b'\n') or data.find(b'\n\n', nl) >= 0):
    return None
  return data.count(b'\n', nl + 1)


def _read_batch(
  paths: list[str], datas: list[bytes], counts: list[int], metric_col: str, time_col: str
) -> list[tuple[dict[str, np.ndarray], list[str]]] | None:
  """Parse clean CSVs sharing one header as one buffer; None when anything is off."""
  head = datas[0][: datas[0].find(b'\n')]
  try:
    header = next(csv.reader([head.decode('utf-8')]), [])
  except UnicodeDecodeError:
    return None
  if STEP_COLUMN not in header or time_col not in header:
    return None
  has_metric = metric_col in header
  cols = [STEP_COLUMN, time_col] + ([metric_col] if has_metric else [])
  bad: list[int] = []

  def on_invalid(row):
    bad.append(1)
    return 'skip'

  buf = b''.join([head, b'\n'] + [d[d.find(b'\n') + 1 :] for d in datas])
  try:
    table = pacsv.read_csv(
      pa.py_buffer(buf),
      parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
      convert_options=pacsv.ConvertOptions(
        include_columns=cols, column_types={c: pa.float64() for c in cols}
      ),
    )
  except (pa.ArrowInvalid, pa.ArrowTypeError):
    return None
  if bad or table.num_rows != sum(counts):
    return None
  arrays = {
    c: table.column(c).to_numpy(zero_copy_only=False).astype(np.float64, copy=False) for c in cols
  }
  out = []
  start = 0
  for path, n in zip(paths, counts):
    msgs: list[str] = []
    _check_timing_integrity(path, msgs)
    part = {c: arrays[c][start : start + n] for c in cols}
    start += n
    if not has_metric:
      msgs.append(f'no column {metric_col!r} (trial counts as not reaching the target): {path}')
      part[metric_col] = np.full(n, np.nan)
    n_nan = int(np.isnan(part[metric_col]).sum()) if has_metric else 0
    if n_nan:
      msgs.append(
        f'{n_nan} NaN value(s) of {metric_col!r} (never count as reaching the target): {path}'
      )
    out.append((part, msgs))
  return out


def _read_all(files, time_column: str, workers: int):
  """Every file's arrays and messages, in ``files`` order.

  Clean files with the same header are parsed as one buffer (one ``pyarrow``
  call for all trials of a workload instead of one per file); the others, and
  any batch with a problem, go through :func:`read_trial`, which finds and names
  the offending line.
  """
  results: list = [None] * len(files)
  groups: dict[tuple[bytes, str], list[int]] = {}
  datas: dict[int, bytes] = {}
  counts: dict[int, int] = {}
  for i, f in enumerate(files):
    try:
      with open(f.path, 'rb') as fh:
        data = fh.read()
    except OSError:
      continue
    n = _clean_body(data)
    if n is None:
      continue
    datas[i], counts[i] = data, n
    groups.setdefault((data[: data.find(b'\n')], f.column), []).append(i)
  for (_head, col), idx in groups.items():
    if len(idx) < 2:
      continue
    got = _read_batch(
      [files[i].path for i in idx],
      [datas[i] for i in idx],
      [counts[i] for i in idx],
      col,
      time_column,
    )
    if got is not None:
      for i, r in zip(idx, got):
        results[i] = r
  rest = [i for i, r in enumerate(results) if r is None]
  if rest:
    with ThreadPoolExecutor(max_workers=workers) as ex:
      done = ex.map(lambda i: read_trial(files[i].path, files[i].column, time_column), rest)
      for i, r in zip(rest, done):
        results[i] = r
  return results


def read_logs(
  root: str | Path,
  targets: Targets,
  time_column: str = DEFAULT_TIME_COLUMN,
  submissions: list[str] | None = None,
  max_workers: int | None = None,
) -> LogData:
  """Read a whole tree into :class:`LogData` (warnings: :class:`ScoringWarning`)."""

  def warn(msg: str) -> None:
    warnings.warn(msg, ScoringWarning, stacklevel=3)

  found_violations: list[dict] = []
  files = find_trial_files(root, targets, warn, submissions, found_violations)
  for v in found_violations:
    warn(
      f'rule violation ({v["error"]}): submission {v["submission"]!r} disqualified on '
      f'workload {v["workload"]!r}: {v["path"]}'
    )
  if not files:
    raise ScoringError(f'no {EVAL_FILE} files found under {root}')
  workers = max_workers or min(32, 2 * (os.cpu_count() or 2))
  results = _read_all(files, time_column, workers)
  lengths = np.fromiter(
    (len(r[0][STEP_COLUMN]) for r in results), dtype=np.int64, count=len(results)
  )
  for _, msgs in results:
    for m in msgs:
      warn(m)
  trials = pd.DataFrame(
    {
      'submission': [f.submission for f in files],
      'study': [f.study for f in files],
      'workload': [f.workload for f in files],
      'framework': [f.framework for f in files],
      'trial': [f.trial for f in files],
      'metric': [f.column for f in files],
      'path': [f.path for f in files],
      'n_evals': lengths,
    }
  )
  _warn_duplicates(trials, warn)
  rep = lambda col: np.repeat(trials[col].to_numpy(), lengths)  # noqa: E731
  cat = lambda v: pd.Categorical(v)  # noqa: E731
  empty = np.zeros(0)
  evals = pd.DataFrame(
    {
      'submission': cat(rep('submission')),
      'study': cat(rep('study')),
      'workload': cat(rep('workload')),
      'framework': cat(rep('framework')),
      'trial': cat(rep('trial')),
      'eval': np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else empty,
      'global_step': np.concatenate([r[0][STEP_COLUMN] for r in results]),
      'submission_time_s': np.concatenate([r[0][time_column] for r in results]),
      'metric': cat(rep('metric')),
      'value': np.concatenate([r[0][f.column] for r, f in zip(results, files)]),
    }
  )
  for i in np.flatnonzero(lengths == 0):
    warn(f'no evals (trial counts as not reaching the target): {files[i].path}')
  violations = pd.DataFrame(found_violations, columns=VIOLATION_COLUMNS)
  return LogData(evals=evals, trials=trials, time_column=time_column, violations=violations)


def _warn_duplicates(trials: pd.DataFrame, warn) -> None:
  fw = trials.groupby(['submission', 'study', 'workload'], observed=True)['framework'].nunique()
  for (sub, study, wl), _n in fw[fw > 1].items():
    warn(f'{sub}/{study}: workload {wl!r} logged by several frameworks; their trials are pooled')
