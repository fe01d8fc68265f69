"""Adversarial (monkeypatch): disables jit for everyone, e.g. to slow down the
harness's (untimed) evaluation or to change numerics."""

import jax
import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  jax.config.update('jax_disable_jit', True)
  return shared.init_optax_state(workload, optax.sgd(0.1))
