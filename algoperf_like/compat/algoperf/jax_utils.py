"""AlgoPerf's ``jax_utils``: a Dropout whose rate is a call argument, a model summary."""

from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp


class Dropout(nn.Module):
  """Dropout with the rate given at call time (so it may be traced, as AlgoPerf's
  workloads pass ``dropout_rate`` to ``model_fn``).

  Attributes:
    rate: the default drop probability, used when the call gives none.
    broadcast_dims: dimensions along which the same mask is shared.
    deterministic: the default of the call's ``deterministic``.
    rng_collection: the RNG stream the mask is drawn from.
  """

  rate: float = 0.0
  broadcast_dims: tuple = ()
  deterministic: Optional[bool] = None
  rng_collection: str = 'dropout'

  @nn.compact
  def __call__(self, inputs, deterministic: Optional[bool] = None, rate: Any = None):
    deterministic = nn.merge_param('deterministic', self.deterministic, deterministic)
    rate = self.rate if rate is None else rate
    if deterministic or (isinstance(rate, (int, float)) and rate == 0.0):
      return inputs
    keep = 1.0 - rate
    shape = list(inputs.shape)
    for dim in self.broadcast_dims:
      shape[dim] = 1
    mask = jax.random.bernoulli(self.make_rng(self.rng_collection), keep, shape)
    mask = jnp.broadcast_to(mask, inputs.shape)
    # A rate of 1 drops everything (no division by zero).
    scaled = inputs / jnp.where(keep > 0.0, keep, 1.0)
    return jnp.where(mask, scaled, jnp.zeros_like(inputs))


def print_jax_model_summary(model: nn.Module, fake_inputs: Any) -> None:
  """Print flax's table of the modules of ``model`` applied to ``fake_inputs``."""
  print(nn.tabulate(model, jax.random.PRNGKey(0))(fake_inputs, train=False))
