"""Per-step random keys, derived deterministically from the trial seed.

Step ``t`` uses ``split(fold_in(key, t), 4)`` -> (data selection, update,
prepare-for-eval, eval) keys. Keys are computed on the host in chunks with
one jitted call, so the timed loop pays no per-step JAX dispatch for them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

CHUNK = 1024


@functools.partial(jax.jit, static_argnums=(2,))
def _chunk_keys(key, start, size):
  steps = start + jnp.arange(size, dtype=jnp.uint32)
  return jax.vmap(lambda t: jax.random.split(jax.random.fold_in(key, t), 4))(steps)


class StepKeys:
  """``keys.at(step)`` -> four raw uint32[2] keys for that step (numpy)."""

  def __init__(self, key) -> None:
    self._key = key
    self._start = -CHUNK
    self._chunk = None

  def at(self, step: int) -> np.ndarray:
    if not self._start <= step < self._start + CHUNK:
      self._start = step - step % CHUNK
      self._chunk = np.asarray(_chunk_keys(self._key, np.uint32(self._start), CHUNK))
    return self._chunk[step - self._start]
