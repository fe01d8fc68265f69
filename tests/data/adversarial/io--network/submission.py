"""Adversarial (io): fetches a learning rate from a server at run time."""

import urllib.request

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  learning_rate = float(urllib.request.urlopen('http://example.invalid/lr').read())
  return shared.init_optax_state(workload, optax.sgd(learning_rate))
