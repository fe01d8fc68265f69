r"""Uniform data selection: NAdamW on the input queue's batches as they come.

The input queue shuffles the training set once per epoch (a fresh permutation
each epoch) and cuts it into batches, dropping the remainder, so every training
example is drawn once per epoch: uniform sampling without replacement. This
baseline trains on those batches unchanged; it is the ``nadamw`` submission
under the name the data-selection study compares against (``rs2``,
``online_batch_selection``, ``selective_backprop``).

Update: NAdamW (Dozat 2016; Loshchilov & Hutter 2019), see
``submissions/nadamw/submission.py``:

.. math::
  \theta_t = \theta_{t-1} - \eta_t \Bigl(\frac{\beta_1 \hat m_t + (1-\beta_1)\, g_t/(1-\beta_1^t)}
  {\sqrt{\hat v_t} + \epsilon} + \lambda\, \theta_{t-1}\Bigr),

with :math:`g_t` the mean gradient over the batch

.. math::
  \mathcal{B}_t = \{\, \pi_e(i) : jB \le i < (j+1)B \,\}, \qquad
  e = \lfloor t / E \rfloor,\ j = t \bmod E,\ E = \lfloor N / B \rfloor,

:math:`\pi_e` the permutation of epoch :math:`e` (the last :math:`N \bmod B`
examples of each permutation are not used in that epoch).

Hyperparameters (NAdamW's): ``learning_rate`` (:math:`\eta`), ``one_minus_beta1``,
``beta2``, ``weight_decay`` (:math:`\lambda`), ``warmup_factor``, ``label_smoothing``.
No selection hyperparameters.
"""

from algoperf_like.submissions.nadamw.submission import (
  init_optimizer_state,
  make_optimizer,
  update_params,
)
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval

__all__ = [
  'data_selection',
  'get_batch_size',
  'init_optimizer_state',
  'make_optimizer',
  'prepare_for_eval',
  'update_params',
]
