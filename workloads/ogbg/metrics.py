"""The ogbg loss and evaluation metrics, as AlgoPerf defines them.

Everything is per label: ``weights`` is ``[G, 128]`` (0 for an unmeasured label or a padding
graph), the loss of a graph is a row of 128 binary cross-entropies, and the mean loss and
accuracy divide by the number of weighted labels.
"""

from __future__ import annotations

from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like.workloads.common import average_precision


def masked_sigmoid_cross_entropy(
  labels: jnp.ndarray,
  logits: jnp.ndarray,
  mask: Optional[jnp.ndarray] = None,
  label_smoothing=0.0,
) -> Dict[str, jnp.ndarray]:
  r"""Binary cross-entropy of every weighted label, AlgoPerf's ogbg ``loss_fn``.

  .. math::
    \ell_{gk} = m_{gk}\bigl[\max(z_{gk}, 0) - z_{gk}\tilde y_{gk}
                + \log(1 + e^{-|z_{gk}|})\bigr], \qquad
    \tilde y = (1-\alpha)\,y' + \alpha / K

  with :math:`y' = y` where :math:`m = 1` and :math:`-1` elsewhere (so that no NaN label
  reaches the gradient), :math:`K = 128` the number of labels. The smoothing pulls targets
  towards :math:`1/K`, not :math:`1/2`, as AlgoPerf's ``optax.smooth_labels`` does.
  ``label_smoothing`` may be traced.

  Args:
    labels: ``[G, K]`` 0/1 targets.
    logits: ``[G, K]``.
    mask: ``[G, K]`` label weights (None: all count).
    label_smoothing: :math:`\alpha`.

  Returns:
    ``{'summed', 'n_valid_examples', 'per_example'}``: ``per_example`` is ``[G, K]``,
    ``n_valid_examples`` the number of weighted labels (``G`` without a mask).
  """
  if mask is None:
    n_valid = logits.shape[0]
    mask = jnp.ones_like(logits)
  else:
    n_valid = mask.sum()
  if not logits.shape == labels.shape == mask.shape or logits.ndim != 2:
    raise ValueError(
      f'logits {logits.shape}, targets {labels.shape} and weights {mask.shape} must be '
      'equal [graphs, labels] shapes'
    )
  targets = jnp.where(mask, labels, -1.0)
  targets = (1.0 - label_smoothing) * targets + label_smoothing / logits.shape[-1]
  per_label = jnp.maximum(logits, 0.0) - logits * targets + jnp.log(1.0 + jnp.exp(-jnp.abs(logits)))
  per_label = jnp.where(mask, per_label, 0.0)
  return {'summed': per_label.sum(), 'n_valid_examples': n_valid, 'per_example': per_label}


def batch_sums(labels, logits, mask) -> Dict[str, jnp.ndarray]:
  """Per-batch sums of the averaged metrics (loss, accuracy) and their label count."""
  loss = masked_sigmoid_cross_entropy(labels, logits, mask)['per_example']
  weighted = mask > 0
  correct = ((logits > 0) == labels).astype(jnp.float32)
  return {
    'loss': jnp.where(weighted, loss, 0.0).sum(),
    'correct': jnp.where(weighted, correct, 0.0).sum(),
    'count': weighted.sum(),
  }


def mean_average_precision(labels: np.ndarray, logits: np.ndarray, mask: np.ndarray) -> float:
  """AlgoPerf's (and OGB's) mean average precision over the 128 labels.

  A label counts when the label column holds both a 0 and a 1 over *all* rows (padding and
  unmeasured labels are 0 there, so they count as negatives for this test); its AP is then
  scikit-learn's average precision of ``sigmoid(logits)`` (float32, so saturated
  probabilities tie as AlgoPerf's do) over the weighted rows only, 0 when those rows hold no
  positive (as scikit-learn returns). The mean skips the labels that do not count; NaN when
  none does.
  """
  labels = np.asarray(labels)
  mask = np.asarray(mask).astype(bool)
  probs = np.asarray(jax.nn.sigmoid(jnp.asarray(logits, jnp.float32)))
  values = []
  for k in range(labels.shape[1]):
    column = labels[:, k]
    if not ((column == 0).any() and (column == 1).any()):
      continue
    y, p = column[mask[:, k]], probs[mask[:, k], k]
    if len(y) == 0:
      values.append(float('nan'))  # scikit-learn fails here; no molpcba label does.
    elif y.sum() == 0:
      values.append(0.0)
    else:
      values.append(average_precision.average_precision(y, p))
  values = np.asarray(values, np.float64)
  if values.size == 0 or np.isnan(values).all():
    return float('nan')
  return float(np.nanmean(values))
