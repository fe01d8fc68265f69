"""MNIST-1D training sets where the choice of examples should matter.

Each variant corrupts only the *training* split of :mod:`algoperf_like.workloads.mnist1d.dataset`,
deterministically from a recorded seed; validation and test stay the clean
base splits, so the target still measures generalisation on clean data.

- ``label_noise``: a fraction of training labels is replaced by a different,
  uniformly drawn class (symmetric noise). Loss-based selection that favours
  high-loss examples keeps picking the mislabelled ones.
- ``class_imbalance``: class ``k`` keeps ``n_k = n_0 * ratio ** (k / 9)``
  training examples (a long tail, 20:1 by default), validation stays balanced.
- ``near_duplicates``: a few unique training examples, each repeated several
  times with small Gaussian jitter, so most of an epoch is redundant.

The functions are pure (arrays in, arrays out); the builders below serve
their output through TFDS with fingerprints, like every CPU workload.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.mnist1d import dataset

Split = Tuple[np.ndarray, np.ndarray]  # (inputs [N, 40] float32, labels [N] int64)

LABEL_NOISE = {'fraction': 0.3, 'seed': 1}
CLASS_IMBALANCE = {'largest_class': 980, 'ratio': 0.05}
NEAR_DUPLICATES = {'unique': 2000, 'copies': 5, 'jitter': 0.1, 'seed': 2}


def label_noise(split: Split, fraction: float, seed: int) -> Split:
  """Give ``round(fraction * N)`` random examples a different, uniformly random label."""
  inputs, labels = split
  rng = np.random.RandomState(seed)
  noisy = rng.choice(len(labels), size=int(round(fraction * len(labels))), replace=False)
  shift = rng.randint(1, dataset.NUM_CLASSES, size=len(noisy))  # Never the true class.
  out = labels.copy()
  out[noisy] = (labels[noisy] + shift) % dataset.NUM_CLASSES
  return inputs, out


def class_counts(largest_class: int, ratio: float) -> np.ndarray:
  """``n_k = round(largest_class * ratio ** (k / (K - 1)))`` for classes ``k = 0..K-1``."""
  k = np.arange(dataset.NUM_CLASSES)
  return np.round(largest_class * ratio ** (k / (dataset.NUM_CLASSES - 1))).astype(np.int64)


def class_imbalance(split: Split, largest_class: int, ratio: float) -> Split:
  """Keep the first ``n_k`` examples of each class ``k`` (stored order unchanged)."""
  inputs, labels = split
  keep = np.zeros(len(labels), bool)
  for k, n in enumerate(class_counts(largest_class, ratio)):
    members = np.flatnonzero(labels == k)
    if len(members) < n:
      raise ValueError(f'class {k} has {len(members)} examples, fewer than {n}')
    keep[members[:n]] = True
  return inputs[keep], labels[keep]


def near_duplicates(split: Split, unique: int, copies: int, jitter: float, seed: int) -> Split:
  """``copies`` jittered copies of each of the first ``unique`` examples, shuffled."""
  inputs, labels = split
  rng = np.random.RandomState(seed)
  repeated = np.repeat(inputs[:unique], copies, axis=0)
  noisy = repeated + rng.normal(0.0, jitter, size=repeated.shape).astype(np.float32)
  order = rng.permutation(len(noisy))
  return noisy[order].astype(np.float32), np.repeat(labels[:unique], copies)[order]


class _CorruptedMnist1d(dataset.Mnist1d, skip_registration=True):
  """Base: the clean splits, with ``corrupt(split, **PARAMETERS)`` applied to training."""

  VERSION = tfds.core.Version('1.0.0')
  TRAIN_FINGERPRINT: str

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if 'PARAMETERS' in cls.__dict__:
      cls.RELEASE_NOTES = {
        '1.0.0': f'mnist1d 1.0.0, training split: {cls.corrupt.__name__} {cls.PARAMETERS}.'
      }
      cls.FINGERPRINTS = {**dataset.Mnist1d.FINGERPRINTS, 'train': cls.TRAIN_FINGERPRINT}

  def generate(self) -> Dict[str, Dict[str, np.ndarray]]:
    splits = dataset.generate_arrays()
    splits['train'] = type(self).corrupt(splits['train'], **self.PARAMETERS)
    return {split: {'inputs': x, 'targets': y} for split, (x, y) in splits.items()}


class Mnist1dLabelNoise(_CorruptedMnist1d):
  """MNIST-1D, 30% of the training labels replaced by a different random class."""

  corrupt, PARAMETERS = staticmethod(label_noise), LABEL_NOISE
  SPLIT_SIZES = dataset.SPLIT_SIZES
  TRAIN_FINGERPRINT = '26f994233e1def3f4080d04f08609c702d00cbaeb9b94405631bac0680cf1997'


class Mnist1dImbalanced(_CorruptedMnist1d):
  """MNIST-1D with a long-tailed training set (20:1 between the first and last class)."""

  corrupt, PARAMETERS = staticmethod(class_imbalance), CLASS_IMBALANCE
  SPLIT_SIZES = {**dataset.SPLIT_SIZES, 'train': int(class_counts(**CLASS_IMBALANCE).sum())}
  TRAIN_FINGERPRINT = 'ef73f7f9728a032d72ce32ddec0853e2c84fbaf4a5047f6026539658f64659b8'


class Mnist1dDuplicates(_CorruptedMnist1d):
  """MNIST-1D whose 10k training examples are 5 jittered copies of 2k unique ones."""

  corrupt, PARAMETERS = staticmethod(near_duplicates), NEAR_DUPLICATES
  SPLIT_SIZES = {
    **dataset.SPLIT_SIZES,
    'train': NEAR_DUPLICATES['unique'] * NEAR_DUPLICATES['copies'],
  }
  TRAIN_FINGERPRINT = '93be992afcb98db5825255795eb3ab79aeb844c4aa0bcb83cb72f0b2fc3de90d'
