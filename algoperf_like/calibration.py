"""A calibration workload: how fast this machine runs a fixed small training step, now.

In the manner of "No Train No Gain" (Kaddour et al., 2023), which expresses training
budgets in the time of a reference system: the same fixed computation is timed on
every machine, and a time measured there is scaled by ``reference seconds /
this machine's seconds`` into reference-system seconds
(:mod:`algoperf_like.scoring.calibration`). The computation is an MLP's
forward/backward and SGD update (jitted once, compiled before timing) on fixed
data, looped ``steps`` times per repeat; the record keeps every repeat, its
median (the calibration) and the repeats' coefficient of variation (its own
noise). It is small (well under a second per repeat on 2 CPU cores), so it can be
run before and after every trial.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Dict

WIDTH = 256
BATCH = 128
LAYERS = 3


def calibrate(steps: int = 100, repeats: int = 5, seed: int = 0) -> Dict[str, Any]:
  """Time ``repeats`` loops of ``steps`` training steps; returns the calibration record.

  Returns:
    ``{'seconds': median seconds per loop, 'repeats_s': [...], 'cv': ...,
    'steps': ..., 'workload': ..., 'hardware_class': ..., 'time': ...}``.
  """
  import jax
  import jax.numpy as jnp

  from algoperf_like import environment

  if steps < 1 or repeats < 1:
    raise ValueError(f'need steps >= 1 and repeats >= 1, got {steps} and {repeats}')
  key = jax.random.PRNGKey(seed)
  keys = jax.random.split(key, LAYERS + 2)
  params = [jax.random.normal(k, (WIDTH, WIDTH)) / WIDTH**0.5 for k in keys[:LAYERS]]
  x = jax.random.normal(keys[-2], (BATCH, WIDTH))
  y = jax.random.normal(keys[-1], (BATCH, WIDTH))

  def loss(ps, x, y):
    h = x
    for w in ps[:-1]:
      h = jnp.tanh(h @ w)
    return jnp.mean((h @ ps[-1] - y) ** 2)

  @jax.jit
  def step(ps, x, y):
    grads = jax.grad(loss)(ps, x, y)
    return [w - 0.01 * g for w, g in zip(ps, grads)]

  jax.block_until_ready(step(params, x, y))  # Compile, untimed.
  times = []
  for _ in range(repeats):
    ps = params
    start = time.perf_counter()
    for _ in range(steps):
      ps = step(ps, x, y)
    jax.block_until_ready(ps)
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  cv = statistics.stdev(times) / statistics.mean(times) if len(times) > 1 else 0.0
  meta = environment.fingerprint()
  return {
    'workload': f'mlp {LAYERS}x{WIDTH}, batch {BATCH}, SGD, {steps} steps per repeat',
    'steps': steps,
    'seconds': median,
    'repeats_s': times,
    'cv': cv,
    'hardware_class': meta['hardware_class'],
    'time': time.time(),
    'load_1m': os.getloadavg()[0] if hasattr(os, 'getloadavg') else None,
  }
