"""A workload whose TFDS splits fit in memory: the data and evaluation plumbing.

Subclasses supply the dataset (a TFDS builder), the model, the loss and two
evaluation hooks; this base class serves training batches by epoch from the
prepared TFDS data, and evaluates on padded, device-resident batches.

Evaluation: ``_eval_batch(params, model_state, batch)`` (jitted here) returns
a dict of arrays for one padded batch; ``_metrics(outputs)`` turns the list
of those dicts, on the host, into scalar metrics. Summed quantities are the
common case (see :func:`sum_outputs`); ranking metrics such as mean average
precision concatenate per-example outputs instead.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Type

import jax
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads import targets
from algoperf_like.workloads.common import input_pipeline, tfds_data
from algoperf_like.workloads.common import params as param_utils

_SPLIT_OF = {'train': 'train', 'eval_train': 'train', 'validation': 'validation', 'test': 'test'}


def make_constants(
  name: str,
  split_sizes: Dict[str, int],
  eval_batch_size: int,
  num_eval_train_examples: Optional[int] = None,
) -> spec.WorkloadConstants:
  """Targets and budgets from ``workloads/targets.json``, counts from the dataset."""
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
    num_train_examples=split_sizes['train'],
    num_eval_train_examples=num_eval_train_examples or split_sizes['validation'],
    num_validation_examples=split_sizes['validation'],
    num_test_examples=split_sizes.get('test'),
    eval_batch_size=eval_batch_size,
  )


def init_params(model, rng, *dummy_inputs):
  """``model.init(rng, *dummy_inputs)['params']``, compiled once per model and input shapes.

  Eager Flax initialisation dispatches op by op (seconds for these models on a
  CPU); jitted, it costs one compilation per process, then milliseconds for
  every later trial of the same workload. Trials time no set-up, so this only
  saves wall-clock time.
  """
  return _jitted_init(model)(rng, *dummy_inputs)['params']


@functools.lru_cache(maxsize=None)
def _jitted_init(model):  # Flax modules hash and compare by their configuration.
  return jax.jit(model.init)


def sum_outputs(outputs: List[Dict[str, np.ndarray]]) -> Dict[str, float]:
  """Add up the per-batch sums of every key."""
  return {k: float(sum(np.sum(o[k]) for o in outputs)) for k in outputs[0]}


class InMemoryWorkload(spec.Workload):
  """Base class: set ``builder_cls`` and ``constants``, implement the model hooks."""

  builder_cls: Type  # A tfds.core.GeneratorBasedBuilder.
  eval_features = ('inputs', 'targets')  # Features the evaluation batches keep.
  output_param_key: str  # Top-level parameter key of the output layer.

  def is_output_params(self, param_key: spec.ParameterKey) -> bool:
    return param_key == self.output_param_key

  def _set_param_info(self, params) -> None:
    """Record ``param_shapes`` and ``model_params_types`` (call from ``init_model_fn``)."""
    self._param_shapes = param_utils.param_shapes(params)
    self._param_types = param_utils.param_types(params)

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__()
    self.data_dir = data_dir
    self._eval_cache: Dict[tuple, list] = {}

  # ----- Data. -----
  def _arrays(self, split: str, data_dir: Optional[str]) -> Dict[str, np.ndarray]:
    data_dir = data_dir or self.data_dir
    if data_dir is None:
      raise ValueError(f'{self.workload_name} needs a data_dir (--data_dir) for its TFDS data')
    return tfds_data.load_split(self.builder_cls, _SPLIT_OF[split], data_dir)

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
    del cache, repeat_final_dataset
    arrays = self._arrays(split, data_dir)
    if split == 'train':
      return input_pipeline.TrainBatches(
        arrays,
        global_batch_size,
        input_pipeline.seed_from_rng(data_rng),
        num_batches,
        place=jax_sharding_utils.place_batch,
      )
    return input_pipeline.eval_batches(arrays, global_batch_size)

  # ----- Evaluation. -----
  def _eval_batch(self, params, model_state, batch) -> Dict[str, Any]:
    """Arrays for one padded batch (``batch['weights']`` marks real examples)."""
    raise NotImplementedError

  def _metrics(self, outputs: List[Dict[str, np.ndarray]]) -> Dict[str, float]:
    """Scalar metrics from the host copies of every batch's ``_eval_batch`` output."""
    raise NotImplementedError

  @functools.partial(jax.jit, static_argnums=(0,))
  def _jitted_eval_batch(self, params, model_state, batch):
    return self._eval_batch(params, model_state, batch)

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    del global_batch_size, rng, global_step
    key = (split, num_examples, data_dir or self.data_dir)
    if key not in self._eval_cache:  # Padded device batches, built once per split.
      arrays = self._arrays(split, data_dir)
      arrays = {k: arrays[k] for k in self.eval_features}
      place = jax_sharding_utils.shard_along_batch_dim if jax.device_count() > 1 else jax.device_put
      self._eval_cache[key] = [
        place(b) for b in input_pipeline.eval_batches(arrays, self.eval_batch_size, num_examples)
      ]
    outputs = [self._jitted_eval_batch(params, model_state, b) for b in self._eval_cache[key]]
    return self._metrics(jax.device_get(outputs))
