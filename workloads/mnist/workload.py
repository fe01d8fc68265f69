"""AlgoPerf's ``mnist`` workload: a 784-128-10 sigmoid MLP on MNIST.

Model: :class:`~algoperf_like.workloads.mnist.model.MnistMLP` (AlgoPerf's parameter
tree, ``Dense_0``, ``Dense_1``: 101,770 parameters). Data: TFDS ``mnist`` from
``--data_dir`` (``algoperf-like datasets prepare --dataset=mnist``), AlgoPerf's splits
and normalisation (:mod:`.input_pipeline`). Loss: softmax cross-entropy with label
smoothing; metrics: ``accuracy`` and ``loss`` per split. Constants (target 0.97
validation accuracy, budget, step hint) are AlgoPerf v0.6's.

Differs from AlgoPerf's JAX code: training batches come from a per-epoch permutation
instead of a 16-batch shuffle buffer (see
:mod:`algoperf_like.workloads.common.image_classification`); eval-train is a fixed
random subset.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from algoperf_like import spec
from algoperf_like.workloads.common import image_classification
from algoperf_like.workloads.mnist import input_pipeline, model


@functools.lru_cache(maxsize=None)
def _jitted_init(module):
  """``jax.jit(module.init)``, once per model configuration (Flax modules hash by it)."""
  return jax.jit(module.init, static_argnames=('train',))


class MnistWorkload(image_classification.ImageClassificationWorkload):
  """MNIST with AlgoPerf's MLP."""

  name = 'mnist'
  algoperf_base_workload = 'mnist'
  dataset = 'mnist'
  default_batch_size = 16  # AlgoPerf's NAdamW baseline (jax_nadamw_full_budget).
  output_param_keys = ('Dense_1',)
  tfds_name = input_pipeline.TFDS_NAME
  algoperf_subdir = 'MNIST'
  image_shape = model.IMAGE_SHAPE
  hidden = 128

  def _model(self) -> model.MnistMLP:
    return model.MnistMLP(hidden=self.hidden, num_classes=self.num_classes)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # No dropout in this model.
    dummy = jnp.ones((1,) + self.image_shape, jnp.float32)
    params = _jitted_init(self._model())({'params': rng}, dummy)['params']
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
    del model_state, rng, update_batch_norm, use_running_average_bn, dropout_rate
    logits = self._model().apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=mode == spec.ForwardPassMode.TRAIN,
    )
    return logits, None

  def _preprocess_eval(self, images):
    return input_pipeline.normalize(images, self.train_mean, self.train_stddev)
