r"""Nesterov momentum SGD with weight decay (Nesterov, 1983; Sutskever et al., 2013).

.. math::
  d_t = g_t + \lambda\, \theta_{t-1}, \qquad b_t = \mu\, b_{t-1} + d_t, \qquad
  \theta_t = \theta_{t-1} - \eta_t\, (d_t + \mu\, b_t)

:math:`\eta_t`: linear warm-up, then linear decay to ``end_factor`` times the
peak rate at ``decay_steps_factor * step_hint`` (AlgoPerf's Nesterov baseline).

Hyperparameters: as the ``momentum`` baseline.
"""

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import (
  data_selection,
  get_batch_size,
  prepare_for_eval,
  update_params,
)

NESTEROV = True


def make_optimizer(step_hint, hyperparameters):
  return shared.momentum_sgd(step_hint, hyperparameters, nesterov=NESTEROV)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  return shared.init_optax_state(workload, make_optimizer(workload.step_hint, hyperparameters))
