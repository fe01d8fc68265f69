"""Conformance of every submission in submissions/: API, training, no recompilation.

Each submission is loaded, checked against AlgoPerf's signatures, and trained
for a few steps on a least-squares workload: the loss must fall, and steps
after the first must not compile anything.
"""

import glob
import os

import jax
import jax.monitoring
import numpy as np
import pytest

from algoperf_like import search_space, spec
from algoperf_like.submission import load_submission
from tests.quadratic import QuadraticWorkload

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ADAM = {
  'learning_rate': 3e-2,
  'one_minus_beta1': 0.1,
  'beta2': 0.999,
  'weight_decay': 0.0,
  'warmup_factor': 0.05,
  'label_smoothing': 0.0,
}
_SGD = {
  'learning_rate': 0.05,
  'one_minus_beta1': 0.1,
  'weight_decay': 0.0,
  'warmup_factor': 0.05,
  'decay_steps_factor': 0.9,
  'end_factor': 0.01,
  'label_smoothing': 0.0,
}
# name -> hyperparameters for the quadratic (None: self-tuning).
_SUBMISSIONS_UNDER_TEST = {
  'nadamw': _ADAM,
  'adamw': _ADAM,
  'momentum': _SGD,
  'nesterov': _SGD,
  'nadamw_self_tuning': None,
  'template': {'learning_rate': 0.05},
  # Data-selection baselines (NAdamW updates).
  'uniform': _ADAM,
  'rs2': dict(_ADAM, selection_fraction=0.5),
  'online_batch_selection': dict(_ADAM, selection_pressure=100.0),
  'selective_backprop': dict(_ADAM, beta=1.0, loss_history_size=1024),
}

_compiles = []
jax.monitoring.register_event_duration_secs_listener(
  lambda event, duration, **kw: (
    _compiles.append(event) if event == '/jax/core/compile/backend_compile_duration' else None
  )
)


def test_table_lists_every_submission_folder():
  folders = {
    os.path.basename(os.path.dirname(p))
    for p in glob.glob(os.path.join(REPO, 'submissions', '*', 'submission.py'))
  }
  assert folders == set(_SUBMISSIONS_UNDER_TEST)


@pytest.mark.parametrize('name', sorted(_SUBMISSIONS_UNDER_TEST))
def test_search_space_matches_ruleset(name):
  path = os.path.join(REPO, 'submissions', name, 'tuning_search_space.json')
  if _SUBMISSIONS_UNDER_TEST[name] is None:
    assert not os.path.exists(path)
  else:
    space = search_space.load_search_space(path)
    assert set(space.names) >= set(_SUBMISSIONS_UNDER_TEST[name]) - {'label_smoothing'}


@pytest.mark.parametrize('name', sorted(_SUBMISSIONS_UNDER_TEST))
def test_submission_trains_without_recompiling(name):
  sub = load_submission(os.path.join(REPO, 'submissions', name, 'submission.py'))
  assert isinstance(sub.get_batch_size('mnist1d'), int)
  hparams = _SUBMISSIONS_UNDER_TEST[name]
  hparams = None if hparams is None else search_space.make_hyperparameters(hparams)
  workload = QuadraticWorkload()
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  opt_state = sub.init_optimizer_state(
    workload, params, model_state, hparams, jax.random.PRNGKey(1)
  )
  # The queue yields what the runner would ask for: candidates, for selection methods.
  size = (sub.get_candidate_batch_size or sub.get_batch_size)('quadratic')
  queue = workload._build_input_queue(None, 'train', None, size)
  initial_loss = workload.eval_model(512, params, None, None, None, None, 0)['validation/loss']

  def step(i):
    nonlocal opt_state, params, model_state
    batch = sub.data_selection(
      workload, queue, opt_state, params, model_state, hparams, i, jax.random.PRNGKey(i)
    )
    opt_state, params, model_state = sub.update_params(
      workload,
      params,
      workload.model_params_types,
      model_state,
      hparams,
      batch,
      workload.loss_type,
      opt_state,
      [],
      i,
      jax.random.PRNGKey(i),
      None,
    )
    jax.block_until_ready(params)

  step(0)
  compiles_before = len(_compiles)
  for i in range(1, 60):
    step(i)
  assert len(_compiles) == compiles_before, f'{name} recompiled after its first step'
  final_loss = workload.eval_model(512, params, None, None, None, None, 0)['validation/loss']
  assert np.isfinite(final_loss) and final_loss < 0.9 * initial_loss


def test_spec_enums_have_algoperf_values():
  assert [(m.name, m.value) for m in spec.LossType] == [
    ('SOFTMAX_CROSS_ENTROPY', 0),
    ('SIGMOID_CROSS_ENTROPY', 1),
    ('MEAN_SQUARED_ERROR', 2),
    ('CTC_LOSS', 3),
    ('MEAN_ABSOLUTE_ERROR', 4),
  ]
  assert [(m.name, m.value) for m in spec.ForwardPassMode] == [('TRAIN', 0), ('EVAL', 1)]
  assert spec.ParameterType.CONV_WEIGHT.value == 2
  assert spec.ParameterType.ATTENTION_BIAS.value == 14
  assert len(spec.ParameterType) == 15


@pytest.mark.parametrize('name', ['adamw', 'nadamw'])
def test_cosine_baselines_stop_once_their_learning_rate_is_zero(name):
  """From step_hint on the update is zero, so they end the trial instead of idling."""
  from algoperf_like import target_setting
  from algoperf_like.submissions import shared

  sub = load_submission(os.path.join(REPO, 'submissions', name, 'submission.py'))
  hparams = search_space.make_hyperparameters(_SUBMISSIONS_UNDER_TEST[name])
  workload = QuadraticWorkload()
  with target_setting.step_hint_of(workload, 20):
    params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
    opt_state = sub.init_optimizer_state(
      workload, params, model_state, hparams, jax.random.PRNGKey(1)
    )
    queue = workload._build_input_queue(None, 'train', None, sub.get_batch_size('quadratic'))
    args = lambda i, batch: (
      workload,
      params,
      workload.model_params_types,
      model_state,
      hparams,
      batch,
      workload.loss_type,
      opt_state,
      [],
      i,
      jax.random.PRNGKey(i),
      None,
    )
    for i in range(20):
      opt_state, params, model_state = sub.update_params(*args(i, next(queue)))
    with pytest.raises(spec.TrainingCompleteError):
      sub.update_params(*args(20, next(queue)))
    # What the step it declined would have done: nothing (to float rounding).
    _, after, _ = shared.update_params(*args(20, next(queue)))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(after)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-7)
