r"""NAdamW: AlgoPerf's baseline, NAdam with decoupled weight decay.

Update (optax ``nadamw``; Dozat 2016, Loshchilov & Hutter 2019), with
:math:`\hat m_t, \hat v_t` the bias-corrected moments:

.. math::
  m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2

  \theta_t = \theta_{t-1} - \eta_t \Bigl(\frac{\beta_1 \hat m_t + (1-\beta_1)\, g_t/(1-\beta_1^t)}
  {\sqrt{\hat v_t} + \epsilon} + \lambda\, \theta_{t-1}\Bigr)

:math:`\eta_t`: linear warm-up over ``warmup_factor * step_hint`` steps, then
cosine decay to zero at ``workload.step_hint``.

Hyperparameters: ``learning_rate`` (:math:`\eta`), ``one_minus_beta1``, ``beta2``,
``weight_decay`` (:math:`\lambda`), ``warmup_factor``; optional
``label_smoothing``, ``grad_clip``, ``dropout_rate``.
"""

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval

# The cosine schedule ends at 0: stop there (see shared.update_params_until_zero_lr).
update_params = shared.update_params_until_zero_lr


def make_optimizer(step_hint, hyperparameters):
  schedule = shared.warmup_cosine_decay(
    step_hint, hyperparameters.learning_rate, hyperparameters.warmup_factor
  )
  return optax.nadamw(
    schedule,
    b1=1.0 - hyperparameters.one_minus_beta1,
    b2=hyperparameters.beta2,
    eps=1e-8,
    weight_decay=hyperparameters.weight_decay,
  )


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  return shared.init_optax_state(workload, make_optimizer(workload.step_hint, hyperparameters))
