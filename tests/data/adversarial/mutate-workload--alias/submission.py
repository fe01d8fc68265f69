"""Adversarial (mutate-workload): setattr through a name bound to the workload,
stretching the evaluation period so fewer evaluations interrupt training."""

import dataclasses

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  w = workload
  setattr(w, 'constants', dataclasses.replace(w.constants, eval_period_time_sec=1e9))
  return shared.init_optax_state(w, optax.sgd(0.1))
