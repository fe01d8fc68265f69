"""``algoperf-like datasets``: ``prepare`` a dataset into a --data_dir, or ``list`` them."""

from __future__ import annotations

import sys
from typing import List

from absl import flags as absl_flags

from algoperf_like import command_line as cl
from algoperf_like import registry
from algoperf_like.command_line import UsageError

DESCRIPTION = (
  'datasets prepare --dataset=NAME --data_dir=DIR [--raw_dir=DIR]: download (where TFDS can) '
  'or convert the hand-downloaded raw files of a dataset into the layout its workloads read '
  "from --data_dir, as AlgoPerf's dataset_setup.py does. datasets list: the datasets and "
  'the workloads that read each.'
)


def main(argv: List[str]) -> int:
  fv = absl_flags.FlagValues()
  absl_flags.DEFINE_string(
    'dataset', None, 'Dataset to prepare: ' + ', '.join(sorted(registry.DATASETS)), flag_values=fv
  )
  cl.define_data_dir(fv)
  absl_flags.DEFINE_string(
    'raw_dir',
    None,
    'Folder holding the files downloaded by hand (ImageNet, fastMRI, Criteo 1TB, LibriSpeech); '
    'default: DATA_DIR/raw/DATASET.',
    flag_values=fv,
  )
  cl.define_overwrite(fv, 'Prepare again even where the prepared data exist.')
  parsed = cl.parse(fv, argv, 'algoperf-like datasets', DESCRIPTION)
  action = parsed.positional[0] if parsed.positional else None
  if action not in ('prepare', 'list') or len(parsed.positional) > 1:
    raise UsageError(f'datasets takes one action, prepare or list (got {parsed.positional})')
  cl.warn(parsed)
  if action == 'list':
    for name in sorted(registry.DATASETS):
      print(f'{name}: {", ".join(registry.dataset_workloads(name)) or "-"}')
    return 0
  cl.require(fv, 'dataset')
  if fv.dataset not in registry.DATASETS:
    raise UsageError(
      f'unknown dataset {fv.dataset!r} (known: {", ".join(sorted(registry.DATASETS))})'
    )
  from algoperf_like import datasets

  try:
    summary = datasets.prepare(fv.dataset, fv.data_dir, fv.raw_dir, fv.overwrite)
  except datasets.DatasetError as e:
    print(f'algoperf-like datasets: {e}', file=sys.stderr)
    return 2
  print(summary)
  return 0
