"""The ``mnist1d`` workload: a 1-D CNN classifying MNIST-1D signals.

Loss: softmax cross-entropy. Target metric: validation error rate. Data:
``algoperf_like.workloads.mnist1d.dataset.Mnist1d`` (TFDS builder, generated offline).
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
from algoperf_like.workloads.mnist1d import dataset, selection_variants
from algoperf_like.workloads.mnist1d.model import Conv1DNet


class Mnist1dWorkload(InMemoryWorkload):
  """MNIST-1D classification with :class:`Conv1DNet`."""

  name = 'mnist1d'
  algoperf_base_workload = 'mnist'
  activation = 'relu'
  builder_cls = dataset.Mnist1d
  loss_type = spec.LossType.SOFTMAX_CROSS_ENTROPY
  output_param_key = 'Dense_out'

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, self.builder_cls.SPLIT_SIZES, eval_batch_size=2000)
    self._model = Conv1DNet(num_classes=dataset.NUM_CLASSES, activation=self.activation)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The model has no dropout.
    dummy = jnp.zeros((1, dataset.SEQUENCE_LENGTH), jnp.float32)
    params = init_params(self._model, rng, dummy)
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
    logits = self._model.apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=mode == spec.ForwardPassMode.TRAIN,
    )
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return losses.softmax_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    return losses.classification_sums(batch['targets'], logits, batch['weights'])

  def _metrics(self, outputs):
    totals = sum_outputs(outputs)
    error_rate = totals['errors'] / totals['count']
    return {
      'loss': totals['loss'] / totals['count'],
      'error_rate': error_rate,
      'accuracy': 1.0 - error_rate,
    }


class Mnist1dGeluWorkload(Mnist1dWorkload):
  """Variant: GELU instead of ReLU activations (its own target)."""

  name = 'mnist1d_gelu'
  activation = 'gelu'


class Mnist1dLabelNoiseWorkload(Mnist1dWorkload):
  """Data-selection variant: 30% of the training labels are wrong (clean validation)."""

  name = 'mnist1d_label_noise'
  builder_cls = selection_variants.Mnist1dLabelNoise


class Mnist1dImbalancedWorkload(Mnist1dWorkload):
  """Data-selection variant: long-tailed training classes (balanced validation)."""

  name = 'mnist1d_imbalanced'
  builder_cls = selection_variants.Mnist1dImbalanced


class Mnist1dDuplicatesWorkload(Mnist1dWorkload):
  """Data-selection variant: 5 jittered copies of 2k unique training examples."""

  name = 'mnist1d_duplicates'
  builder_cls = selection_variants.Mnist1dDuplicates
