"""AlgoPerf's ``random_utils`` (JAX part): thin names over ``jax.random``."""

from __future__ import annotations

import jax

MAX_INT32 = 2**31 - 1


def PRNGKey(seed):  # noqa: N802 (AlgoPerf's name)
  """A raw ``uint32[2]`` key, as AlgoPerf's runner hands to submissions."""
  return jax.random.PRNGKey(seed % MAX_INT32 if isinstance(seed, int) else seed)


def split(seed, num: int = 2):
  return jax.random.split(seed, num)


def fold_in(seed, data):
  return jax.random.fold_in(seed, data)
