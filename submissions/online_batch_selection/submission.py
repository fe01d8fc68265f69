r"""Online batch selection by loss rank, on NAdamW.

Loshchilov & Hutter (2015), "Online Batch Selection for Faster Training of
Neural Networks" (https://arxiv.org/abs/1511.06343), applied per step to a
candidate batch (as in the "max-loss" selection of Jiang et al. 2019 and
Kawaguchi & Lu 2020): the input queue yields :math:`M = k B` candidates
(``get_candidate_batch_size``); one jitted forward pass in EVAL mode scores them
with the workload's per-example loss; the :math:`B` training examples are
drawn without replacement with probability decaying in the loss rank
:math:`r` (0: the largest loss),

.. math::
  p_r \propto \exp\bigl(-\log(s)\; r / M\bigr),

where the selection pressure :math:`s` is the ratio of the probabilities of
the most and the least lossy candidate. :math:`s = \infty` (the default when
``selection_pressure`` is left out of the search space, or set to ``inf``)
trains on the :math:`B` largest losses of the :math:`M`; :math:`s = 1` is
uniform. Scoring and drawing run on the device in one jitted function
(``algoperf_like.submissions.selection.jitted_select_by_loss``), compiled once, so the step
does not wait for the host. The selection keeps no state.

Cost per step: a forward pass over :math:`kB` examples on top of the
:math:`B`-example training step.

Hyperparameters: NAdamW's (``learning_rate``, ``one_minus_beta1``, ``beta2``,
``weight_decay``, ``warmup_factor``, ``label_smoothing``) and
``selection_pressure`` (:math:`s \ge 1`). The candidate factor :math:`k` is
the module constant :data:`CANDIDATE_FACTOR`: ``get_candidate_batch_size``
receives only the workload's name, not the hyperparameters.
"""

import math

import jax

from algoperf_like.submissions import selection
from algoperf_like.submissions.selection import update_params
from algoperf_like.submissions.shared import batch_size_for, get_batch_size, prepare_for_eval

__all__ = [
  'CANDIDATE_FACTOR',
  'data_selection',
  'get_batch_size',
  'get_candidate_batch_size',
  'init_optimizer_state',
  'prepare_for_eval',
  'update_params',
]

CANDIDATE_FACTOR = 2  # k: candidates per training example.


def get_candidate_batch_size(workload_name):
  """``CANDIDATE_FACTOR`` times the training batch size."""
  return CANDIDATE_FACTOR * batch_size_for(workload_name)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  """NAdamW's state; the selection itself is stateless."""
  del model_params, model_state, rng
  return selection.init_state(workload, hyperparameters, ())


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
  """The ``get_batch_size`` candidates drawn by loss rank from the next candidate batch."""
  del optimizer_state, global_step
  pressure = getattr(hyperparameters, 'selection_pressure', None)
  pressure = math.inf if pressure is None else float(pressure)
  label_smoothing = float(getattr(hyperparameters, 'label_smoothing', None) or 0.0)
  select = selection.jitted_select_by_loss(jax.default_backend())
  return select(
    workload,
    label_smoothing,
    get_batch_size(workload.workload_name),
    pressure,
    current_param_container,
    model_state,
    next(input_queue),
    rng,
  )
