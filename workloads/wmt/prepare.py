"""``algoperf-like datasets prepare --dataset=wmt``: WMT14/17 de-en and the SentencePiece model.

As AlgoPerf's ``dataset_setup.py --wmt``: TFDS ``download_and_prepare`` of
``wmt14_translate/de-en:1.0.0`` (validation, test) and ``wmt17_translate/de-en:1.0.0``
(train) into ``--data_dir``, then a 32000-piece SentencePiece model trained on the first
10^7 characters of the training pairs, saved as ``--data_dir/wmt_sentencepiece_model``
(kept when it exists, unless ``--overwrite``).
"""

from __future__ import annotations

import os

from algoperf_like import datasets
from algoperf_like.workloads.wmt import input_pipeline

VOCAB_SIZE = 32000
MAX_CORPUS_CHARS = 10**7


def _download(tfds_name: str, data_dir: str, overwrite: bool) -> str:
  import tensorflow_datasets as tfds

  builder = tfds.builder(tfds_name, data_dir=data_dir)
  if builder.is_prepared() and not overwrite:
    return f'{tfds_name} already prepared'
  mode = (
    tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    if overwrite
    else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
  )
  try:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
  except Exception as e:  # noqa: BLE001 - one line for the user, whatever TFDS raised.
    first = str(e).splitlines()[0] if str(e) else ''
    raise datasets.DatasetError(
      f'wmt: TFDS could not download and prepare {tfds_name} into {data_dir} '
      f'({type(e).__name__}: {first})'
    ) from e
  return f'{tfds_name} prepared'


def prepare(data_dir: str, raw_dir: str, overwrite: bool = False) -> str:
  """Download both datasets (TFDS) and train the SentencePiece model if it is missing."""
  del raw_dir  # TFDS fetches WMT.
  done = [
    _download(name, data_dir, overwrite)
    for name in datasets.progress(
      [input_pipeline.EVAL_TFDS, input_pipeline.TRAIN_TFDS], description='wmt: TFDS'
    )
  ]
  vocab = input_pipeline.vocab_path(data_dir)
  if os.path.exists(vocab) and not overwrite:
    done.append(f'SentencePiece model kept ({vocab})')
  else:
    input_pipeline.train_tokenizer(data_dir, VOCAB_SIZE, MAX_CORPUS_CHARS)
    done.append(f'SentencePiece model of {VOCAB_SIZE} pieces trained ({vocab})')
  return f'wmt in {data_dir}: ' + '; '.join(done)
