"""Shapes and AlgoPerf parameter types of a Flax parameter tree."""

from __future__ import annotations

import jax

from algoperf_like import spec


def param_shapes(params):
  """The tree of :class:`spec.ShapeTuple` (AlgoPerf's ``workload.param_shapes``)."""
  return jax.tree.map(lambda x: spec.ShapeTuple(x.shape), params)


def param_types(params):
  """Infer a :class:`spec.ParameterType` per leaf from Flax module and leaf names.

  ``Conv*/kernel`` is a conv weight, other ``kernel``s weights, ``bias`` biases,
  ``scale``/``bias`` under a ``*Norm*`` module the matching norm type, and
  ``embedding`` an embedding.
  """

  def leaf_type(path, _):
    names = [str(getattr(p, 'key', p)) for p in path]
    leaf, parent = names[-1], '/'.join(names[:-1]).lower()
    is_batch_norm = 'batchnorm' in parent or 'batch_norm' in parent
    is_layer_norm = 'layernorm' in parent or 'layer_norm' in parent
    if leaf == 'scale':
      return (
        spec.ParameterType.BATCH_NORM_SCALE
        if is_batch_norm
        else spec.ParameterType.LAYER_NORM_SCALE
      )
    if leaf == 'bias':
      if is_batch_norm:
        return spec.ParameterType.BATCH_NORM_BIAS
      return spec.ParameterType.LAYER_NORM_BIAS if is_layer_norm else spec.ParameterType.BIAS
    if leaf == 'embedding':
      return spec.ParameterType.EMBEDDING
    if leaf == 'kernel' and 'conv' in parent:
      return spec.ParameterType.CONV_WEIGHT
    return spec.ParameterType.WEIGHT

  return jax.tree_util.tree_map_with_path(leaf_type, params)
