"""``algoperf-like datasets prepare --dataset=imagenet``: ImageNet 2012 and ImageNet-v2 as TFDS.

ImageNet cannot be downloaded without registering, so, as AlgoPerf's
``dataset_setup.py`` does, the user puts the two archives from https://image-net.org
(``ILSVRC2012_img_train.tar``, a tar of one tar of JPEGs per class, and
``ILSVRC2012_img_val.tar``, 50 000 JPEGs) in ``raw_dir``, and TFDS's own
``imagenet2012:5.1.0`` builder converts them, with ``raw_dir`` as its manual
directory, into ``data_dir``. TFDS needs nothing else offline: the validation labels
(``validation_labels.txt``, one synset per validation image in file-name order) and the
class names ship inside the ``tensorflow_datasets`` package. AlgoPerf moves the archives
into ``<data_dir>/downloads/manual``; here they stay where they are (nothing is moved or
copied). The optional ``ILSVRC2012_img_test.tar`` (unlabelled) is not used.

ImageNet-v2 (``imagenet_v2/matched-frequency:3.0.0``, AlgoPerf's test split) is then
fetched by TFDS's ``download_and_prepare`` into the same ``data_dir``; pass that
directory (the default) or another as ``--imagenet_v2_data_dir`` to ``run``.
"""

from __future__ import annotations

import os

from algoperf_like import datasets
from algoperf_like.workloads.imagenet_resnet import input_pipeline

RAW_FILES = ('ILSVRC2012_img_train.tar', 'ILSVRC2012_img_val.tar')
SOURCE = 'https://image-net.org/download-images (registration needed)'


def prepare_imagenet2012(data_dir: str, raw_dir: str, overwrite: bool = False) -> str:
  """Build TFDS ``imagenet2012:5.1.0`` under ``data_dir`` from the archives in ``raw_dir``."""
  import tensorflow_datasets as tfds

  for name in RAW_FILES:
    if not os.path.isfile(os.path.join(raw_dir, name)):
      raise datasets.missing_raw_file(name, raw_dir, SOURCE)
  builder = input_pipeline.builder(data_dir)
  if builder.is_prepared() and not overwrite:
    return f'imagenet2012 already prepared in {builder.data_dir}'
  config = tfds.download.DownloadConfig(
    manual_dir=raw_dir,
    download_mode=(
      tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
      if overwrite
      else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    ),
  )
  print(f'imagenet: converting {", ".join(RAW_FILES)} from {raw_dir} (TFDS imagenet2012)')
  builder.download_and_prepare(download_config=config)
  return f'imagenet2012 in {builder.data_dir}'


def prepare_imagenet_v2(data_dir: str, overwrite: bool = False) -> str:
  """TFDS ``download_and_prepare`` of ImageNet-v2 matched-frequency (needs the network)."""
  import tensorflow_datasets as tfds

  builder = input_pipeline.builder(data_dir, input_pipeline.IMAGENET_V2)
  if builder.is_prepared() and not overwrite:
    return f'imagenet_v2 already prepared in {builder.data_dir}'
  mode = (
    tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    if overwrite
    else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
  )
  try:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
  except Exception as e:  # noqa: BLE001 - one line for the user, whatever TFDS raised.
    raise datasets.DatasetError(
      f'imagenet_v2: TFDS could not download and prepare {input_pipeline.IMAGENET_V2} into '
      f'{data_dir} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""})'
    ) from e
  return f'imagenet_v2 in {builder.data_dir}'


def prepare(data_dir: str, raw_dir: str, overwrite: bool = False) -> str:
  """ImageNet 2012 from ``raw_dir`` (manual) and ImageNet-v2 (downloaded), both TFDS."""
  tfds_dir = data_dir
  first = prepare_imagenet2012(tfds_dir, raw_dir, overwrite)
  second = prepare_imagenet_v2(tfds_dir, overwrite)
  return f'{first}; {second} (--data_dir={tfds_dir}, --imagenet_v2_data_dir={tfds_dir})'
