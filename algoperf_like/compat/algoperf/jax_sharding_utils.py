"""AlgoPerf's ``jax_sharding_utils``: the harness's data-parallel sharding helpers."""

from __future__ import annotations

import jax

from algoperf_like.jax_sharding_utils import (  # noqa: F401
  get_batch_dim_sharding,
  get_mesh,
  get_replicate_sharding,
  place_batch,
  replicate,
  shard_along_batch_dim,
)


def display_shard_info(x: jax.Array) -> None:
  """Print where each shard of ``x`` lives."""
  for shard in x.addressable_shards:
    print(f'device {shard.device}: index {shard.index}, shape {shard.data.shape}')
