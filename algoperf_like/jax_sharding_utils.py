"""Data-parallel sharding over all local devices (AlgoPerf's ``jax_sharding_utils`` names).

One mesh axis, ``batch``, spans every device: batches are split along their
first dimension, parameters and optimizer state are replicated, and ``jax.jit``
partitions the computation from those shardings. On one device all of this
is a no-op, so the same workload and submission code runs anywhere.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def get_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), ('batch',))


def get_replicate_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec())


def get_batch_dim_sharding() -> NamedSharding:
  return NamedSharding(get_mesh(), PartitionSpec('batch'))


def shard_along_batch_dim(tree: Any) -> Any:
  """Place every array of ``tree`` split along axis 0 over the devices."""
  return jax.device_put(tree, get_batch_dim_sharding())


def replicate(tree: Any) -> Any:
  """Place a full copy of every array of ``tree`` on every device."""
  return jax.device_put(tree, get_replicate_sharding())


def place_batch(tree: Any) -> Any:
  """Shard a batch over the devices when there are several; else leave it on the host."""
  return shard_along_batch_dim(tree) if jax.device_count() > 1 else tree
