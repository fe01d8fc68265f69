"""Adversarial (api): update_params renames AlgoPerf's parameters, so the runner's
positional call would hand it the wrong arguments."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, optax.sgd(0.1))


def update_params(workload, params, batch, optimizer_state, rng):
  return shared.update_params(workload, params, None, None, None, batch, None,
                              optimizer_state, [], 0, rng)
