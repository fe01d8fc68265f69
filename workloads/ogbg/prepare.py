"""``algoperf-like datasets prepare --dataset=ogbg``: TFDS builds ``ogbg_molpcba:0.1.3``.

As AlgoPerf's ``dataset_setup.py``: TFDS downloads OGB's ``pcba.zip`` and prepares the three
splits under ``--data_dir`` (the folder the ``ogbg`` workloads then read as their
``--data_dir``). Nothing is downloaded by hand, so ``raw_dir`` is unused; the download is kept
in ``data_dir/downloads``. A prepared dataset is reported, not downloaded again, unless
``overwrite``.
"""

from __future__ import annotations

import os

from algoperf_like.workloads.ogbg import input_pipeline


def prepare(data_dir: str, raw_dir: str, overwrite: bool = False) -> str:
  """Download and prepare ``ogbg_molpcba:0.1.3`` in ``data_dir``; a one-line summary."""
  del raw_dir  # TFDS fetches the data itself.
  import tensorflow_datasets as tfds

  builder = input_pipeline.builder(data_dir)
  if builder.is_prepared() and not overwrite:
    return (
      f'{input_pipeline.TFDS_NAME} already prepared in {builder.data_dir} '
      '(nothing downloaded; --overwrite prepares it again)'
    )
  mode = (
    tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    if overwrite
    else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
  )
  builder.download_and_prepare(
    download_dir=os.path.join(data_dir, 'downloads'),
    download_config=tfds.download.DownloadConfig(download_mode=mode),
  )
  sizes = ', '.join(f'{k} {v.num_examples}' for k, v in sorted(builder.info.splits.items()))
  return f'{input_pipeline.TFDS_NAME} prepared in {builder.data_dir} ({sizes} graphs)'
