"""What AlgoPerf's own workloads at full scale share: constants, data errors, synthetic batches.

A full-scale workload reads prepared data from ``--data_dir`` (``algoperf-like datasets
prepare``), takes its targets, budgets and example counts from AlgoPerf v0.6
(``workloads/algoperf_workloads.json``), and builds its model, parameter tree and
initialisation exactly as AlgoPerf's JAX workload of the same name, so that
``param_shapes``, ``model_params_types`` and a submission keyed on them behave the same.

Every subclass can be described without data (``init_model_fn`` runs under
``jax.eval_shape``) and gives :meth:`FullScaleWorkload.synthetic_batch`, a batch of the
real shapes, for the step-time benchmark.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence

import numpy as np

from algoperf_like import spec
from algoperf_like.workloads import targets
from algoperf_like.workloads.common import params as param_utils


class DatasetMissingError(FileNotFoundError):
  """A split a workload needs is not under ``--data_dir``: one line, naming the command."""


def algoperf_constants(name: str) -> spec.WorkloadConstants:
  """AlgoPerf v0.6's constants of workload ``name``."""
  t = targets.load_algoperf_workloads()[name]
  return spec.WorkloadConstants(
    name=name,
    target_metric_name=t['target_metric_name'],
    metric_direction=t['metric_direction'],
    validation_target_value=t['validation_target_value'],
    test_target_value=t['test_target_value'],
    max_allowed_runtime_sec=t['max_allowed_runtime_sec'],
    eval_period_time_sec=t['eval_period_time_sec'],
    step_hint=t['step_hint'],
    num_train_examples=t['num_train_examples'],
    num_eval_train_examples=t['num_eval_train_examples'],
    num_validation_examples=t['num_validation_examples'],
    num_test_examples=t['num_test_examples'],
    eval_batch_size=t['eval_batch_size'],
    train_mean=t.get('train_mean', 0.0),
    train_stddev=t.get('train_stddev', 1.0),
  )


def require_path(path: str, dataset: str, data_dir: str, what: str = 'the dataset') -> str:
  """``path`` if it exists, else a one-line :class:`DatasetMissingError` naming the fix."""
  if not os.path.exists(path):
    raise DatasetMissingError(
      f'{what} is not under --data_dir={data_dir} (looked for {path}); prepare it with '
      f'`algoperf-like datasets prepare --dataset={dataset} --data_dir={data_dir}`'
    )
  return path


class FullScaleWorkload(spec.Workload):
  """Base class of AlgoPerf's workloads: constants from AlgoPerf v0.6, data from a data_dir.

  Subclasses set ``name`` (AlgoPerf's workload name), ``algoperf_base_workload``,
  ``dataset`` (the ``datasets prepare`` name), ``default_batch_size`` (the batch size of
  AlgoPerf's NAdamW baseline on this workload) and ``output_param_keys``.
  """

  name: str
  dataset: str
  output_param_keys: Sequence[str] = ()

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__()
    self.data_dir = data_dir
    self.constants = algoperf_constants(self.name)

  def is_output_params(self, param_key: spec.ParameterKey) -> bool:
    return param_key in self.output_param_keys

  def _set_param_info(self, params, param_types=None) -> None:
    """Record ``param_shapes`` and ``model_params_types`` (call from ``init_model_fn``);
    pass ``param_types`` where the name-based inference would differ from AlgoPerf's."""
    self._param_shapes = param_utils.param_shapes(params)
    self._param_types = param_types or param_utils.param_types(params)

  def _data_dir(self, data_dir: Optional[str]) -> str:
    data_dir = data_dir or self.data_dir
    if not data_dir:
      raise DatasetMissingError(
        f'{self.workload_name} reads prepared data: pass --data_dir (prepare it with '
        f'`algoperf-like datasets prepare --dataset={self.dataset} --data_dir=DIR`)'
      )
    return os.path.abspath(os.path.expanduser(data_dir))

  def synthetic_batch(self, global_batch_size: int, seed: int = 0) -> Dict[str, Any]:
    """A training batch of the real shapes and dtypes, from random numbers (no data)."""
    raise NotImplementedError(f'{type(self).__name__}.synthetic_batch')


def random_images(rng: np.random.Generator, shape, dtype=np.float32) -> np.ndarray:
  """Standard-normal pixels, as normalised images look to the model."""
  return rng.standard_normal(shape).astype(dtype)
