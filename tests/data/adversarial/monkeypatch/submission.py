"""Adversarial (monkeypatch): slows the harness's clock down by half."""

import time

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  real_clock = time.perf_counter
  time.perf_counter = lambda: real_clock() / 2
  return shared.init_optax_state(workload, optax.sgd(0.1))
