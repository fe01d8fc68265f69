"""``datasets prepare --dataset=criteo1tb``: the 24 day logs into AlgoPerf's file layout.

Criteo's 1TB click logs cannot be fetched by TFDS; the user downloads them by hand (the
24 files ``day_0.gz`` ... ``day_23.gz``, about 350 GB, or the ``all_days.zip`` that holds
them) into ``raw_dir``. As AlgoPerf's ``dataset_setup.py`` does (unzip each day, then
``split -a 2 -d -l 5000000``), each day is decompressed and cut into files of 5,000,000
lines, ``DATA_DIR/criteo1tb/day_{d}_{nn}``, the layout
:mod:`~algoperf_like.workloads.criteo1tb.input_pipeline` reads.

A day may be given as ``day_{d}.gz``, as the uncompressed ``day_{d}`` or ``day_{d}.csv``,
or as the member ``day_{d}.gz`` of ``raw_dir/all_days.zip``. Missing days are named in
one line. Days are converted in parallel threads (decompression releases the GIL), and a
day is done once its marker ``.day_{d}.done`` is written: an interrupted run redoes only
the days without one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import glob
import gzip
import os
import zipfile
from typing import BinaryIO, Callable, ContextManager, Iterator, List, Optional, Tuple

from algoperf_like import datasets
from algoperf_like.workloads.criteo1tb import input_pipeline

SOURCE = 'https://ailab.criteo.com/download-criteo-1tb-click-logs-dataset/'
ZIP_NAME = 'all_days.zip'
LINES_PER_FILE = input_pipeline.LINES_PER_FILE
WORKERS = 8
_BLOCK = 16 * 1024 * 1024

Opener = Callable[[], ContextManager[BinaryIO]]


@contextlib.contextmanager
def _open_member(zip_path: str, member: str) -> Iterator[BinaryIO]:
  with zipfile.ZipFile(zip_path) as archive, archive.open(member) as packed:
    with gzip.GzipFile(fileobj=packed) as source:
      yield source


def _find_day(raw_dir: str, day: int, archive: Optional[zipfile.ZipFile]) -> Optional[Opener]:
  """How to open day ``day``'s decompressed bytes, or None if it is not in ``raw_dir``."""
  base = os.path.join(raw_dir, f'day_{day}')
  if os.path.exists(base + '.gz'):
    return lambda: gzip.open(base + '.gz', 'rb')
  for path in (base, base + '.csv'):
    if os.path.exists(path):
      return lambda path=path: open(path, 'rb')
  member = f'day_{day}.gz'
  if archive is not None:
    names = {os.path.basename(n): n for n in archive.namelist()}
    if member in names:
      return functools.partial(_open_member, archive.filename, names[member])
  return None


def split_day(
  source: BinaryIO, out_dir: str, day: int, lines_per_file: int = LINES_PER_FILE
) -> Tuple[int, int]:
  """Copy ``source`` into ``out_dir/day_{day}_{nn}``, ``lines_per_file`` lines per file.

  Returns:
    ``(files written, lines copied)``.
  """
  part, lines, left = 0, 0, lines_per_file
  out, last = None, b'\n'
  try:
    while True:
      block = source.read(_BLOCK)
      if not block:
        break
      last = block[-1:]
      view = memoryview(block)
      start = 0
      while start < len(block):
        if out is None:
          out = open(os.path.join(out_dir, input_pipeline.day_file(day, part)), 'wb')
          part += 1
        count = block.count(b'\n', start)
        if count < left:
          out.write(view[start:])
          left -= count
          lines += count
          break
        end = start
        for _ in range(left):
          end = block.index(b'\n', end) + 1
        out.write(view[start:end])
        lines += left
        out.close()
        out, left, start = None, lines_per_file, end
    if last != b'\n':
      lines += 1  # A last line without its newline.
  finally:
    if out is not None:
      out.close()
  return part, lines


def _marker(out_dir: str, day: int) -> str:
  return os.path.join(out_dir, f'.day_{day}.done')


def _convert(opener: Opener, out_dir: str, day: int, lines_per_file: int) -> Tuple[int, int]:
  for stale in glob.glob(os.path.join(out_dir, f'day_{day}_*')):
    os.remove(stale)
  with opener() as source:
    parts, lines = split_day(source, out_dir, day, lines_per_file)
  with open(_marker(out_dir, day), 'w') as f:
    f.write(f'{parts} files, {lines} lines\n')
  return parts, lines


def prepare(data_dir: str, raw_dir: str, overwrite: bool = False) -> str:
  """Cut the 24 raw day logs in ``raw_dir`` into ``data_dir/criteo1tb/day_{d}_{nn}``."""
  out_dir = os.path.join(data_dir, input_pipeline.DATASET)
  os.makedirs(out_dir, exist_ok=True)
  zip_path = os.path.join(raw_dir, ZIP_NAME)
  archive = zipfile.ZipFile(zip_path) if os.path.exists(zip_path) else None
  todo: List[Tuple[int, Opener]] = []
  missing = []
  try:
    for day in range(input_pipeline.NUM_DAYS):
      if not overwrite and os.path.exists(_marker(out_dir, day)):
        continue
      opener = _find_day(raw_dir, day, archive)
      if opener is None:
        missing.append(f'day_{day}.gz')
      else:
        todo.append((day, opener))
  finally:
    if archive is not None:
      archive.close()
  if missing:
    raise datasets.missing_raw_file(', '.join(missing), raw_dir, SOURCE)

  lines_per_file = LINES_PER_FILE
  if todo:
    with concurrent.futures.ThreadPoolExecutor(min(WORKERS, len(todo))) as pool:
      futures = [pool.submit(_convert, op, out_dir, day, lines_per_file) for day, op in todo]
      done = concurrent.futures.as_completed(futures)
      for future in datasets.progress(done, len(futures), 'criteo1tb: splitting days'):
        future.result()

  counts = []
  for day in range(input_pipeline.NUM_DAYS):
    with open(_marker(out_dir, day)) as f:
      counts.append(f.read().split())
  files = sum(int(c[0]) for c in counts)
  lines = sum(int(c[2]) for c in counts)
  day23 = int(counts[23][0])
  note = (
    ''
    if day23 == input_pipeline.NUM_DAY_23_FILES
    else f' (day 23 has {day23} files; the validation and test splits read '
    f'{input_pipeline.NUM_DAY_23_FILES})'
  )
  return (
    f'criteo1tb: {lines:,} lines of days 0-23 in {files} files of up to {lines_per_file:,} '
    f'lines in {out_dir}: train day_0_* .. day_22_*, test day_23_00 .. '
    f'day_23_{input_pipeline.NUM_TEST_FILES - 1:02d}, validation '
    f'day_23_{input_pipeline.NUM_TEST_FILES:02d} .. '
    f'day_23_{input_pipeline.NUM_DAY_23_FILES - 1:02d}{note}'
  )
