"""Metrics several workloads can share: 1-D SSIM, greedy CTC decoding, edit distance.

Device-side pieces (:func:`ssim_1d`, :func:`ctc_greedy_decode`) are jnp and
jittable with fixed shapes; :func:`edit_distance` runs on the host.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp


def ssim_1d(
  predictions: jnp.ndarray,
  targets: jnp.ndarray,
  data_range: jnp.ndarray,
  window: int = 7,
  k1: float = 0.01,
  k2: float = 0.03,
) -> jnp.ndarray:
  r"""Structural similarity of 1-D signals, averaged over windows (one value per example).

  For every window of ``window`` consecutive samples (uniform weights, valid
  positions only), with local means :math:`\mu`, sample variances
  :math:`\sigma^2` and covariance :math:`\sigma_{xy}` (normalised by
  ``window - 1``, as scikit-image and fastMRI do):

  .. math::
    \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                               {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
    \qquad C_1 = (k_1 L)^2,\ C_2 = (k_2 L)^2

  Args:
    predictions: ``[B, T]``.
    targets: ``[B, T]``.
    data_range: :math:`L`, shape ``[B]`` or a scalar (e.g. each target's max - min).
    window: samples per window (``T >= window``).
    k1, k2: the constants of Wang et al.

  Returns:
    ``[B]``: the mean SSIM over each example's windows (1 for identical signals).

  References:
    Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 2004.
  """
  length = targets.shape[-1]
  index = jnp.arange(length - window + 1)[:, None] + jnp.arange(window)[None, :]
  x, y = predictions[:, index], targets[:, index]  # [B, positions, window]
  mu_x, mu_y = x.mean(-1), y.mean(-1)
  norm = window / (window - 1)
  var_x = norm * ((x * x).mean(-1) - mu_x * mu_x)
  var_y = norm * ((y * y).mean(-1) - mu_y * mu_y)
  cov = norm * ((x * y).mean(-1) - mu_x * mu_y)
  data_range = jnp.reshape(jnp.asarray(data_range, x.dtype), (-1, 1))
  c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
  ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
    (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
  )
  return ssim_map.mean(-1)


def ctc_greedy_decode(
  logits: jnp.ndarray, logit_paddings: jnp.ndarray, blank_id: int = 0, fill: int = -1
) -> jnp.ndarray:
  """Best-path CTC decoding with fixed shapes: argmax per frame, merge repeats, drop blanks.

  Args:
    logits: ``[B, T, K]``.
    logit_paddings: ``[B, T]``, 1 for padded frames (they emit nothing).
    blank_id: the blank class.
    fill: value after the decoded labels.

  Returns:
    ``[B, T]`` int32: each row's decoded labels, left-aligned, then ``fill``.
  """
  best = jnp.argmax(logits, axis=-1).astype(jnp.int32)
  best = jnp.where(logit_paddings > 0, blank_id, best)
  previous = jnp.pad(best[:, :-1], ((0, 0), (1, 0)), constant_values=blank_id)
  keep = (best != blank_id) & (best != previous)
  # Stable sort puts kept frames first, in their order.
  order = jnp.argsort(~keep, axis=-1, stable=True)
  labels = jnp.take_along_axis(best, order, axis=-1)
  kept = jnp.take_along_axis(keep, order, axis=-1)
  return jnp.where(kept, labels, fill)


def edit_distance(hypothesis: Sequence[int], reference: Sequence[int]) -> int:
  """Levenshtein distance: fewest insertions, deletions and substitutions (host, pure Python)."""
  ref = list(reference)
  row = list(range(len(ref) + 1))
  for i, h in enumerate(hypothesis, start=1):
    previous, row = row, [i]
    for j, r in enumerate(ref, start=1):
      row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (h != r)))
  return row[-1]
