"""Adversarial (smoke, at run time): slows its own clock by replacing ``time.perf_counter``
through a module held in a list, which no static rule recognises as a module; the
run-time integrity checks stop it after the call."""

import time

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval
from algoperf_like.submissions.shared import update_params as _update

MODULES = [time]
NAME = 'perf' + '_counter'


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, optax.sgd(0.01))


def _slow():
  return 0.0


def update_params(
  workload,
  current_param_container,
  current_params_types,
  model_state,
  hyperparameters,
  batch,
  loss_type,
  optimizer_state,
  eval_results,
  global_step,
  rng,
):
  if global_step == 2:
    setattr(MODULES[0], NAME, _slow)
  return _update(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    batch,
    loss_type,
    optimizer_state,
    eval_results,
    global_step,
    rng,
  )
