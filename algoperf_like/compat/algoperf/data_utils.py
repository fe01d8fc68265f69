"""AlgoPerf's ``data_utils`` (JAX part): pad a host batch and split it over local devices."""

from __future__ import annotations

from typing import Any, Dict, Optional

import jax
import numpy as np


def pad(tensor: np.ndarray, pad_size: int, padding_value: float = 0.0) -> np.ndarray:
  """Append ``pad_size`` rows of ``padding_value`` along axis 0."""
  if pad_size <= 0:
    return tensor
  rows = np.full((pad_size,) + tensor.shape[1:], padding_value, dtype=tensor.dtype)
  return np.concatenate([tensor, rows], axis=0)


def shard(batch: Any) -> Any:
  """Reshape every array to ``(local_devices, per_device, ...)`` (the pmap layout)."""
  n = jax.local_device_count()
  return jax.tree.map(lambda x: x.reshape((n, -1) + x.shape[1:]), batch)


def shard_and_maybe_pad_np(
  batch: Dict[str, Any], padding_value: float = 0.0, global_batch_size: Optional[int] = None
) -> Dict[str, Any]:
  """Pad ``batch`` to ``global_batch_size`` (or a multiple of the devices), add ``weights``
  when it pads, and reshape to ``(local_devices, per_device, ...)``."""
  n = jax.local_device_count()
  size = len(next(iter(batch.values())))
  target = global_batch_size or -(-size // n) * n
  batch = dict(batch)
  if target > size and 'weights' not in batch:
    batch['weights'] = np.ones((size,), np.float32)
  out = {}
  for key, value in batch.items():
    value = np.asarray(value)
    value = pad(value, target - size, 0.0 if key == 'weights' else padding_value)
    out[key] = value.reshape((n, -1) + value.shape[1:])
  return out


def cycle(iterable, keys=('inputs', 'targets'), custom_sampler=False, use_mixup=False, **_):
  """Iterate over ``iterable`` again and again; items that are tuples become dicts with
  ``keys`` (as AlgoPerf's PyTorch pipelines yield them). ``custom_sampler`` and mixup
  are PyTorch-only: refused."""
  if custom_sampler or use_mixup:
    raise NotImplementedError(
      'algoperf.data_utils.cycle: custom samplers and mixup are PyTorch only'
    )
  while True:
    for item in iterable:
      yield dict(zip(keys, item)) if isinstance(item, (tuple, list)) else item
