"""CIFAR-10 inputs as AlgoPerf prepares them: TFDS ``cifar10:3.0.2``.

Splits: ``train[:45000]`` (train, eval_train), ``train[45000:]`` (validation, 5,000
images), TFDS ``test`` (10,000). Evaluation: pixels scaled to [0, 1], then
``(x - mean) / stddev`` per channel (AlgoPerf's ``train_mean``/``train_stddev``).
Training, as AlgoPerf's: zero-pad the 32x32 image to 36x36 (2 pixels a side, since
AlgoPerf's ``padding_size`` 4 is the total), take a random 32x32 crop, flip left-right
with probability 1/2, then normalise. Written in numpy on whole batches; the random
draws come from the batch's generator (deterministic from the data seed).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TFDS_NAME = 'cifar10:3.0.2'
CROP_SIZE = 32
PADDING_SIZE = 4  # Added to height and width in total: 2 pixels each side.


def normalize(images: np.ndarray, mean: Sequence[float], stddev: Sequence[float]) -> np.ndarray:
  """uint8 ``[N, H, W, 3]`` -> float32 ``(x / 255 - mean) / stddev`` per channel."""
  x = images.astype(np.float32) / np.float32(255.0)
  return ((x - np.asarray(mean, np.float32)) / np.asarray(stddev, np.float32)).astype(np.float32)


def random_crop_and_flip(
  images: np.ndarray,
  rng: np.random.Generator,
  crop_size: int = CROP_SIZE,
  padding_size: int = PADDING_SIZE,
) -> np.ndarray:
  """Pad with zeros, crop ``crop_size`` squares at random offsets, flip half of them."""
  n, h, w, _ = images.shape
  before = padding_size // 2
  padded = np.pad(
    images,
    ((0, 0), (before, padding_size - before), (before, padding_size - before), (0, 0)),
  )
  top = rng.integers(0, h + padding_size - crop_size + 1, n)
  left = rng.integers(0, w + padding_size - crop_size + 1, n)
  flip = rng.random(n) < 0.5
  span = np.arange(crop_size)
  rows = top[:, None] + span
  cols = left[:, None] + np.where(flip[:, None], crop_size - 1 - span, span)
  return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
