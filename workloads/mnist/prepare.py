"""``algoperf-like datasets prepare --dataset=mnist``: TFDS ``mnist`` into ``--data_dir``."""

from __future__ import annotations

from algoperf_like.workloads.common import image_classification
from algoperf_like.workloads.mnist import input_pipeline


def prepare(data_dir: str, raw_dir: str, overwrite: bool) -> str:
  """TFDS downloads and prepares MNIST (AlgoPerf's ``dataset_setup.py --mnist``)."""
  del raw_dir  # TFDS fetches it.
  return image_classification.tfds_prepare(input_pipeline.TFDS_NAME, data_dir, overwrite)
