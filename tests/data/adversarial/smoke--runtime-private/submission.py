"""Adversarial (smoke, at run time): reads the validation split through
``_build_input_queue``, with the workload kept in a table and the name built at run time
so that no static rule recognises either; the guarded workload stops it."""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval
from algoperf_like.submissions.shared import update_params as _update

HELD = {}
PARTS = ('_build', 'input', 'queue')


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, optax.sgd(0.01))


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
  HELD['w'] = workload
  if global_step == 2:
    getattr(HELD['w'], '_'.join(PARTS))(rng, 'validation', None, 8)
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
