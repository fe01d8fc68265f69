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


def softmax_cross_entropy(
  labels: jnp.ndarray,
  logits: jnp.ndarray,
  mask: Optional[jnp.ndarray] = None,
  label_smoothing: float = 0.0,
) -> Dict[str, jnp.ndarray]:
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
  # Arithmetic, not ``if label_smoothing:``: submissions pass a traced value under jit.
  smoothed = optax.smooth_labels(one_hot, label_smoothing)
  per_example = optax.softmax_cross_entropy(logits, smoothed)
  if mask is None:
    mask = jnp.ones_like(per_example)
  per_example = per_example * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}


def classification_sums(labels, logits, mask) -> Dict[str, jnp.ndarray]:
  """Summed loss, summed errors and example count of one eval batch (to add up)."""
  loss = softmax_cross_entropy(labels, logits, mask)
  wrong = (jnp.argmax(logits, axis=-1) != labels).astype(jnp.float32) * mask
  return {'loss': loss['summed'], 'errors': wrong.sum(), 'count': mask.sum()}


def sigmoid_cross_entropy(
  labels: jnp.ndarray,
  logits: jnp.ndarray,
  mask: Optional[jnp.ndarray] = None,
  label_smoothing: float = 0.0,
) -> Dict[str, jnp.ndarray]:
  r"""Masked sigmoid (binary) cross-entropy, summed over labels per example.

  .. math::
    \ell_i = -\sum_k \bigl[\tilde y_{ik} \log \sigma(z_{ik})
             + (1-\tilde y_{ik}) \log(1-\sigma(z_{ik}))\bigr], \qquad
    \tilde y = (1-\alpha)\, y + \alpha / 2

  A single binary target (shape ``[B]``, as in click-through prediction) is
  one label per example.

  Args:
    labels: 0/1 (or soft) targets, shape ``[B, K]`` or ``[B]``.
    logits: same shape as ``labels``.
    mask: 1 for real examples, 0 for padding, shape ``[B]`` (None: all real).
    label_smoothing: :math:`\alpha`, pulls every target towards 1/2.
  """
  labels = labels.astype(logits.dtype)
  labels = (1.0 - label_smoothing) * labels + 0.5 * label_smoothing  # May be traced.
  per_label = optax.sigmoid_binary_cross_entropy(logits, labels)
  per_example = per_label.reshape(per_label.shape[0], -1).sum(-1)
  if mask is None:
    mask = jnp.ones_like(per_example)
  per_example = per_example * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}


def mean_absolute_error(
  targets: jnp.ndarray, predictions: jnp.ndarray, mask: Optional[jnp.ndarray] = None
) -> Dict[str, jnp.ndarray]:
  r"""Masked L1 loss: the mean absolute error of each example.

  .. math::
    \ell_i = \frac{1}{D} \sum_{d=1}^{D} \lvert \hat y_{id} - y_{id} \rvert

  Args:
    targets: shape ``[B, ...]``.
    predictions: the same shape as ``targets``.
    mask: 1 for real examples, 0 for padding, shape ``[B]`` (None: all real).

  Returns:
    ``{'summed', 'n_valid_examples', 'per_example'}``, ``per_example`` of shape ``[B]``.
  """
  diff = jnp.abs(predictions - targets).reshape((targets.shape[0], -1))
  per_example = diff.mean(axis=-1)
  if mask is None:
    mask = jnp.ones_like(per_example)
  per_example = per_example * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}


def ctc_loss_per_label(
  logits: jnp.ndarray,
  logit_paddings: jnp.ndarray,
  labels: jnp.ndarray,
  label_paddings: jnp.ndarray,
  mask: Optional[jnp.ndarray] = None,
  blank_id: int = 0,
) -> Dict[str, jnp.ndarray]:
  r"""Masked CTC loss of each sequence, divided by its label length.

  .. math::
    \ell_i = -\frac{1}{\max(1, |y_i|)} \log p_{\mathrm{CTC}}(y_i \mid z_i)

  (Graves et al., 2006, https://www.cs.toronto.edu/~graves/icml_2006.pdf;
  ``optax.ctc_loss``.)

  Args:
    logits: ``[B, T, K]`` frame logits, ``blank_id`` one of the ``K`` classes.
    logit_paddings: ``[B, T]``, 1 for padded frames.
    labels: ``[B, N]`` label ids (never ``blank_id`` where not padded).
    label_paddings: ``[B, N]``, 1 for padded label positions.
    mask: 1 for real examples, 0 for padding, shape ``[B]`` (None: all real).
    blank_id: the CTC blank class.

  Returns:
    ``{'summed', 'n_valid_examples', 'per_example'}``, ``per_example`` of shape ``[B]``.
  """
  per_sequence = optax.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=blank_id)
  lengths = jnp.maximum(jnp.sum(1.0 - label_paddings, axis=-1), 1.0)
  per_example = per_sequence / lengths
  if mask is None:
    mask = jnp.ones_like(per_example)
  # where, not a product: a padded example may have an infeasible (huge) loss.
  per_example = jnp.where(mask > 0, per_example, 0.0) * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}
