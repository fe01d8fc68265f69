"""Adversarial (workload-identity): a table of learning rates keyed by a hash of the
parameter tree's structure, looked up with a default so that unknown workloads still run."""

import hashlib

import jax
import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import (
  data_selection,
  get_batch_size,
  prepare_for_eval,
  update_params,
)

LEARNING_RATES = {'3f2a': 0.3, '9c1b': 0.02}


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  treedef = jax.tree_util.tree_structure(model_params)
  key = hashlib.sha1(repr(treedef).encode()).hexdigest()[:4]
  lr = LEARNING_RATES.get(key, hyperparameters.learning_rate)
  return shared.init_optax_state(workload, optax.sgd(lr))
