"""AlgoPerf's ``random_utils`` (JAX part): thin names over ``jax.random``.

Seeds may be negative or beyond 32 bits (AlgoPerf's runner draws them as signed
int32s): they are mapped onto the unsigned 32-bit range first.
"""

from __future__ import annotations

import jax

MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)


def _unsigned(seed):
  """A Python int seed as a non-negative 32-bit value (arrays pass through)."""
  return seed % 2**32 if isinstance(seed, int) else seed


def PRNGKey(seed):  # noqa: N802 (AlgoPerf's name)
  """A raw ``uint32[2]`` key, as AlgoPerf's runner hands to submissions."""
  return jax.random.PRNGKey(_unsigned(seed))


def split(seed, num: int = 2):
  """``num`` new keys from the key ``seed``."""
  return jax.random.split(seed, num)


def fold_in(seed, data):
  """The key ``seed`` folded with the integer ``data`` (a step, a worker index)."""
  return jax.random.fold_in(seed, _unsigned(data))
