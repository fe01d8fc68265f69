"""``algoperf-like datasets prepare --dataset=cifar``: TFDS ``cifar10:3.0.2`` into ``--data_dir``."""

from __future__ import annotations

from algoperf_like.workloads.cifar import input_pipeline
from algoperf_like.workloads.common import image_classification


def prepare(data_dir: str, raw_dir: str, overwrite: bool) -> str:
  """TFDS downloads and prepares CIFAR-10 (AlgoPerf's ``dataset_setup.py --cifar``)."""
  del raw_dir  # TFDS fetches it.
  return image_classification.tfds_prepare(input_pipeline.TFDS_NAME, data_dir, overwrite)
