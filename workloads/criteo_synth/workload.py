"""The ``criteo_synth`` workload: a small DLRM predicts clicks on synthetic logs.

Like AlgoPerf's ``criteo1tb``: binary click-through prediction from dense and
categorical features. Loss: sigmoid cross-entropy. Target metric: validation
log loss (``loss``, minimised). Data: ``algoperf_like.workloads.criteo_synth.dataset.CriteoSynth``
(TFDS builder, generated offline from a known logistic model); a batch has
``inputs`` (dense features) and ``categorical`` (value ids per field).
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from algoperf_like import spec
from algoperf_like.workloads.common import losses
from algoperf_like.workloads.common.in_memory import (
  InMemoryWorkload,
  init_params,
  make_constants,
  sum_outputs,
)
from algoperf_like.workloads.criteo_synth import dataset
from algoperf_like.workloads.criteo_synth.model import SmallDlrm


class CriteoSynthWorkload(InMemoryWorkload):
  """Click-through prediction with :class:`SmallDlrm`."""

  name = 'criteo_synth'
  algoperf_base_workload = 'criteo1tb'
  layer_norm = False
  embed_dim = 8
  builder_cls = dataset.CriteoSynth
  loss_type = spec.LossType.SIGMOID_CROSS_ENTROPY
  output_param_key = 'Dense_out'
  eval_features = ('inputs', 'categorical', 'targets')

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, dataset.SPLIT_SIZES, eval_batch_size=5000)
    self._model = SmallDlrm(
      vocab_sizes=dataset.VOCAB_SIZES, embed_dim=self.embed_dim, layer_norm=self.layer_norm
    )

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The model has no dropout.
    params = init_params(
      self._model,
      rng,
      jnp.zeros((1, dataset.NUM_DENSE), jnp.float32),
      jnp.zeros((1, dataset.NUM_CATEGORICAL), jnp.int32),
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
    """Logits of shape ``[B, 1]`` (as AlgoPerf's criteo1tb)."""
    del rng, update_batch_norm, use_running_average_bn, dropout_rate
    batch = augmented_and_preprocessed_input_batch
    logits = self._model.apply(
      {'params': params},
      batch['inputs'],
      batch['categorical'],
      train=mode == spec.ForwardPassMode.TRAIN,
    )
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    """Per-example sigmoid cross-entropy of the click label (targets ``[B]``)."""
    return losses.sigmoid_cross_entropy(
      label_batch, logits_batch.reshape(label_batch.shape), mask_batch, label_smoothing
    )

  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    logits = logits.reshape(batch['targets'].shape)
    loss = self.loss_fn(batch['targets'], logits, batch['weights'])
    wrong = ((logits > 0) != (batch['targets'] > 0.5)).astype(jnp.float32) * batch['weights']
    return {'loss': loss['summed'], 'errors': wrong.sum(), 'count': batch['weights'].sum()}

  def _metrics(self, outputs):
    totals = sum_outputs(outputs)
    return {
      'loss': totals['loss'] / totals['count'],
      'error_rate': totals['errors'] / totals['count'],
    }


class CriteoSynthLayerNormWorkload(CriteoSynthWorkload):
  """Variant: layer norm after every hidden layer of both MLPs (as criteo1tb_layernorm)."""

  name = 'criteo_synth_layernorm'
  layer_norm = True
