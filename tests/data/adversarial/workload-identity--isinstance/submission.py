"""Adversarial (workload-identity): recognises the workload by its class."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params
from algoperf_like.workloads.mnist1d.workload import Mnist1dWorkload


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  learning_rate = 0.3 if isinstance(workload, Mnist1dWorkload) else 0.01
  return shared.init_optax_state(workload, optax.sgd(learning_rate))
