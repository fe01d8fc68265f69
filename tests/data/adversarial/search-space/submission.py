"""Adversarial (search-space): a clean submission whose search space is invalid
(log scaling from 0), checked under the external ruleset."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  return shared.init_optax_state(workload, optax.sgd(hyperparameters.learning_rate))
