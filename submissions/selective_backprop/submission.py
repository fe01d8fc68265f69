r"""Selective Backprop, on NAdamW.

Jiang et al. (2019), "Accelerating Deep Learning by Focusing on the Biggest
Losers" (https://arxiv.org/abs/1910.00762): every candidate example gets a
forward pass; it is kept for the backward pass with a probability that grows
with the percentile of its loss among the recent losses :math:`H`,

.. math::
  P(\text{keep } i) = \Bigl(\frac{\lvert\{\, h \in H : h \le \ell_i \,\}\rvert}
  {\lvert H \rvert}\Bigr)^{\beta},

and the kept examples fill the training batch of :math:`B`. Candidate batches
of :math:`B` come from the input queue one after another (about
:math:`1 + \beta` of them per step); each is scored by one jitted forward
pass in EVAL mode (the workload's per-example loss), its losses join
:math:`H`, a ring buffer of the last ``loss_history_size`` losses, and the
keep draws use uniforms from the step's key. Once :math:`B` are kept, the rest
of the last candidate batch is dropped. The history lives in numpy arrays in
the optimizer state (updated in place by ``data_selection``, checkpointed with
it). Unlike the paper, losses are not reused from stale forward passes.

Hyperparameters: NAdamW's (``learning_rate``, ``one_minus_beta1``, ``beta2``,
``weight_decay``, ``warmup_factor``, ``label_smoothing``), ``beta``
(:math:`\beta \ge 0`, the selectivity: a fraction :math:`1/(1+\beta)` of the
candidates is kept on average) and ``loss_history_size`` (:math:`|H|`).
"""

from algoperf_like.submissions import selection
from algoperf_like.submissions.selection import update_params
from algoperf_like.submissions.shared import get_batch_size, prepare_for_eval

__all__ = [
  'data_selection',
  'get_batch_size',
  'init_optimizer_state',
  'prepare_for_eval',
  'update_params',
]


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  """NAdamW's state plus an empty history of ``loss_history_size`` losses."""
  del model_params, model_state, rng
  return selection.init_state(
    workload, hyperparameters, selection.history_init(hyperparameters.loss_history_size)
  )


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
  """A batch of candidates kept by Selective Backprop (updates the history in place)."""
  del global_step
  label_smoothing = float(getattr(hyperparameters, 'label_smoothing', None) or 0.0)
  return selection.selective_backprop_select(
    workload,
    input_queue,
    optimizer_state.selection,
    current_param_container,
    model_state,
    get_batch_size(workload.workload_name),
    float(hyperparameters.beta),
    label_smoothing,
    rng,
  )
