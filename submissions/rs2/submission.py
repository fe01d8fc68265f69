r"""RS2: repeated random sampling without replacement, on NAdamW.

Okanovic et al. (2023), "Repeated Random Sampling for Minimizing the
Time-to-Accuracy of Learning" (https://arxiv.org/abs/2305.18424), RS2 without
replacement: each round trains on a random subset of a fixed fraction
:math:`f` of the :math:`N` training examples, each member once; the subsets of
consecutive rounds are disjoint until every example has been used, then a new
random permutation starts the next pass:

.. math::
  S_k = \bigl\{\, \pi_p(j) : (k \bmod R)\, m \le j < \min\bigl((k \bmod R + 1)\, m, N\bigr) \bigr\},
  \qquad m = \lceil f N \rceil,\ R = \lceil N / m \rceil,\ p = \lfloor k / R \rfloor,

with :math:`\pi_p` the permutation of pass :math:`p` (seeded by the trial's
optimizer key). Round :math:`k` lasts :math:`|S_k| / B` steps; a batch may
straddle two rounds.

Implementation (``algoperf_like.submissions.selection.rs2_select``): per-example state by
``example_id`` (each example's position in the pass permutation, whether it was
used in this round, the round counter and the seed) is kept in numpy arrays in
the optimizer state and updated in place by ``data_selection``. The batch is
filled from successive candidate batches of the input queue, keeping the
candidates that belong to the current round and are not yet used in it (the
others are dropped), about :math:`1/f` candidate batches per step. The arrays
are checkpointed with the optimizer state, so a resumed trial continues the
round it was in (as of its last checkpoint).

Update: NAdamW, as ``submissions/nadamw/submission.py``.

Hyperparameters: NAdamW's (``learning_rate``, ``one_minus_beta1``, ``beta2``,
``weight_decay``, ``warmup_factor``, ``label_smoothing``), and
``selection_fraction`` (:math:`f \in (0, 1]`, the fraction of the training set
per round).
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
  """NAdamW's state plus RS2's per-example state (round 0 of pass 0)."""
  del model_params, model_state
  return selection.init_state(
    workload, hyperparameters, selection.rs2_init(workload.num_train_examples, rng)
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
  """The next batch of the current RS2 round (updates the round state in place)."""
  del current_param_container, model_state, global_step, rng
  return selection.rs2_select(
    optimizer_state.selection,
    input_queue,
    get_batch_size(workload.workload_name),
    hyperparameters.selection_fraction,
  )
