"""MNIST-1D digit signals from the ``mnist1d`` package, for workloads built on them.

The ``mnist1d`` package (Greydanus & Kobak, 2020, https://arxiv.org/abs/2011.14439)
draws each example by transforming one of ten 1-D digit templates (padding,
shear, translation, correlated and i.i.d. noise), seeding numpy's global
generator. :func:`digit_signals` calls it with a seed and leaves the caller's
global numpy state as it was.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

SIGNAL_LENGTH = 40  # The package's final_seq_length.
NUM_DIGITS = 10


def digit_signals(num_samples: int, seed: int, noise: bool = True) -> Tuple[np.ndarray, np.ndarray]:
  """``num_samples`` MNIST-1D signals and their digits, in the package's shuffled order.

  Args:
    num_samples: how many signals (the package draws the same number per digit,
      so it generates ``ceil(num_samples / 10) * 10`` and we keep the first ones).
    seed: the package's seed.
    noise: keep the package's correlated and i.i.d. noise; ``False`` gives the
      clean transformed templates (scaled, sheared, translated).

  Returns:
    ``(signals float32 [num_samples, 40], digits int64 [num_samples])``, the
    signals standardised over the whole draw (mean 0, std 1), as the package does.
  """
  from mnist1d.data import get_dataset_args, make_dataset

  args = get_dataset_args()
  args.num_samples = -(-num_samples // NUM_DIGITS) * NUM_DIGITS
  args.train_split = 1.0
  args.seed = seed
  if not noise:
    args.corr_noise_scale = 0.0
    args.iid_noise_scale = 0.0
  state = np.random.get_state()
  try:
    data = make_dataset(args)
  finally:
    np.random.set_state(state)
  return (data['x'][:num_samples].astype(np.float32), data['y'][:num_samples].astype(np.int64))
