"""Template for a new submission: copy this folder and fill in the five functions.

This template is a working plain-SGD submission so that a copy runs at once:
``algoperf-like run --workload=mnist1d --submission_path=template
--tuning_search_space=tuning_search_space.json`` (or the path of your copy's folder).

The API is AlgoPerf's (v0.6, JAX). An AlgoPerf JAX submission runs here after
replacing ``from algoperf import spec`` by ``from algoperf_like import spec``.
The harness times ``data_selection`` + ``update_params`` (+ ``prepare_for_eval``);
evaluation is untimed. JIT-compile your step once (cache it at module level)
rather than on every call: compilation counts as submission time.
"""

import functools

import jax
import optax

from algoperf_like import spec


def get_batch_size(workload_name):
  """Global batch size for a workload (may depend on the workload's name)."""
  del workload_name
  return 128


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  """Build the optimizer state from the workload and this trial's hyperparameters."""
  del model_state, rng
  tx = optax.sgd(hyperparameters.learning_rate)
  return {'opt_state': tx.init(model_params), 'tx': tx}


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train_step(workload, tx, opt_state, params, model_state, batch, rng):
  def loss_of(p):
    logits, new_state = workload.model_fn(
      p, batch, model_state, spec.ForwardPassMode.TRAIN, rng, update_batch_norm=True
    )
    out = workload.loss_fn(batch['targets'], logits, batch.get('weights'))
    return out['summed'] / out['n_valid_examples'], new_state

  (_, new_state), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
  updates, opt_state = tx.update(grads, opt_state, params)
  return opt_state, optax.apply_updates(params, updates), new_state


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
  train_state=None,
):
  """One training step. ``train_state`` (read-only) has the clock: see the README."""
  del current_params_types, hyperparameters, loss_type, eval_results, global_step
  del train_state
  tx = optimizer_state['tx']
  opt_state, params, model_state = _train_step(
    workload, tx, optimizer_state['opt_state'], current_param_container, model_state, batch, rng
  )
  return {'opt_state': opt_state, 'tx': tx}, params, model_state


def prepare_for_eval(
  workload,
  current_param_container,
  current_params_types,
  model_state,
  hyperparameters,
  loss_type,
  optimizer_state,
  eval_results,
  global_step,
  rng,
):
  """Optional: e.g. swap in averaged weights before the (untimed) evaluation."""
  del workload, current_params_types, hyperparameters, loss_type, eval_results
  del global_step, rng
  return optimizer_state, current_param_container, model_state


def data_selection(
  workload,
  input_queue,
  optimizer_state,
  current_param_container,
  model_state,
  hyperparameters,
  global_step,
  rng,
):
  """Choose the batch to train on; by default the next one from the queue."""
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
