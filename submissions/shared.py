"""What the baselines share: learning-rate schedules and one jitted train step.

A baseline is an optax ``GradientTransformation`` plus AlgoPerf's five
functions; the five functions are thin because the train step lives here,
jitted once per (workload, optimizer) and reused on every step.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algoperf_like import spec

# Global batch sizes per workload (AlgoPerf's NAdamW baseline values for its workloads).
BATCH_SIZES = {
  'mnist1d': 128,
  'mnist': 16,
  'cifar': 128,
  'imagenet_resnet_silu': 512,
  'imagenet_resnet_gelu': 512,
  'scan_transformer': 64,
  'scan_transformer_post_ln': 64,
  'criteo1tb': 262_144,
  'fastmri': 32,
  'imagenet_resnet': 1024,
  'imagenet_vit': 1024,
  'librispeech_conformer': 256,
  'librispeech_deepspeech': 256,
  'ogbg': 512,
  'wmt': 128,
  'finewebedu_lm': 64,
}
DEFAULT_BATCH_SIZE = 128
LOG_EVERY_STEPS = 100  # The baselines log loss and grad_norm to measurements.csv this often.


def batch_size_for(workload_name: str) -> int:
  """The baselines' global batch size for a workload (default 128 for CPU workloads).

  AlgoPerf's variants not listed take their base workload's, as AlgoPerf's runner
  retries a variant's name with its base name.
  """
  from algoperf_like.workloads import targets

  base = targets.load_algoperf_workloads().get(workload_name, {}).get('base_workload')
  base = base or workload_name.split('_variant')[0]
  return BATCH_SIZES.get(workload_name, BATCH_SIZES.get(base, DEFAULT_BATCH_SIZE))


def warmup_cosine_decay(
  step_hint: int, learning_rate: float, warmup_factor: float
) -> optax.Schedule:
  r"""Linear warm-up to ``learning_rate``, then cosine decay to 0 at ``step_hint``.

  .. math::
    \eta_t = \begin{cases} \eta\, t / w & t < w \\
    \tfrac{\eta}{2}\,\bigl(1 + \cos(\pi\,(t-w)/(T-w))\bigr) & w \le t \le T \end{cases}
    \qquad w = \lfloor \text{warmup\_factor}\cdot T \rfloor,\ T = \text{step\_hint}
  """
  warmup_steps = int(warmup_factor * step_hint)
  warmup = optax.linear_schedule(0.0, learning_rate, max(warmup_steps, 1))
  cosine = optax.cosine_decay_schedule(learning_rate, max(step_hint - warmup_steps, 1))
  return optax.join_schedules([warmup, cosine], [warmup_steps])


def warmup_linear_decay(
  step_hint: int,
  learning_rate: float,
  warmup_factor: float,
  decay_steps_factor: float,
  end_factor: float,
) -> optax.Schedule:
  r"""Linear warm-up, then linear decay to ``end_factor * learning_rate``.

  The decay ends at step ``decay_steps_factor * step_hint`` and the rate stays
  there (AlgoPerf's momentum and Nesterov baselines).
  """
  warmup_steps = int(warmup_factor * step_hint)
  decay_steps = max(int(decay_steps_factor * step_hint) - warmup_steps, 1)
  warmup = optax.linear_schedule(0.0, learning_rate, max(warmup_steps, 1))
  decay = optax.linear_schedule(learning_rate, end_factor * learning_rate, decay_steps)
  return optax.join_schedules([warmup, decay], [warmup_steps])


class OptaxState(NamedTuple):
  """Optimizer state of the baselines: optax state plus its (static) transformation."""

  opt_state: Any
  tx: optax.GradientTransformation


def init_optax_state(workload: spec.Workload, tx: optax.GradientTransformation):
  """``tx.init`` on zeros shaped like the workload's parameters."""
  zeros = jax.tree.map(
    lambda s: jnp.zeros(s.shape_tuple),
    workload.param_shapes,
    is_leaf=lambda x: isinstance(x, spec.ShapeTuple),
  )
  return OptaxState(tx.init(zeros), tx)


def _hparam(hyperparameters, name: str, default):
  value = getattr(hyperparameters, name, None) if hyperparameters is not None else None
  return default if value is None else value


def _train_step(
  workload, tx, label_smoothing, grad_clip, dropout_rate, opt_state, params, model_state, batch, rng
):
  """One step: mean loss over valid examples, optional clipping, optax update."""

  def loss_of(p):
    logits, new_model_state = workload.model_fn(
      p,
      batch,
      model_state,
      spec.ForwardPassMode.TRAIN,
      rng,
      update_batch_norm=True,
      dropout_rate=dropout_rate,
    )
    out = workload.loss_fn(batch['targets'], logits, batch.get('weights'), label_smoothing)
    return out['summed'] / out['n_valid_examples'], new_model_state

  (loss, new_model_state), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
  grad_norm = jnp.sqrt(sum(jnp.vdot(g, g) for g in jax.tree.leaves(grads)))
  if grad_clip is not None:  # Scale the gradient to global norm <= grad_clip.
    grads = jax.tree.map(lambda g: g * jnp.minimum(1.0, grad_clip / (grad_norm + 1e-6)), grads)
  updates, new_opt_state = tx.update(grads, opt_state, params)
  return new_opt_state, optax.apply_updates(params, updates), new_model_state, loss, grad_norm


@functools.lru_cache(maxsize=None)
def _jitted_step(backend: str) -> Callable:
  # Buffer donation saves memory on accelerators; the CPU backend ignores it (with a warning).
  donate = () if backend == 'cpu' else (5, 6, 7)
  return jax.jit(_train_step, static_argnums=(0, 1, 2, 3, 4), donate_argnums=donate)


# ----- AlgoPerf API functions that every optax baseline shares. -----
def get_batch_size(workload_name):
  return batch_size_for(workload_name)


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
  """One optax step with the jitted train step; returns ``(opt_state, params, model_state)``.

  Reads the optional hyperparameters ``label_smoothing``, ``grad_clip`` and
  ``dropout_rate`` when the search space has them.
  """
  del current_params_types, loss_type, eval_results, train_state
  step = _jitted_step(jax.default_backend())
  opt_state, params, model_state, loss, grad_norm = step(
    workload,
    optimizer_state.tx,
    float(_hparam(hyperparameters, 'label_smoothing', 0.0)),
    _hparam(hyperparameters, 'grad_clip', None),
    _hparam(hyperparameters, 'dropout_rate', None),
    optimizer_state.opt_state,
    current_param_container,
    model_state,
    batch,
    rng,
  )
  if global_step % LOG_EVERY_STEPS == 0 and workload.metrics_logger is not None:
    # Device arrays: the logger writes them at the next evaluation, with no sync here.
    workload.metrics_logger.append_scalar_metrics(
      {'loss': loss, 'grad_norm': grad_norm}, global_step
    )
  return OptaxState(opt_state, optimizer_state.tx), params, model_state


def update_params_until_zero_lr(
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
  """:func:`update_params` for a schedule that is zero from ``step_hint`` on (cosine decay).

  From step ``step_hint`` the learning rate is 0 (to float rounding) and, with no
  model state (batch-norm statistics) to update, no later step changes the model
  that is evaluated. So the baseline says it is done (``spec.TrainingCompleteError``,
  AlgoPerf's signal) instead of spending the rest of the budget on steps that change
  nothing: the trial's results are the same, it only ends sooner.
  """
  if global_step >= workload.step_hint and not jax.tree.leaves(model_state):
    raise spec.TrainingCompleteError(f'learning rate is 0 from step {workload.step_hint}')
  return update_params(
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
    train_state,
  )


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
  """Evaluate the parameters as they are (no averaging to swap in)."""
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
  """Train on the next batch of the pre-shuffled input queue."""
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)


def momentum_sgd(step_hint: int, hyperparameters, nesterov: bool) -> optax.GradientTransformation:
  r"""SGD with (heavy-ball or Nesterov) momentum and decoupled weight decay.

  ``optax.chain(add_decayed_weights(λ), sgd(η_t, momentum=1-one_minus_beta1))``:
  the decay is added to the gradient before momentum, as AlgoPerf's baselines do.
  """
  schedule = warmup_linear_decay(
    step_hint,
    hyperparameters.learning_rate,
    hyperparameters.warmup_factor,
    hyperparameters.decay_steps_factor,
    hyperparameters.end_factor,
  )
  return optax.chain(
    optax.add_decayed_weights(hyperparameters.weight_decay),
    optax.sgd(schedule, momentum=1.0 - hyperparameters.one_minus_beta1, nesterov=nesterov),
  )
