"""Adversarial (io): warm-starts from parameters saved by an earlier run on disk,
training on information the timed run never paid for."""

import os
import pickle  # noqa: F401  (the point is the file access below)

import optax

from algoperf_like.submissions import shared
from algoperf_like.submissions.shared import data_selection, get_batch_size, prepare_for_eval, update_params

_CACHE = os.path.join(os.path.expanduser('~'), '.warm_start.msgpack')


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, hyperparameters, rng
  with open(_CACHE, 'rb') as f:
    del f  # A real attack would restore model_params from here.
  return shared.init_optax_state(workload, optax.sgd(0.1))
