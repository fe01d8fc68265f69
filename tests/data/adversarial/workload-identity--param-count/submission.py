"""Adversarial (workload-identity): recognises a workload by its parameter count and
tunes the learning rate for it (the case static rules missed before)."""

import jax
import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import (
  data_selection,
  get_batch_size,
  prepare_for_eval,
  update_params,
)


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  count = sum(x.size for x in jax.tree_util.tree_leaves(model_params))
  lr = hyperparameters.learning_rate
  if count == 110_986:
    lr *= 3.0
  return shared.init_optax_state(workload, optax.sgd(lr))
