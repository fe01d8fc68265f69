"""Scoring of AlgoPerf-style training logs (see ``scoring/README.md``).

Light to import (numpy, pandas, pyarrow; matplotlib only when rendering) and
never imports JAX, TensorFlow or workload code.
"""

from .errors import CorruptLogError, ScoringError, ScoringWarning, TargetsError
from .pipeline import ScoringOptions, ScoringResult, score_directory, score_logs
from .read import LogData, read_logs
from .targets import METRIC_DIRECTION, Targets, WorkloadTarget, load_targets

__all__ = [
  'CorruptLogError',
  'ScoringError',
  'ScoringWarning',
  'TargetsError',
  'ScoringOptions',
  'ScoringResult',
  'score_directory',
  'score_logs',
  'LogData',
  'read_logs',
  'METRIC_DIRECTION',
  'Targets',
  'WorkloadTarget',
  'load_targets',
]
