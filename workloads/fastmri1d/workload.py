"""The ``fastmri1d`` workload: a 1-D U-Net reconstructs undersampled MNIST-1D signals.

A CPU-sized analogue of AlgoPerf's fastMRI: L1 loss, target metric validation
SSIM (max). Data: ``algoperf_like.workloads.fastmri1d.dataset.Fastmri1d`` (TFDS builder,
generated offline).
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from algoperf_like import spec
from algoperf_like.workloads.common import losses, metrics
from algoperf_like.workloads.common.in_memory import (
  InMemoryWorkload,
  init_params,
  make_constants,
  sum_outputs,
)
from algoperf_like.workloads.fastmri1d import dataset
from algoperf_like.workloads.fastmri1d.model import UNet1D


class Fastmri1dWorkload(InMemoryWorkload):
  """Reconstruction with :class:`UNet1D` (leaky ReLU, no norm, residual output)."""

  name = 'fastmri1d'
  algoperf_base_workload = 'fastmri'
  activation = 'leaky_relu'
  builder_cls = dataset.Fastmri1d
  loss_type = spec.LossType.MEAN_ABSOLUTE_ERROR
  output_param_key = 'Conv_out'
  eval_features = ('inputs', 'targets', 'data_range')

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, dataset.SPLIT_SIZES, eval_batch_size=1000)
    self._model = UNet1D(activation=self.activation)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # Dropout comes through model_fn.
    dummy = jnp.zeros((1, dataset.SIGNAL_LENGTH), jnp.float32)
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
    del update_batch_norm, use_running_average_bn
    train = mode == spec.ForwardPassMode.TRAIN
    rngs = {'dropout': rng} if train and dropout_rate else None
    outputs = self._model.apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=train,
      dropout_rate=dropout_rate,
      rngs=rngs,
    )
    return outputs, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    del label_smoothing  # Not defined for a regression loss.
    return losses.mean_absolute_error(label_batch, logits_batch, mask_batch)

  def _eval_batch(self, params, model_state, batch):
    outputs, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    weights = batch['weights']
    loss = losses.mean_absolute_error(batch['targets'], outputs, weights)
    # Padding rows are all zero (data range 0): keep SSIM finite there, then mask it.
    data_range = jnp.where(weights > 0, batch['data_range'], 1.0)
    ssim = metrics.ssim_1d(outputs, batch['targets'], data_range)
    return {'loss': loss['summed'], 'ssim': jnp.sum(ssim * weights), 'count': weights.sum()}

  def _metrics(self, outputs):
    totals = sum_outputs(outputs)
    return {'loss': totals['loss'] / totals['count'], 'ssim': totals['ssim'] / totals['count']}


class Fastmri1dTanhWorkload(Fastmri1dWorkload):
  """Variant: tanh instead of leaky ReLU activations (as AlgoPerf's ``fastmri_tanh``)."""

  name = 'fastmri1d_tanh'
  activation = 'tanh'
