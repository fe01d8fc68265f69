"""The timing protocol: what is timed, what is not, and that pending device work
cannot leak from the submission into the untimed evaluation."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algoperf_like import runner
from algoperf_like.clock import Clock, TimeAccount
from algoperf_like.submission import Submission
from tests.fake_device import FakeDevice, FakeWorkload, fake_submission
from tests.quadratic import QuadraticWorkload

STEPS, STEP_DEVICE, STEP_HOST, SELECTION_HOST, PREPARE_DEVICE, EVAL = (
  50,
  0.02,
  0.001,
  0.0005,
  0.1,
  0.3,
)


def _fake_trial(synchronise: bool):
  # The host may run 32 steps ahead of the device, like JAX's CPU backend.
  device = FakeDevice(max_lag=32 * STEP_DEVICE)
  workload = FakeWorkload(device, eval_seconds=EVAL)
  sub = fake_submission(device, STEP_DEVICE, STEP_HOST, SELECTION_HOST, PREPARE_DEVICE)
  config = runner.RunConfig(eval_every_steps=STEPS, max_global_steps=STEPS)
  return runner.train_once(workload, sub, None, 0, None, config, clock=device.clock(synchronise))


def test_submission_time_is_exact_and_excludes_eval():
  result = _fake_trial(synchronise=True)
  # The device is the bottleneck: host work of step 1, then 50 steps and prepare_for_eval.
  truth = SELECTION_HOST + STEP_HOST + STEPS * STEP_DEVICE + PREPARE_DEVICE
  assert result.accumulated_submission_time == pytest.approx(truth, rel=1e-9)
  # Two splits evaluated (train and validation), EVAL seconds each.
  assert result.timing['eval_time_s'] == pytest.approx(2 * EVAL, rel=1e-6)
  assert result.eval_results[-1]['accumulated_eval_time'] == pytest.approx(2 * EVAL)
  assert result.status == 'max_steps' and result.global_step == STEPS


def test_unsynchronised_clock_would_leak_device_work_into_eval():
  """Control: the same trial with a clock that never waits (AlgoPerf's) mis-times."""
  result = _fake_trial(synchronise=False)
  truth = SELECTION_HOST + STEP_HOST + STEPS * STEP_DEVICE + PREPARE_DEVICE
  assert result.accumulated_submission_time < 0.5 * truth
  assert result.timing['eval_time_s'] > 2 * EVAL + 0.5 * truth


def test_time_account_adds_up_to_wall_clock():
  result = _fake_trial(synchronise=True)
  assert result.timing_adds_up
  assert sum(result.timing.values()) == pytest.approx(result.wall_clock_s, rel=1e-9)


def test_time_account_detects_lost_time():
  account = TimeAccount()
  account.add('submission', 10.0)
  assert account.adds_up(10.1)
  assert not account.adds_up(12.0)
  with pytest.raises(KeyError):
    account.add('coffee', 1.0)


# ----- The same property on a real JAX device (CPU), with asynchronous dispatch. -----
_BURN_SIZE = 512


@jax.jit
def _burn(params, matrix):
  """Device work whose result the parameters depend on (so blocking waits for it)."""
  x = matrix
  for _ in range(8):
    x = jnp.tanh(x @ matrix)
  return jax.tree.map(lambda p: p + 0.0 * x[0, 0], params)


def _burn_submission(matrix, prepare_burns: int) -> Submission:
  def update_params(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    batch,
    loss_type,
    optimizer_state,
    eval_results,
    global_step,
    rng,
    train_state=None,
  ):
    return optimizer_state, _burn(current_param_container, matrix), model_state

  def prepare_for_eval(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    loss_type,
    optimizer_state,
    eval_results,
    global_step,
    rng,
  ):
    params = current_param_container
    for _ in range(prepare_burns):
      params = _burn(params, matrix)
    return optimizer_state, params, model_state

  return Submission(
    path='<burn>',
    module=None,
    get_batch_size=lambda name: 8,
    init_optimizer_state=lambda *a: {},
    update_params=update_params,
    prepare_for_eval=prepare_for_eval,
    data_selection=lambda workload, queue, *a: next(queue),
    update_params_takes_train_state=True,
  )


@pytest.mark.parametrize('synchronise', [True, False])
def test_real_device_work_stays_in_submission_time(synchronise):
  matrix = jnp.asarray(
    np.random.default_rng(0).normal(size=(_BURN_SIZE,) * 2) / _BURN_SIZE, jnp.float32
  )
  params = {'dense': {'kernel': jnp.zeros((8,)), 'bias': jnp.zeros(())}}
  jax.block_until_ready(_burn(params, matrix))
  start = time.perf_counter()
  for _ in range(20):
    params = _burn(params, matrix)
  jax.block_until_ready(params)
  burn_s = (time.perf_counter() - start) / 20

  steps, prepare_burns, eval_sleep = 60, 10, 0.2
  workload = QuadraticWorkload(eval_sleep=eval_sleep)
  workload.init_model_fn(None)
  workload.eval_model(8, params, None, None, None, None, 0)  # Compile the eval ops.
  clock = Clock() if synchronise else Clock(block=lambda tree: None)
  result = runner.train_once(
    workload,
    _burn_submission(matrix, prepare_burns),
    None,
    0,
    None,
    runner.RunConfig(eval_every_steps=steps, max_global_steps=steps),
    clock=clock,
  )
  burns = steps + prepare_burns
  pending_leak = result.timing['eval_time_s'] - 2 * eval_sleep  # Two splits evaluated.
  # Sanity bounds only, in units of one burn: a shared 2-core machine makes absolute
  # times noisy. The exact check is the virtual device's, above.
  if synchronise:
    assert result.accumulated_submission_time > 0.5 * burns * burn_s
    assert pending_leak < 3 * result.accumulated_submission_time / burns
  else:  # JAX's CPU backend keeps dozens of computations in flight: they land in eval.
    assert pending_leak > 8 * burn_s
