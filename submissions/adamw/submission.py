r"""AdamW: Adam with decoupled weight decay (Kingma & Ba 2015; Loshchilov & Hutter 2019).

.. math::
  \theta_t = \theta_{t-1} - \eta_t \Bigl(\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
  + \lambda\, \theta_{t-1}\Bigr)

with :math:`\hat m_t, \hat v_t` Adam's bias-corrected moments and :math:`\eta_t`
a linear warm-up then cosine decay over ``workload.step_hint``.

Hyperparameters: ``learning_rate``, ``one_minus_beta1``, ``beta2``,
``weight_decay``, ``warmup_factor``; optional ``label_smoothing``,
``grad_clip``, ``dropout_rate``.
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
  return optax.adamw(
    schedule,
    b1=1.0 - hyperparameters.one_minus_beta1,
    b2=hyperparameters.beta2,
    eps=1e-8,
    weight_decay=hyperparameters.weight_decay,
  )


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  return shared.init_optax_state(workload, make_optimizer(workload.step_hint, hyperparameters))
