"""Adversarial (smoke): statically clean, but update_params hands back the parameters
in bfloat16 (to "save memory"), which changes the state the harness evaluates."""

import jax
import jax.numpy as jnp
import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, optax.sgd(0.1))


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type, optimizer_state,
                  eval_results, global_step, rng, train_state=None):
  optimizer_state, params, model_state = shared.update_params(
      workload, current_param_container, current_params_types, model_state,
      hyperparameters, batch, loss_type, optimizer_state, eval_results, global_step,
      rng, train_state)
  return optimizer_state, jax.tree.map(lambda p: p.astype(jnp.bfloat16), params), model_state
