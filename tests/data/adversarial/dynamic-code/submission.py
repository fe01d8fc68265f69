"""Adversarial (dynamic-code): hides a clock patch in a string and a dynamic import,
out of sight of the rules that read the source."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params

_PATCH = "lambda m: setattr(m, 'perf_counter', lambda: 0.0)"


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  eval(_PATCH)(__import__('ti' + 'me'))
  return shared.init_optax_state(workload, optax.sgd(0.1))
