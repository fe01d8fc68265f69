"""A tiny least-squares workload for fast, exact harness tests (no TFDS, no Flax).

Model ``y = x @ w + b``; loss: mean squared error; data: a fixed random
regression problem. Its evaluation can be made to take a known time.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import spec

DIM = 8


class QuadraticWorkload(spec.Workload):
  """Least squares on 512 examples; ``eval_sleep`` seconds of host work per eval."""

  def __init__(
    self,
    data_dir=None,
    eval_sleep: float = 0.0,
    target: float = 1e-3,
    budget: float = 100.0,
    eval_period: float = 1e9,
  ) -> None:
    super().__init__()
    del data_dir
    self.eval_sleep = eval_sleep
    self.constants = spec.WorkloadConstants(
      name='quadratic',
      target_metric_name='loss',
      metric_direction='min',
      validation_target_value=target,
      test_target_value=target,
      max_allowed_runtime_sec=budget,
      eval_period_time_sec=eval_period,
      step_hint=200,
      num_train_examples=512,
      num_eval_train_examples=512,
      num_validation_examples=512,
      num_test_examples=None,
      eval_batch_size=512,
    )
    rng = np.random.default_rng(0)
    self._x = rng.normal(size=(512, DIM)).astype(np.float32)
    self._w = rng.normal(size=(DIM,)).astype(np.float32)
    self._y = self._x @ self._w

  @property
  def loss_type(self):
    return spec.LossType.MEAN_SQUARED_ERROR

  def is_output_params(self, param_key):
    return True

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del rng
    params = {'dense': {'kernel': jnp.zeros((DIM,)), 'bias': jnp.zeros(())}}
    self._param_shapes = jax.tree.map(lambda x: spec.ShapeTuple(x.shape), params)
    self._param_types = {
      'dense': {'kernel': spec.ParameterType.WEIGHT, 'bias': spec.ParameterType.BIAS}
    }
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
    x = augmented_and_preprocessed_input_batch['inputs']
    return x @ params['dense']['kernel'] + params['dense']['bias'], model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    per_example = (logits_batch - label_batch) ** 2
    if mask_batch is not None:
      per_example = per_example * mask_batch
    n = per_example.shape[0] if mask_batch is None else mask_batch.sum()
    return {'summed': per_example.sum(), 'n_valid_examples': n, 'per_example': per_example}

  def _build_input_queue(
    self,
    data_rng,
    split,
    data_dir,
    global_batch_size,
    cache=None,
    repeat_final_dataset=None,
    num_batches=None,
  ):
    rng = np.random.default_rng(0)
    while True:
      idx = rng.integers(0, 512, size=global_batch_size)
      yield {
        'inputs': self._x[idx],
        'targets': self._y[idx],
        'example_id': idx,
        'weights': np.ones(global_batch_size, np.float32),
      }

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    logits, _ = self.model_fn(
      params, {'inputs': self._x}, None, spec.ForwardPassMode.EVAL, None, False
    )
    loss = float(jnp.mean((logits - self._y) ** 2))  # Waits for the parameters.
    time.sleep(self.eval_sleep)
    return {'loss': loss}
