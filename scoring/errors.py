"""Exceptions and warnings raised by the scoring package.

Every error is a :class:`ScoringError`; its ``str()`` is a single line so the
CLI can print it verbatim (``error: ...``) without a traceback.
"""

from __future__ import annotations

import os


class ScoringError(Exception):
  """Base class for bad input to the scorer (exit code 2 in the CLI)."""


class TargetsError(ScoringError):
  """The workload-targets JSON file is missing or malformed."""


class CorruptLogError(ScoringError):
  """An ``eval_measurements.csv`` cannot be parsed.

  ``path`` and ``line`` (1-based line number in the file, ``None`` when the
  problem is not tied to one line) are kept as attributes.
  """

  def __init__(self, path: str | os.PathLike, line: int | None, reason: str):
    self.path = str(path)
    self.line = line
    self.reason = ' '.join(str(reason).split())  # force one line
    where = f'{self.path}:{line}' if line is not None else self.path
    super().__init__(f'corrupt CSV {where}: {self.reason}')


class ScoringWarning(UserWarning):
  """Untidy but scorable input (missing trial, stray file, NaN metric...)."""
