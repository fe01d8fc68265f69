"""Adversarial (private-member): trains on validation batches from a second input queue.

The one workload method AlgoPerf forbids a submission to call, reached through an
alias of the workload.
"""

import jax

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval
from algoperf_like.submissions.shared import update_params as _update


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
  same = workload
  queue = same._build_input_queue(jax.random.PRNGKey(0), 'validation', None, 8)
  return _update(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    next(queue),
    loss_type,
    optimizer_state,
    eval_results,
    global_step,
    rng,
  )
