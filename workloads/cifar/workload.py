"""AlgoPerf's ``cifar`` workload: ResNet-18 (CIFAR stem) on CIFAR-10.

Model: :class:`~algoperf_like.workloads.cifar.model.CifarResNet` (AlgoPerf's
parameter tree and initialisation). Data: TFDS ``cifar10:3.0.2`` from ``--data_dir``
(``algoperf-like datasets prepare --dataset=cifar``), AlgoPerf's splits, train-time
random crop and flip (:mod:`.input_pipeline`). Loss: softmax cross-entropy with label
smoothing; metrics: ``accuracy`` and ``loss`` per split. Constants (target 0.85
validation accuracy, budget, step hint) are AlgoPerf v0.6's.

Differs from AlgoPerf's JAX code, on purpose:

- The model state is ``{'batch_stats': ...}``, and ``model_fn`` with
  ``update_batch_norm=True`` returns the updated statistics. AlgoPerf's JAX
  ``init_model_fn`` returns a copy of the parameters as model state, so the running
  statistics are lost and evaluation uses whatever that leaves; here evaluation uses
  the running averages, as batch norm intends.
- Training batches come from a per-epoch permutation instead of a 16-batch shuffle
  buffer; eval-train is a fixed random subset (see
  :mod:`algoperf_like.workloads.common.image_classification`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax.core import pop

from algoperf_like.workloads.cifar import input_pipeline, model
from algoperf_like.workloads.common import image_classification


@functools.lru_cache(maxsize=None)
def _jitted_init(module):
  """``jax.jit(module.init)``, once per model configuration (Flax modules hash by it)."""
  return jax.jit(module.init, static_argnames=('train',))


class CifarWorkload(image_classification.ImageClassificationWorkload):
  """CIFAR-10 with AlgoPerf's ResNet-18."""

  name = 'cifar'
  algoperf_base_workload = 'cifar'
  dataset = 'cifar'
  # AlgoPerf's NAdamW baseline has no cifar entry; its development CIFAR submission
  # (algorithms/development_algorithms/cifar) uses 128, as the baselines here do.
  default_batch_size = 128
  output_param_keys = ('Dense_0',)
  tfds_name = input_pipeline.TFDS_NAME
  algoperf_subdir = 'cifar10'
  image_shape = (32, 32, 3)
  num_filters = 64
  stage_sizes = (2, 2, 2, 2)

  def _model(self) -> model.CifarResNet:
    return model.CifarResNet(
      stage_sizes=self.stage_sizes, num_classes=self.num_classes, num_filters=self.num_filters
    )

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # No dropout in this model.
    dummy = jnp.ones((1,) + self.image_shape, jnp.float32)
    variables = _jitted_init(self._model())({'params': rng}, dummy)
    model_state, params = pop(variables, 'params')
    self._set_param_info(params)
    return params, dict(model_state)

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
    del mode, rng, dropout_rate
    variables = {'params': params, **model_state}
    inputs = augmented_and_preprocessed_input_batch['inputs']
    if update_batch_norm:
      logits, new_state = self._model().apply(
        variables,
        inputs,
        update_batch_norm=True,
        use_running_average_bn=use_running_average_bn,
        mutable=['batch_stats'],
      )
      return logits, dict(new_state)
    logits = self._model().apply(
      variables, inputs, update_batch_norm=False, use_running_average_bn=use_running_average_bn
    )
    return logits, model_state

  def _preprocess_eval(self, images):
    return input_pipeline.normalize(images, self.train_mean, self.train_stddev)

  def _preprocess_train(self, images, rng):
    return self._preprocess_eval(input_pipeline.random_crop_and_flip(images, rng))
