"""Adversarial (mutate-workload): gives itself a bigger time budget by replacing the
workload's constants."""

import dataclasses

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  workload.constants = dataclasses.replace(workload.constants,
                                           max_allowed_runtime_sec=1e9)
  return shared.init_optax_state(workload, optax.sgd(0.1))
