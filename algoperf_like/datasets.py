"""Dataset preparation: what ``algoperf-like datasets prepare`` does, dataset by dataset.

Each dataset registered in :data:`algoperf_like.registry.DATASETS` names a function
``prepare(data_dir, raw_dir, overwrite) -> str`` in its workload's package. It does what
AlgoPerf's ``dataset_setup.py`` does for that dataset: TFDS ``download_and_prepare``
where TFDS can fetch the data, and otherwise converts the archives a user downloads by
hand (placed in ``raw_dir``) into the layout the workload reads from ``data_dir``. It
returns one line saying what is now where.

A raw file that is missing is a :class:`MissingRawFileError`: one line naming the file,
where it comes from, and where to put it. Long work shows progress (:func:`progress`).
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, Optional, TypeVar

T = TypeVar('T')


class DatasetError(Exception):
  """Preparation cannot go on (one line; exit code 2)."""


class MissingRawFileError(DatasetError):
  """A file the user downloads by hand is not in ``raw_dir``."""


def missing_raw_file(name: str, raw_dir: str, source: str) -> MissingRawFileError:
  """The one-line error for a hand-downloaded file that is not there."""
  return MissingRawFileError(
    f'missing {name}: download it from {source} and put it at {os.path.join(raw_dir, name)}'
  )


def default_raw_dir(data_dir: str, dataset: str) -> str:
  """Where ``prepare`` looks for hand-downloaded files unless told (``--raw_dir``)."""
  return os.path.join(data_dir, 'raw', dataset)


def progress(items: Iterable[T], total: Optional[int] = None, description: str = '') -> Iterator[T]:
  """Iterate ``items`` with a progress bar on a terminal, and a few log lines elsewhere."""
  if total is None and hasattr(items, '__len__'):
    total = len(items)  # type: ignore[arg-type]
  if sys.stderr.isatty():
    from rich.progress import track

    yield from track(items, total=total, description=description, console=None, transient=False)
    return
  step = max(1, (total or 0) // 10)
  count = 0
  for count, item in enumerate(items, 1):
    if count == 1 or count % step == 0:
      shown = f'{count}/{total}' if total else str(count)
      print(f'{description}: {shown}', file=sys.stderr, flush=True)
    yield item
  if count and (not total or count != total):
    print(f'{description}: {count} done', file=sys.stderr, flush=True)


def prepare(
  name: str, data_dir: str, raw_dir: Optional[str] = None, overwrite: bool = False
) -> str:
  """Prepare dataset ``name`` under ``data_dir``; returns the one-line summary."""
  from algoperf_like import registry

  fn = registry.get_dataset_preparer(name)
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  raw_dir = os.path.abspath(os.path.expanduser(raw_dir or default_raw_dir(data_dir, name)))
  os.makedirs(data_dir, exist_ok=True)
  return fn(data_dir=data_dir, raw_dir=raw_dir, overwrite=overwrite)
