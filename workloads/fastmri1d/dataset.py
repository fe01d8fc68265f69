"""Undersampled MNIST-1D signals to reconstruct, as a tensorflow-datasets builder.

A 1-D analogue of fastMRI's single-coil knee task (Zbontar et al., 2018,
https://arxiv.org/abs/1811.08839): the clean signal is an MNIST-1D digit
without the package's noise (:mod:`algoperf_like.workloads.common.mnist1d_signals`); its
"k-space" is the real FFT (21 coefficients of a 40-sample signal). Like a
Cartesian undersampling mask, every example keeps the ``CENTER_FREQUENCIES``
lowest frequencies and each higher one with probability ``KEEP_PROBABILITY``;
the input is the zero-filled inverse FFT plus Gaussian noise of standard
deviation ``NOISE_STD``. Masks and noise come from
``numpy.random.default_rng(SEED)``, so the data are the same on every machine.

Features: ``inputs`` (corrupted, float32 [40]), ``targets`` (clean, float32
[40]), ``data_range`` (max - min of the clean signal, SSIM's L),
``example_id``.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.common.array_builder import ArrayBuilder
from algoperf_like.workloads.common.mnist1d_signals import SIGNAL_LENGTH, digit_signals

SEED = 1
SPLIT_SIZES = {'train': 8_000, 'validation': 1_000, 'test': 1_000}
CENTER_FREQUENCIES = 4
KEEP_PROBABILITY = 0.25
NOISE_STD = 0.1


def generate_arrays(seed: int = SEED) -> Dict[str, Dict[str, np.ndarray]]:
  """All splits: ``{split: {'inputs', 'targets', 'data_range'}}`` (float32 arrays)."""
  clean, _ = digit_signals(sum(SPLIT_SIZES.values()), seed=seed, noise=False)
  rng = np.random.default_rng(seed)
  kspace = np.fft.rfft(clean.astype(np.float64), axis=-1)
  keep = rng.random(kspace.shape) < KEEP_PROBABILITY
  keep[:, :CENTER_FREQUENCIES] = True
  zero_filled = np.fft.irfft(kspace * keep, n=SIGNAL_LENGTH, axis=-1)
  corrupted = zero_filled + NOISE_STD * rng.standard_normal(clean.shape)
  arrays = {
    'inputs': corrupted.astype(np.float32),
    'targets': clean,
    'data_range': (clean.max(-1) - clean.min(-1)).astype(np.float32),
  }
  splits, start = {}, 0
  for split, size in SPLIT_SIZES.items():
    splits[split] = {k: v[start : start + size] for k, v in arrays.items()}
    start += size
  return splits


class Fastmri1d(ArrayBuilder):
  """Undersampled-and-noisy 40-sample MNIST-1D signals and their clean originals."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
    '1.0.0': 'Clean mnist1d digits, seed 1; 4 centre + 25% other '
    'frequencies kept, noise std 0.1; 8k/1k/1k.'
  }
  # algoperf_like.workloads.common.tfds_data.fingerprint of each split, checked on every load.
  FINGERPRINTS = {
    'train': '29cbb397b3c40f753ca1b19556627f85f824071c896da61d8f4319bf10519a73',
    'validation': 'cfdf37aa3c1eb94abc54a02204414e1bdf2e6a385982f1fe0130ced78c12feb5',
    'test': 'ee10e0596e46854dac1b2a50aa7484ad0fb209965bc0ab415e2213cc0d2f02f0',
  }

  HOMEPAGE = 'https://github.com/greydanus/mnist1d'

  def features(self):
    signal = tfds.features.Tensor(shape=(SIGNAL_LENGTH,), dtype=np.float32)
    return {
      'inputs': signal,
      'targets': signal,
      'data_range': tfds.features.Scalar(dtype=np.float32),
    }

  def generate(self):
    return generate_arrays()
