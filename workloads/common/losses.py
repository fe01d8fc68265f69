"""Losses and classification metrics in AlgoPerf's ``loss_fn`` format.

A loss returns ``{'summed', 'n_valid_examples', 'per_example'}``: the per-example
losses times the mask, their sum, and the number of unmasked examples. The
caller divides ``summed`` by ``n_valid_examples`` for the mean.
"""

from __future__ import annotations

from typing import Dict, Optional

import jax
import jax.numpy as jnp
import optax


def softmax_cross_entropy(labels: jnp.ndarray, logits: jnp.ndarray,
                          mask: Optional[jnp.ndarray] = None,
                          label_smoothing: float = 0.0) -> Dict[str, jnp.ndarray]:
  r"""Masked softmax cross-entropy with label smoothing.

  .. math::
    \ell_i = -\sum_c \tilde y_{ic} \log \operatorname{softmax}(z_i)_c, \qquad
    \tilde y_i = (1-\alpha)\,\mathrm{onehot}(y_i) + \alpha / C

  Args:
    labels: integer class labels, shape ``[B]``.
    logits: shape ``[B, C]``.
    mask: 1 for real examples, 0 for padding, shape ``[B]`` (None: all real).
    label_smoothing: :math:`\alpha`.
  """
  num_classes = logits.shape[-1]
  one_hot = jax.nn.one_hot(labels, num_classes)
  smoothed = optax.smooth_labels(one_hot, label_smoothing) if label_smoothing else one_hot
  per_example = optax.softmax_cross_entropy(logits, smoothed)
  if mask is None:
    mask = jnp.ones_like(per_example)
  per_example = per_example * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(),
          'per_example': per_example}


def classification_sums(labels, logits, mask) -> Dict[str, jnp.ndarray]:
  """Summed loss, summed errors and example count of one eval batch (to add up)."""
  loss = softmax_cross_entropy(labels, logits, mask)
  wrong = (jnp.argmax(logits, axis=-1) != labels).astype(jnp.float32) * mask
  return {'loss': loss['summed'], 'errors': wrong.sum(), 'count': mask.sum()}
