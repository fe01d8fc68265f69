"""MNIST inputs as AlgoPerf prepares them: TFDS ``mnist``, no augmentation.

AlgoPerf normalises the raw pixel values (0..255, not rescaled to [0, 1]) with its
``train_mean`` 0.1307 and ``train_stddev`` 0.3081: ``(pixel - 0.1307) / 0.3081``. So
does this pipeline, so that a model trained here sees the inputs it sees there.
Splits: ``train[:50000]`` (train, eval_train), ``train[50000:]`` (validation), ``test``.
"""

from __future__ import annotations

import numpy as np

TFDS_NAME = 'mnist'


def normalize(images: np.ndarray, mean: float, stddev: float) -> np.ndarray:
  """uint8 ``[N, 28, 28, 1]`` -> float32, AlgoPerf's ``(x - mean) / stddev`` on 0..255 pixels."""
  return ((images.astype(np.float32) - np.float32(mean)) / np.float32(stddev)).astype(np.float32)
