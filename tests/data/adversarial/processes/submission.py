"""Adversarial (processes): a background thread keeps working between the timed
calls (e.g. precomputing statistics), so its work escapes the clock."""

import threading

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def _precompute(workload):
  del workload  # A real attack would do useful work here, untimed.


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  threading.Thread(target=_precompute, args=(workload,), daemon=True).start()
  return shared.init_optax_state(workload, optax.sgd(0.1))
