"""The ``mnist1d`` workload: a 1-D CNN classifying MNIST-1D signals.

Loss: softmax cross-entropy. Target metric: validation error rate. Data:
``workloads.mnist1d.dataset.Mnist1d`` (TFDS builder, generated offline).
"""

from __future__ import annotations

import functools
from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import spec
from workloads import targets
from workloads.common import input_pipeline, losses, params as param_utils, tfds_data
from workloads.mnist1d import dataset
from workloads.mnist1d.model import Conv1DNet

_EVAL_BATCH_SIZE = 2000
_SPLIT_OF = {'train': 'train', 'eval_train': 'train', 'validation': 'validation',
             'test': 'test'}


def make_constants(name: str) -> spec.WorkloadConstants:
  t = targets.workload_targets(name)
  return spec.WorkloadConstants(
      name=name,
      target_metric_name=t['target_metric_name'],
      metric_direction=t['metric_direction'],
      validation_target_value=t['validation_target_value'],
      test_target_value=t['test_target_value'],
      max_allowed_runtime_sec=t['max_allowed_runtime_sec'],
      eval_period_time_sec=t['eval_period_time_sec'],
      step_hint=t['step_hint'],
      num_train_examples=dataset.SPLIT_SIZES['train'],
      num_eval_train_examples=dataset.SPLIT_SIZES['validation'],
      num_validation_examples=dataset.SPLIT_SIZES['validation'],
      num_test_examples=dataset.SPLIT_SIZES['test'],
      eval_batch_size=_EVAL_BATCH_SIZE,
  )


class Mnist1dWorkload(spec.Workload):
  """MNIST-1D classification with :class:`Conv1DNet`."""

  name = 'mnist1d'
  activation = 'relu'

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__()
    self.constants = make_constants(self.name)
    self.data_dir = data_dir
    self._model = Conv1DNet(num_classes=dataset.NUM_CLASSES, activation=self.activation)
    self._eval_cache: Dict[tuple, list] = {}

  @property
  def loss_type(self) -> spec.LossType:
    return spec.LossType.SOFTMAX_CROSS_ENTROPY

  def is_output_params(self, param_key: spec.ParameterKey) -> bool:
    return param_key == 'Dense_out'

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The model has no dropout.
    dummy = jnp.zeros((1, dataset.SEQUENCE_LENGTH), jnp.float32)
    params = self._model.init(rng, dummy)['params']
    self._param_shapes = param_utils.param_shapes(params)
    self._param_types = param_utils.param_types(params)
    return params, None

  def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state,
               mode, rng, update_batch_norm, use_running_average_bn=None,
               dropout_rate=None):
    del rng, update_batch_norm, use_running_average_bn, dropout_rate
    logits = self._model.apply({'params': params},
                               augmented_and_preprocessed_input_batch['inputs'],
                               train=mode == spec.ForwardPassMode.TRAIN)
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return losses.softmax_cross_entropy(label_batch, logits_batch, mask_batch,
                                        label_smoothing)

  # ----- Data. -----
  def _arrays(self, split: str, data_dir: Optional[str]) -> Dict[str, np.ndarray]:
    data_dir = data_dir or self.data_dir
    if data_dir is None:
      raise ValueError('mnist1d needs a data_dir (--data_dir) to prepare and read its TFDS data')
    return tfds_data.load_split(dataset.Mnist1d, _SPLIT_OF[split], data_dir)

  def _build_input_queue(self, data_rng, split, data_dir, global_batch_size,
                         cache=None, repeat_final_dataset=None, num_batches=None):
    del cache, repeat_final_dataset
    arrays = self._arrays(split, data_dir)
    if split == 'train':
      return input_pipeline.TrainBatches(arrays, global_batch_size,
                                         input_pipeline.seed_from_rng(data_rng), num_batches)
    return input_pipeline.eval_batches(arrays, global_batch_size)

  # ----- Evaluation. -----
  @functools.partial(jax.jit, static_argnums=(0,))
  def _eval_batch(self, params, batch):
    logits, _ = self.model_fn(params, batch, None, spec.ForwardPassMode.EVAL,
                              None, update_batch_norm=False)
    return losses.classification_sums(batch['targets'], logits, batch['weights'])

  def _eval_model_on_split(self, split, num_examples, global_batch_size, params,
                           model_state, rng, data_dir, global_step=0):
    del global_batch_size, model_state, rng, global_step
    key = (split, num_examples, data_dir or self.data_dir)
    if key not in self._eval_cache:  # Padded device batches, built once per split.
      arrays = self._arrays(split, data_dir)
      arrays = {k: arrays[k] for k in ('inputs', 'targets')}
      self._eval_cache[key] = [jax.device_put(b) for b in input_pipeline.eval_batches(
          arrays, self.eval_batch_size, num_examples)]
    totals = None
    for batch in self._eval_cache[key]:
      sums = self._eval_batch(params, batch)
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    totals = jax.device_get(totals)
    count = float(totals['count'])
    return {'loss': float(totals['loss']) / count,
            'error_rate': float(totals['errors']) / count,
            'accuracy': 1.0 - float(totals['errors']) / count}
