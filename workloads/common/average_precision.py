"""Average precision and its mean over labels (OGB's ``ap`` metric), in numpy.

These are host-side metrics: evaluation gathers every example's scores and
labels, then ranks them once per label (see ``InMemoryWorkload._metrics``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
  r"""Area under the precision-recall curve as a step sum over score thresholds.

  .. math::
    \mathrm{AP} = \sum_n (R_n - R_{n-1})\, P_n

  where :math:`P_n, R_n` are the precision and recall when every example
  scoring at least the :math:`n`-th largest distinct score is called positive
  (tied scores enter together). This is scikit-learn's
  ``average_precision_score``, which OGB's evaluator uses.

  Args:
    labels: 0/1 array ``[N]``.
    scores: real array ``[N]`` (higher: more likely positive).

  Returns:
    The average precision; NaN when ``labels`` has no positive.

  References:
    Hu et al., Open Graph Benchmark, 2020, https://arxiv.org/abs/2005.00687
  """
  labels = np.asarray(labels, dtype=np.float64).ravel()
  scores = np.asarray(scores, dtype=np.float64).ravel()
  num_positive = labels.sum()
  if num_positive == 0:
    return float('nan')
  order = np.argsort(-scores, kind='stable')
  scores, labels = scores[order], labels[order]
  # The last index of each run of tied scores: one threshold per distinct score.
  last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
  true_pos = np.cumsum(labels)[last]
  precision = true_pos / (last + 1)
  recall = true_pos / num_positive
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(
  labels: np.ndarray, scores: np.ndarray, mask: Optional[np.ndarray] = None
) -> float:
  """Mean over labels of :func:`average_precision`, as OGB computes it.

  Labels with no positive or no negative among the unmasked examples are
  left out of the mean (their AP is undefined or trivially 1).

  Args:
    labels: 0/1 array ``[N, K]``.
    scores: real array ``[N, K]`` (logits or probabilities).
    mask: 1 for the examples that count, shape ``[N]`` (None: all).

  Returns:
    The mean average precision; NaN when no label has both classes.
  """
  labels, scores = np.asarray(labels), np.asarray(scores)
  if mask is not None:
    keep = np.asarray(mask).astype(bool)
    labels, scores = labels[keep], scores[keep]
  values = [
    average_precision(labels[:, k], scores[:, k])
    for k in range(labels.shape[1])
    if 0 < labels[:, k].sum() < len(labels)
  ]
  return float(np.mean(values)) if values else float('nan')
