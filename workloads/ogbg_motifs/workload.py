"""The ``ogbg_motifs`` workload: a graph network flags motifs in random graphs.

Like AlgoPerf's ``ogbg`` (OGB-molpcba): multi-label binary classification of
whole graphs. Loss: sigmoid cross-entropy summed over the labels. Target
metric: validation mean average precision (OGB's mean over labels of AP).
Data: ``algoperf_like.workloads.ogbg_motifs.dataset.OgbgMotifs`` (TFDS builder, generated
offline); a batch holds padded dense graphs: ``inputs`` (node features),
``adjacency`` and ``node_mask``.
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np

from algoperf_like import spec
from algoperf_like.workloads.common import average_precision, losses
from algoperf_like.workloads.common.in_memory import InMemoryWorkload, init_params, make_constants
from algoperf_like.workloads.ogbg_motifs import dataset
from algoperf_like.workloads.ogbg_motifs.model import DenseGraphNet


class OgbgMotifsWorkload(InMemoryWorkload):
  """Motif detection with :class:`DenseGraphNet`."""

  name = 'ogbg_motifs'
  algoperf_base_workload = 'ogbg'
  activation = 'relu'
  builder_cls = dataset.OgbgMotifs
  loss_type = spec.LossType.SIGMOID_CROSS_ENTROPY
  output_param_key = 'Dense_out'
  eval_features = ('inputs', 'adjacency', 'node_mask', 'targets')

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, dataset.SPLIT_SIZES, eval_batch_size=1000)
    self._model = DenseGraphNet(num_labels=dataset.NUM_LABELS, activation=self.activation)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The model has no dropout.
    n = dataset.MAX_NODES
    params = init_params(
      self._model,
      rng,
      jnp.zeros((1, n, dataset.NUM_FEATURES)),
      jnp.zeros((1, n, n)),
      jnp.ones((1, n)),
    )
    self._set_param_info(params)
    return params, None

  def model_fn(
    self,
    params,
    augmented_and_preprocessed_input_batch,
    model_state,
    mode,
    rng,
    update_batch_norm,
    use_running_average_bn=None,
    dropout_rate=None,
  ):
    del rng, update_batch_norm, use_running_average_bn, dropout_rate
    batch = augmented_and_preprocessed_input_batch
    logits = self._model.apply(
      {'params': params},
      batch['inputs'],
      batch['adjacency'],
      batch['node_mask'],
      train=mode == spec.ForwardPassMode.TRAIN,
    )
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    """Per-example sigmoid cross-entropy summed over the motif labels."""
    return losses.sigmoid_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    loss = self.loss_fn(batch['targets'], logits, batch['weights'])
    return {
      'logits': logits,
      'targets': batch['targets'],
      'weights': batch['weights'],
      'loss': loss['summed'],
    }

  def _metrics(self, outputs):
    logits, labels, weights = (
      np.concatenate([o[k] for o in outputs]) for k in ('logits', 'targets', 'weights')
    )
    count = float(weights.sum())
    return {
      'loss': float(sum(np.sum(o['loss']) for o in outputs)) / count,
      'mean_average_precision': average_precision.mean_average_precision(labels, logits, weights),
    }


class OgbgMotifsGeluWorkload(OgbgMotifsWorkload):
  """Variant: GELU instead of ReLU activations (its own target)."""

  name = 'ogbg_motifs_gelu'
  activation = 'gelu'
