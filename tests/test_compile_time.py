"""Compile seconds by trial phase, from JAX's compilation events."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from algoperf_like import compile_time


def test_compilation_is_counted_in_the_phase_that_triggers_it():
  log = compile_time.CompileLog().start()
  try:
    log.enter('submission')

    @jax.jit
    def step(x):
      return jnp.sin(x) * 3.0 + 1.0

    step(jnp.ones(7)).block_until_ready()
    log.mark_eval()
    after_first = log.seconds[('compile', 'submission')]
    step(jnp.ones(7)).block_until_ready()  # Cached: no new compilation.
    log.mark_eval()
    log.enter('eval')

    @jax.jit
    def evaluate(x):
      return jnp.cos(x).sum()

    evaluate(jnp.ones(5)).block_until_ready()
  finally:
    log.stop()
  assert after_first > 0 and log.events['submission'] >= 1  # Eager jnp.ones compiles too.
  assert log.seconds[('compile', 'submission')] == after_first
  assert log.seconds[('compile', 'eval')] > 0
  assert log.seconds[('compile', 'setup')] == 0
  summary = log.summary(target_eval=1)
  assert summary['submission_compile_s_at_eval'] == [round(after_first, 6)] * 2
  assert summary['submission_compile_s_at_target'] == round(after_first, 6)
  assert log.summary(None)['submission_compile_s_at_target'] is None


def test_a_stopped_log_counts_nothing_and_phases_are_checked():
  log = compile_time.CompileLog().start()
  log.stop()

  @jax.jit
  def f(x):
    return x * 7.0 - 2.0

  f(jnp.ones(3)).block_until_ready()
  assert sum(log.seconds.values()) == 0
  with pytest.raises(ValueError, match='unknown phase'):
    log.enter('lunch')
