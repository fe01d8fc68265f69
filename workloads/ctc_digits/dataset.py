"""Sequences of MNIST-1D digits to transcribe, as a tensorflow-datasets builder.

A 1-D analogue of speech recognition (AlgoPerf's LibriSpeech workloads): each
example is ``MIN_DIGITS`` to ``MAX_DIGITS`` MNIST-1D digit signals (with the
package's noise; :mod:`algoperf_like.workloads.common.mnist1d_signals`), each 40 samples
long, placed one after another with a random gap of 0 to ``MAX_GAP`` zero
samples before each, then zero-padded to ``SEQUENCE_LENGTH`` samples. Each
split draws its digits, with replacement, from its own pool of MNIST-1D
signals (one draw of the package, seed ``SEED``, cut into pools); the digit
counts, digit choices and gaps come from ``numpy.random.default_rng(SEED)``.

Features: ``inputs`` (float32 [SEQUENCE_LENGTH]), ``input_paddings`` (float32
[SEQUENCE_LENGTH], 1 after the last digit), ``targets`` (int64 [MAX_DIGITS],
the digits in order, then ``PAD_ID``), ``example_id``.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.common.array_builder import ArrayBuilder
from algoperf_like.workloads.common.mnist1d_signals import SIGNAL_LENGTH, digit_signals

SEED = 2
SPLIT_SIZES = {'train': 8_000, 'validation': 1_000, 'test': 1_000}
POOL_SIZES = {'train': 10_000, 'validation': 2_000, 'test': 2_000}
MIN_DIGITS, MAX_DIGITS = 2, 4
MAX_GAP = 4
SEQUENCE_LENGTH = MAX_DIGITS * (SIGNAL_LENGTH + MAX_GAP)  # 176
PAD_ID = -1
NUM_DIGITS = 10


def generate_arrays(seed: int = SEED) -> Dict[str, Dict[str, np.ndarray]]:
  """All splits: ``{split: {'inputs', 'input_paddings', 'targets'}}``."""
  signals, digits = digit_signals(sum(POOL_SIZES.values()), seed=seed, noise=True)
  rng = np.random.default_rng(seed)
  splits, pool_start = {}, 0
  for split, size in SPLIT_SIZES.items():
    pool = slice(pool_start, pool_start + POOL_SIZES[split])
    pool_start += POOL_SIZES[split]
    pool_signals, pool_digits = signals[pool], digits[pool]
    counts = rng.integers(MIN_DIGITS, MAX_DIGITS + 1, size=size)
    choices = rng.integers(0, len(pool_digits), size=(size, MAX_DIGITS))
    gaps = rng.integers(0, MAX_GAP + 1, size=(size, MAX_DIGITS))
    inputs = np.zeros((size, SEQUENCE_LENGTH), np.float32)
    paddings = np.ones((size, SEQUENCE_LENGTH), np.float32)
    targets = np.full((size, MAX_DIGITS), PAD_ID, np.int64)
    for i in range(size):
      position = 0
      for j in range(counts[i]):
        position += gaps[i, j]
        inputs[i, position : position + SIGNAL_LENGTH] = pool_signals[choices[i, j]]
        targets[i, j] = pool_digits[choices[i, j]]
        position += SIGNAL_LENGTH
      paddings[i, :position] = 0.0
    splits[split] = {'inputs': inputs, 'input_paddings': paddings, 'targets': targets}
  return splits


class CtcDigits(ArrayBuilder):
  """2-4 concatenated MNIST-1D digit signals and their digit sequence."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'mnist1d digits (with noise), seed 2; 2-4 digits, gaps 0-4; '
    '8k/1k/1k sequences from 10k/2k/2k digit pools.'
  }
  # algoperf_like.workloads.common.tfds_data.fingerprint of each split, checked on every load.
  FINGERPRINTS = {
    'train': '0e29a850aed1f341530fa9bba6737a5b827c7d22434a1122b2ef35b3c8707397',
    'validation': '9e5eca2ed63704557dee589f079a55ce7e80c0aff1336762e7339813254fdecb',
    'test': '10dc6b859604f5f7c6b956044940cba1da2c9b9ea26b790a974784e1c123c3bc',
  }

  HOMEPAGE = 'https://github.com/greydanus/mnist1d'

  def features(self):
    return {
      'inputs': tfds.features.Tensor(shape=(SEQUENCE_LENGTH,), dtype=np.float32),
      'input_paddings': tfds.features.Tensor(shape=(SEQUENCE_LENGTH,), dtype=np.float32),
      'targets': tfds.features.Tensor(shape=(MAX_DIGITS,), dtype=np.int64),
    }

  def generate(self):
    return generate_arrays()
