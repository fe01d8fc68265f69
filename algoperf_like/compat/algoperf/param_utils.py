"""AlgoPerf's ``param_utils`` (JAX part): parameter shapes and types of a Flax tree."""

from __future__ import annotations

from typing import Any, Dict

import jax

from algoperf_like import spec


def jax_param_shapes(params: spec.ParameterContainer) -> spec.ParameterShapeTree:
  """The tree of :class:`spec.ShapeTuple` of ``params``."""
  return jax.tree.map(lambda x: spec.ShapeTuple(x.shape), params)


def _leaf_type(parent: str, name: str) -> spec.ParameterType:
  T = spec.ParameterType
  if 'batchnorm' in parent or 'bn' in parent:
    return T.BATCH_NORM_SCALE if name == 'scale' else T.BATCH_NORM_BIAS
  if 'layernorm' in parent or 'ln' in parent:
    return T.LAYER_NORM_SCALE if name == 'scale' else T.LAYER_NORM_BIAS
  if 'conv' in parent:
    return T.BIAS if 'bias' in name else T.CONV_WEIGHT
  if 'embedding' in name or ('embedding' in parent and name == 'kernel'):
    return T.EMBEDDING
  if 'attention' in parent:
    if name == 'bias':
      return T.ATTENTION_BIAS
    for part, kind in (('query', T.ATTENTION_Q), ('key', T.ATTENTION_K), ('value', T.ATTENTION_V)):
      if part in parent and name == 'kernel':
        return kind
    if 'out' in parent and name == 'kernel':
      return T.ATTENTION_OUT
  return T.BIAS if 'bias' in name else T.WEIGHT


def jax_param_types(param_shapes: Any, parent_name: str = '') -> Dict[str, Any]:
  """A tree of :class:`spec.ParameterType` from module and parameter names (lower case)."""
  out = {}
  for name, value in param_shapes.items():
    key = name.lower()
    if hasattr(value, 'items'):
      out[key] = jax_param_types(value, f'{parent_name}/{key}')
    else:
      out[key] = _leaf_type(parent_name, key)
  return out
