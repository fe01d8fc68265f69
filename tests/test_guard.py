"""The guarded workload view: public API through, private members and tricks stopped."""

import functools
import os
import pickle

import jax
import jax.numpy as jnp
import pytest

from algoperf_like import spec
from algoperf_like.guard import Guard, QueueView, RuleViolation, WorkloadView
from tests.quadratic import QuadraticWorkload

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def pair():
  real = QuadraticWorkload()
  real.init_model_fn(None)
  guard = Guard(HERE)  # Violations name the line of this test file.
  return guard, guard.workload(real), real


def test_public_api_reads_through(pair):
  _, view, real = pair
  assert view.workload_name == 'quadratic' and view.step_hint == real.step_hint
  assert view.param_shapes is real.param_shapes
  assert view.model_params_types is real.model_params_types
  assert view.loss_type == spec.LossType.MEAN_SQUARED_ERROR
  assert view.num_train_examples == 512 and view.eval_batch_size == 512
  assert view.is_output_params('dense') and view.constants is real.constants
  assert view.metrics_logger is None  # None stays None (baselines test for it).
  assert view.has_reached_validation_target({'validation/loss': 0.0})


@pytest.mark.parametrize(
  'name',
  ['_build_input_queue', '_eval_model_on_split', '_param_shapes', '_x', '_nonexistent', '__dict__'],
)
def test_private_members_raise_with_the_line(pair, name):
  guard, view, _ = pair
  with pytest.raises(RuleViolation) as info:
    getattr(view, name)
  e = info.value
  assert e.rule == 'private-member' and f'workload.{name}' in str(e)
  assert e.path == os.path.abspath(__file__) and e.line
  assert f'(test_guard.py:{e.line})' in str(e) and '\n' not in str(e)
  assert guard.violation is e  # Latched: a submission that catches it is still stopped.


def test_other_ways_in_are_stopped(pair):
  guard, view, real = pair
  with pytest.raises(RuleViolation, match='__dict__'):
    vars(view)
  with pytest.raises(RuleViolation, match='harness-only: uses workload.eval_model'):
    _ = view.eval_model
  with pytest.raises(RuleViolation, match='attach_metrics_logger'):
    view.attach_metrics_logger(None)
  with pytest.raises(RuleViolation, match='mutate-workload: assigns workload.model_fn'):
    view.model_fn = None
  with pytest.raises(RuleViolation, match='deletes workload.step_hint'):
    del view.step_hint
  with pytest.raises(RuleViolation):
    pickle.dumps(view)  # __reduce_ex__ would hand out the state.
  with pytest.raises(AttributeError):
    object.__getattribute__(view, '__dict__')  # No instance state to find.
  with pytest.raises(AttributeError):
    _ = view.model_fn.__self__  # A plain function: no way back to the real object.
  assert type(view).__mro__[-1] is object and real.__class__ not in type(view).__mro__
  assert guard.violation is not None


def test_dunders_are_the_view_s(pair):
  _, view, real = pair
  assert view.__class__ is type(view) and issubclass(view.__class__, WorkloadView)
  assert isinstance(view, spec.Workload)  # Registered: checks of the base class still pass.
  assert not isinstance(view, QuadraticWorkload)  # The concrete class stays hidden.
  assert hash(view) == hash(view) and view == view and view != real
  assert 'quadratic' in repr(view) and 'model_fn' in dir(view)
  assert not any(n.startswith('_') for n in dir(view)) and 'eval_model' not in dir(view)
  with pytest.raises(AttributeError):
    _ = view.__deepcopy__  # Unknown dunders are ordinary AttributeErrors (copy, pickle probe).
  with pytest.raises(AttributeError):
    _ = view.no_such_attribute


def test_methods_work_under_jit_and_partial(pair):
  _, view, real = pair
  params, _ = real.init_model_fn(None)
  batch = {'inputs': jnp.ones((4, 8)), 'targets': jnp.zeros((4,))}
  assert view.model_fn is view.model_fn  # One identity: jit caches stay warm.
  direct = real.model_fn(params, batch, None, None, None, False)[0]
  jitted = jax.jit(view.model_fn, static_argnums=(3, 4, 5))(params, batch, None, None, None, False)
  closure = jax.jit(lambda p: view.model_fn(p, batch, None, None, None, False)[0])(params)
  part = jax.jit(
    functools.partial(lambda w, p: w.model_fn(p, batch, None, None, None, False)[0], view)
  )
  static = jax.jit(
    lambda w, p: w.loss_fn(batch['targets'], w.model_fn(p, batch, None, None, None, False)[0])[
      'summed'
    ],
    static_argnums=0,
  )
  assert jnp.allclose(jitted[0], direct) and jnp.allclose(closure, direct)
  assert jnp.allclose(part(params), direct)
  assert float(static(view, params)) == pytest.approx(float(jnp.sum(direct**2)))


def test_init_model_fn_keeps_the_harness_s_shapes(pair):
  _, view, real = pair
  shapes = real.param_shapes
  params, _ = view.init_model_fn(jax.random.PRNGKey(1))
  assert real.param_shapes is shapes and 'dense' in params


def test_metrics_logger_only_logs(pair):
  _, view, real = pair
  rows = []

  class Logger:
    secret = 'state'

    def append_scalar_metrics(self, metrics, global_step, preemption_count=None, is_eval=False):
      rows.append((metrics, global_step))

  real.attach_metrics_logger(Logger())
  view.metrics_logger.append_scalar_metrics({'loss': 1.0}, 3)
  assert rows == [({'loss': 1.0}, 3)]
  with pytest.raises(AttributeError):
    _ = view.metrics_logger.secret


def test_queue_view_only_yields_batches():
  guard = Guard(HERE)
  queue = guard.queue(iter([{'x': 1}, {'x': 2}]))
  assert isinstance(queue, QueueView) and iter(queue) is queue
  assert next(queue) == {'x': 1} and queue.__next__() == {'x': 2}
  for name in ('gi_frame', '_arrays', 'set_state', '__dict__'):
    with pytest.raises(RuleViolation, match=f'input_queue.{name}'):
      getattr(queue, name)
