r"""Heavy-ball momentum SGD with weight decay (Polyak, 1964).

.. math::
  b_t = \mu\, b_{t-1} + g_t + \lambda\, \theta_{t-1}, \qquad
  \theta_t = \theta_{t-1} - \eta_t\, b_t

:math:`\eta_t`: linear warm-up, then linear decay to ``end_factor`` times the
peak rate at ``decay_steps_factor * step_hint`` (AlgoPerf's momentum baseline).

Hyperparameters: ``learning_rate``, ``one_minus_beta1`` (:math:`1-\mu`),
``weight_decay``, ``warmup_factor``, ``decay_steps_factor``, ``end_factor``;
optional ``label_smoothing``, ``grad_clip``, ``dropout_rate``.
"""

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import (
  data_selection,
  get_batch_size,
  prepare_for_eval,
  update_params,
)

NESTEROV = False


def make_optimizer(step_hint, hyperparameters):
  return shared.momentum_sgd(step_hint, hyperparameters, nesterov=NESTEROV)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  return shared.init_optax_state(workload, make_optimizer(workload.step_hint, hyperparameters))
