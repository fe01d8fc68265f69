r"""NAdamW for the self-tuning ruleset: the ``nadamw`` baseline with fixed defaults.

Self-tuning submissions get no search space (``hyperparameters`` is None) and
a 1.5x runtime budget; the values below are used on every workload.
"""

import collections

from algoperf_like.submissions import shared
from algoperf_like.submissions.nadamw.submission import make_optimizer
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval

_Hyperparameters = collections.namedtuple(
  '_Hyperparameters',
  ['learning_rate', 'one_minus_beta1', 'beta2', 'weight_decay', 'warmup_factor', 'label_smoothing'],
)
DEFAULTS = _Hyperparameters(
  learning_rate=2e-3,
  one_minus_beta1=0.1,
  beta2=0.999,
  weight_decay=0.05,
  warmup_factor=0.05,
  label_smoothing=0.0,
)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, hyperparameters, rng
  return shared.init_optax_state(workload, make_optimizer(workload.step_hint, DEFAULTS))


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
  del hyperparameters  # None under self-tuning: use the fixed defaults.
  return shared.update_params(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    DEFAULTS,
    batch,
    loss_type,
    optimizer_state,
    eval_results,
    global_step,
    rng,
    train_state,
  )
