"""What a workload is, as numbers: sizes, loss, target, budget (``workloads --json``).

Sizes come from ``jax.eval_shape`` of the workload's ``init_model_fn``: the model is
traced, never initialised, so even the half-a-billion-parameter DLRM is described in
seconds, without data and without memory.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

# The keys of one description, in the order the table shows them.
FIELDS = (
  'name',
  'base_workload',
  'num_params',
  'num_model_state',
  'loss_type',
  'target_metric_name',
  'metric_direction',
  'validation_target_value',
  'test_target_value',
  'max_allowed_runtime_sec',
  'step_hint',
  'full_scale',
)


def _count(tree) -> int:
  import jax

  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def sizes(workload) -> Dict[str, Optional[int]]:
  """``num_params`` (trainable) and ``num_model_state`` (e.g. BatchNorm statistics)."""
  import jax

  params, model_state = jax.eval_shape(workload.init_model_fn, jax.random.PRNGKey(0))
  return {'num_params': _count(params), 'num_model_state': _count(model_state)}


def describe(name: str, data_dir: Optional[str] = None) -> Dict[str, Any]:
  """One JSON-able object describing the registered workload ``name`` (see :data:`FIELDS`)."""
  from algoperf_like import registry

  workload = registry.get_workload(name, data_dir)
  c = workload.constants
  info: Dict[str, Any] = {
    'name': name,
    'base_workload': workload.algoperf_base_workload or name,
    'loss_type': workload.loss_type.name.lower(),
    'target_metric_name': c.target_metric_name,
    'metric_direction': c.metric_direction,
    'validation_target_value': c.validation_target_value,
    'test_target_value': c.test_target_value,
    'max_allowed_runtime_sec': c.max_allowed_runtime_sec,
    'step_hint': c.step_hint,
    'full_scale': name in registry.FULL_SCALE,
  }
  info.update(sizes(workload))
  return {k: info[k] for k in FIELDS}


def human_count(n: Optional[int]) -> str:
  """``25.6M``, ``1.2k``, ``0``: the size of a model at a glance."""
  if n is None:
    return '?'
  for scale, suffix in ((1e9, 'B'), (1e6, 'M'), (1e3, 'k')):
    if n >= scale:
      return f'{n / scale:.1f}{suffix}'
  return str(n)
