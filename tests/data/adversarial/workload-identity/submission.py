"""Adversarial (workload-identity): a learning rate tuned per workload by name.
Tuning for the known workloads would not carry over to held-out ones."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  if workload.workload_name == 'mnist1d':
    learning_rate = 0.3
  else:
    learning_rate = 0.01
  return shared.init_optax_state(workload, optax.sgd(learning_rate))
