r"""Synthetic click logs from a known logistic model, as a TFDS builder.

Like Criteo 1TB: each example has ``NUM_DENSE`` count features (stored as
``log(1 + count)``, the usual DLRM preprocessing) and ``NUM_CATEGORICAL``
categorical fields with Zipf-distributed values, and a binary click label.
The click probability comes from a ground-truth factorisation machine:

.. math::
  \operatorname{logit} p = b + \sum_f w_f[c_f] + u^\top z
    + \alpha \sum_{f<g} \langle e_f[c_f], e_g[c_g] \rangle
    + \beta \sum_f \langle e_f[c_f], P z \rangle

with :math:`z` the standardised dense features, :math:`e_f` a latent vector
per categorical value and :math:`P` a projection of the dense features. A
DLRM (embeddings, bottom MLP, dot interactions, top MLP) can represent this,
so the Bayes log loss (:func:`bayes_log_loss`) is well below the entropy of
the base rate. Everything is drawn with numpy from a fixed seed.

Stored per example: ``inputs`` (``[NUM_DENSE]`` float32), ``categorical``
(``[NUM_CATEGORICAL]`` int32, each in ``[0, VOCAB_SIZES[f])``), ``targets``
(float32 0/1), ``click_probability`` (float32, the true :math:`p`, for
reference only) and ``example_id``.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.common.array_builder import ArrayBuilder

SEED = 0
SPLIT_SIZES = {'train': 40_000, 'validation': 5_000, 'test': 5_000}
NUM_DENSE = 8
VOCAB_SIZES = (64, 32, 24, 16, 8, 4)
NUM_CATEGORICAL = len(VOCAB_SIZES)
LATENT_DIM = 4
ZIPF_EXPONENT = 1.1
BIAS = -1.8  # Base rate of clicks about 0.23, as in Criteo.
PAIR_SCALE = 0.2  # alpha: categorical x categorical interactions.
DENSE_SCALE = 0.25  # beta: categorical x dense interactions.


def _ground_truth(rng: np.random.Generator) -> dict:
  """The parameters of the logistic model (drawn first from the seed)."""
  return {
    'value_bias': [rng.normal(0.0, 0.5, size=v) for v in VOCAB_SIZES],
    'latent': [rng.normal(0.0, 1.0, size=(v, LATENT_DIM)) for v in VOCAB_SIZES],
    'dense_weight': rng.normal(0.0, 0.3, size=NUM_DENSE),
    'dense_projection': rng.normal(0.0, 1.0 / np.sqrt(NUM_DENSE), size=(LATENT_DIM, NUM_DENSE)),
    'value_popularity': [rng.permutation(v) for v in VOCAB_SIZES],
    'count_log_mean': rng.uniform(0.0, 3.0, size=NUM_DENSE),
  }


def click_logit(truth: dict, dense: np.ndarray, categorical: np.ndarray) -> np.ndarray:
  """The true logit of each example (``dense`` as stored: ``log(1 + count)``)."""
  z = (dense - dense.mean(0)) / dense.std(0)  # Batch statistics: near the population's.
  latents = np.stack(
    [truth['latent'][f][categorical[:, f]] for f in range(NUM_CATEGORICAL)], axis=1
  )  # [N, F, k]
  logit = BIAS + sum(truth['value_bias'][f][categorical[:, f]] for f in range(NUM_CATEGORICAL))
  logit = logit + z @ truth['dense_weight']
  total = latents.sum(1)
  pairs = 0.5 * (np.sum(total**2, -1) - np.sum(latents**2, axis=(1, 2)))
  dense_latent = z @ truth['dense_projection'].T  # [N, k]
  return logit + PAIR_SCALE * pairs / LATENT_DIM + DENSE_SCALE * np.sum(total * dense_latent, -1)


def generate_arrays(seed: int = SEED) -> dict:
  """All splits: ``{split: {feature: array}}``, from one draw cut in split order."""
  rng = np.random.default_rng(seed)
  truth = _ground_truth(rng)
  n = sum(SPLIT_SIZES.values())
  counts = np.floor(np.exp(rng.normal(truth['count_log_mean'], 1.0, size=(n, NUM_DENSE))))
  dense = np.log1p(counts).astype(np.float32)
  columns = []
  for f, vocab in enumerate(VOCAB_SIZES):
    zipf = 1.0 / np.arange(1, vocab + 1) ** ZIPF_EXPONENT
    ranks = rng.choice(vocab, size=n, p=zipf / zipf.sum())
    columns.append(truth['value_popularity'][f][ranks])
  categorical = np.stack(columns, axis=1).astype(np.int32)
  probability = 1.0 / (1.0 + np.exp(-click_logit(truth, dense.astype(np.float64), categorical)))
  clicks = (rng.random(n) < probability).astype(np.float32)
  splits, start = {}, 0
  for split, size in SPLIT_SIZES.items():
    part = slice(start, start + size)
    splits[split] = {
      'inputs': dense[part],
      'categorical': categorical[part],
      'targets': clicks[part],
      'click_probability': probability[part].astype(np.float32),
    }
    start += size
  return splits


def bayes_log_loss(probability: np.ndarray, clicks: np.ndarray) -> float:
  """The log loss of the true click probabilities on sampled clicks (the floor)."""
  p = np.clip(probability.astype(np.float64), 1e-7, 1 - 1e-7)
  return float(-np.mean(clicks * np.log(p) + (1 - clicks) * np.log(1 - p)))


class CriteoSynth(ArrayBuilder):
  """Synthetic click logs: 8 dense and 6 categorical features, binary clicks."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Factorisation-machine ground truth, seed 0, 40k/5k/5k.'}
  # algoperf_like.workloads.common.tfds_data.fingerprint of each split, checked on every load.
  FINGERPRINTS = {
    'train': 'acf60ca1322448cc0d1a1302dbb75ee4456486689e5279292a1c741777c65a01',
    'validation': 'b5c656ff9fa15c0a59e64823030584d9c687cc481a39de5689554ebedbfd119e',
    'test': '06642d6d2f38115bc3448201ba688148dabff958f37dac7e556adf34f4604ce4',
  }

  def features(self):
    return {
      'inputs': tfds.features.Tensor(shape=(NUM_DENSE,), dtype=np.float32),
      'categorical': tfds.features.Tensor(shape=(NUM_CATEGORICAL,), dtype=np.int32),
      'targets': tfds.features.Tensor(shape=(), dtype=np.float32),
      'click_probability': tfds.features.Tensor(shape=(), dtype=np.float32),
    }

  def generate(self):
    return generate_arrays()
