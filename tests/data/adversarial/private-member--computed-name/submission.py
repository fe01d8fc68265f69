"""Adversarial (private-member): reaches a private member through a name built at run time,
inside a helper that receives the workload through ``functools.partial``."""

import functools

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval
from algoperf_like.submissions.shared import update_params as _update


def _peek(w, split):
  return getattr(w, '_'.join(['', 'build', 'input', 'queue']))(None, split, None, 8)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, optax.sgd(0.1))


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
  peek = functools.partial(_peek, workload)
  del peek
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
