"""A virtual device and clock for exact, deterministic tests of the timing protocol.

Work issued to the device is queued behind earlier work and finishes later
(like JAX's asynchronous dispatch); the host clock only catches up when
something blocks on a result. All times are virtual seconds.
"""

from __future__ import annotations

import dataclasses

import jax

from algoperf_like import spec
from algoperf_like.clock import Clock
from algoperf_like.submission import Submission


@dataclasses.dataclass(frozen=True)
class FakeArray:
  done_at: float  # Virtual time at which the device has computed this value.


class FakeDevice:
  """``max_lag``: how far the host may run ahead of the device (JAX bounds the
  number of computations in flight, so the host stalls once the queue is full)."""

  def __init__(self, max_lag: float = 0.05) -> None:
    self.now = 0.0  # Host time.
    self.busy_until = 0.0  # When the device finishes everything issued so far.
    self.max_lag = max_lag

  def host(self, seconds: float) -> None:
    self.now += seconds

  def issue(self, seconds: float) -> FakeArray:
    """Queue ``seconds`` of device work; return its (not yet ready) result."""
    self.busy_until = max(self.busy_until, self.now) + seconds
    self.now = max(self.now, self.busy_until - self.max_lag)
    return FakeArray(self.busy_until)

  def block(self, tree) -> None:
    for leaf in jax.tree.leaves(tree):
      if isinstance(leaf, FakeArray):
        self.now = max(self.now, leaf.done_at)

  def clock(self, synchronise: bool = True) -> Clock:
    """A clock on virtual time; ``synchronise=False`` mimics a clock that never waits."""
    return Clock(now=lambda: self.now, block=self.block if synchronise else (lambda tree: None))


class FakeWorkload(spec.Workload):
  """Evaluation waits for the parameters, then takes ``eval_seconds`` of host time."""

  def __init__(
    self, device: FakeDevice, eval_seconds: float, budget: float = 1e6, target: float = -1.0
  ) -> None:
    super().__init__()
    self.device, self.eval_seconds = device, eval_seconds
    self.constants = spec.WorkloadConstants(
      name='fake',
      target_metric_name='loss',
      metric_direction='min',
      validation_target_value=target,
      test_target_value=target,
      max_allowed_runtime_sec=budget,
      eval_period_time_sec=1e9,
      step_hint=100,
      num_train_examples=1,
      num_eval_train_examples=1,
      num_validation_examples=1,
      num_test_examples=None,
      eval_batch_size=1,
    )

  loss_type = spec.LossType.MEAN_SQUARED_ERROR

  def is_output_params(self, param_key):
    return True

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    self._param_shapes, self._param_types = (
      {'w': spec.ShapeTuple(())},
      {'w': spec.ParameterType.WEIGHT},
    )
    return {'w': self.device.issue(0.0)}, None

  def model_fn(self, *args, **kwargs):
    raise NotImplementedError

  def loss_fn(self, *args, **kwargs):
    raise NotImplementedError

  def _build_input_queue(
    self,
    data_rng,
    split,
    data_dir,
    global_batch_size,
    cache=None,
    repeat_final_dataset=None,
    num_batches=None,
  ):
    while True:
      yield {'inputs': None}

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    self.device.block(params)  # Evaluation reads the parameters: it must wait for them.
    self.device.host(self.eval_seconds)
    return {'loss': 1.0 / (1 + global_step / 10)}


def fake_submission(
  device: FakeDevice,
  step_device_s: float,
  step_host_s: float,
  selection_host_s: float,
  prepare_device_s: float,
  raise_complete_at: int | None = None,
) -> Submission:
  """A submission whose steps cost known host and device time."""

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
    device.host(selection_host_s)
    return next(input_queue)

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
    if raise_complete_at is not None and global_step + 1 >= raise_complete_at:
      raise spec.TrainingCompleteError()
    device.host(step_host_s)
    return optimizer_state, {'w': device.issue(step_device_s)}, model_state

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
    return optimizer_state, {'w': device.issue(prepare_device_s)}, model_state

  return Submission(
    path='<fake>',
    module=None,
    get_batch_size=lambda name: 1,
    init_optimizer_state=lambda *a: {},
    update_params=update_params,
    prepare_for_eval=prepare_for_eval,
    data_selection=data_selection,
    update_params_takes_train_state=True,
  )
