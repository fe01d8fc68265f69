"""The guarded workload: what a submission's functions see instead of the real workload.

AlgoPerf lets a submission call any *public* function of the workload it is handed, and
forbids ``_build_input_queue`` (a second input pipeline, e.g. over the validation split).
Static rules cannot see every way to reach a private member (names built at run time), so
the runner hands the submission a :class:`WorkloadView` and keeps the real object:

- public names (no leading ``_``) read through to the real workload; its methods come
  back as plain functions that call the real ones (so ``jax.jit(workload.model_fn)``,
  ``functools.partial`` and closures under ``jit`` trace as before, and ``__self__`` does
  not lead to the real object); ``metrics_logger`` comes back as a logger that can only
  ``append_scalar_metrics``; the input queue is a :class:`QueueView` that only yields
  batches (``next()``; any attribute raises);
- harness-only public members (:data:`HARNESS_ONLY`: ``eval_model`` reads the validation
  and test splits, ``attach_metrics_logger`` replaces the harness's logger) and every
  private member (``_build_input_queue``, ``_eval_model_on_split``, ``_param_shapes``,
  data handles) raise :class:`RuleViolation`, also through ``getattr`` with a computed
  name, ``vars()`` and ``__dict__``; so does assigning or deleting any attribute;
- dunders: the view answers with its own (``__class__`` is :class:`WorkloadView`, never the
  real class; ``repr``, ``hash`` and ``==`` are the view's, so the view is a valid static
  argument of ``jax.jit``/``jax.pmap``); a dunder only the real object has (``__dict__``,
  ``__weakref__`` of the workload, ...) raises :class:`RuleViolation`; any other is an
  ``AttributeError`` as usual (``copy`` and ``pickle`` probe for some).
  ``isinstance(view, spec.Workload)`` is True (the view is registered as a virtual
  subclass: code that checks it keeps working); ``isinstance`` with a concrete workload
  class is False, which hides the workload's identity.

The real object lives only in a closure of the view's private class, so nothing but
``__closure__``/``gc`` introspection (forbidden by the static rules) reaches it.

A violation is also *latched* in the :class:`Guard` that made the view: a submission that
catches the exception is still stopped, by the runner's check after the call.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from typing import Any, Callable, Optional, Tuple

from algoperf_like import spec

# Public members a submission may not use: they belong to the harness.
HARNESS_ONLY = frozenset({'eval_model', 'attach_metrics_logger'})
# Members of the workload that ``init_model_fn`` sets (AlgoPerf lets a submission call it,
# e.g. to re-initialise after divergence): restored afterwards, so the harness's state stays.
_INIT_STATE = ('_param_shapes', '_param_types')
# Dunders the view answers itself (read on the view, never on the real object).
_OWN_DUNDERS = frozenset(
  {
    '__class__',
    '__repr__',
    '__str__',
    '__hash__',
    '__eq__',
    '__ne__',
    '__dir__',
    '__doc__',
    '__module__',
    '__format__',
    '__sizeof__',
    '__init_subclass__',
    '__subclasshook__',
    '__getattribute__',
    '__setattr__',
    '__delattr__',
    '__lt__',
    '__le__',
    '__gt__',
    '__ge__',
    '__bool__',
  }
)


class RuleViolation(Exception):
  """A submission broke a rule at run time; the trial ends as ``rule_violation``.

  Attributes:
    rule: the rule id (``private-member``, ``harness-only``, ``mutate-workload``, or one
      of :mod:`algoperf_like.integrity`'s: ``clock``, ``jax-config``, ``harness``,
      ``workload``, ``threads``, ``processes``).
    message: what happened, in words.
    path: the submission file whose code did it (None: not known).
    line: the line in ``path`` (None: not known).
  """

  def __init__(
    self, rule: str, message: str, path: Optional[str] = None, line: Optional[int] = None
  ) -> None:
    self.rule, self.message, self.path, self.line = rule, message, path, line
    super().__init__(self.one_line())

  def one_line(self) -> str:
    where = ''
    if self.path:
      where = f' ({os.path.basename(self.path)}:{self.line})' if self.line else ''
    return ' '.join(f'{self.rule}: {self.message}{where}'.split())

  def __str__(self) -> str:
    return self.one_line()

  def __reduce__(self):  # Picklable, for the process executors.
    return (RuleViolation, (self.rule, self.message, self.path, self.line))


def submission_frame(folder: Optional[str], skip: int = 1) -> Tuple[Optional[str], Optional[int]]:
  """``(file, line)`` of the innermost frame of the stack whose file is in ``folder``."""
  if not folder:
    return None, None
  folder = os.path.abspath(folder) + os.sep
  frame = sys._getframe(skip)
  while frame is not None:
    file = frame.f_code.co_filename
    if file and os.path.abspath(file).startswith(folder):
      return file, frame.f_lineno
    frame = frame.f_back
  return None, None


class Guard:
  """Makes the views of one trial and remembers the first violation they saw.

  Args:
    submission_dir: the submission's folder: violations name the line of the innermost
      frame in a file of it.
  """

  def __init__(self, submission_dir: Optional[str]) -> None:
    self.submission_dir = submission_dir
    self.violation: Optional[RuleViolation] = None
    self._harness_threads: set = set()  # Started inside workload or queue code.
    self._watched: Any = None  # The real workload: what harness code changes in it is fine.
    self.workload_updates: dict = {}  # Attribute -> new value, set by workload/queue code.
    self._lock = threading.Lock()

  def violate(self, rule: str, message: str) -> RuleViolation:
    """A :class:`RuleViolation` located in the submission's code, latched if it is the first."""
    path, line = submission_frame(self.submission_dir, skip=2)
    error = RuleViolation(rule, message, path, line)
    with self._lock:
      if self.violation is None:
        self.violation = error
    return error

  def raise_latched(self) -> None:
    """Raise the first violation, even if the submission caught it."""
    if self.violation is not None:
      raise self.violation

  @property
  def harness_threads(self) -> set:
    """Idents of threads started while workload or input-queue code ran (the harness's)."""
    return self._harness_threads

  def harness_call(self, fn: Callable, *args, **kwargs) -> Any:
    """Call harness code for the submission; threads it leaves running are the harness's."""
    before = {t.ident for t in threading.enumerate()}
    state = getattr(self._watched, '__dict__', None)
    saved = dict(state) if state is not None else None
    try:
      return fn(*args, **kwargs)
    finally:
      if threading.active_count() > len(before):
        self._harness_threads.update({t.ident for t in threading.enumerate()} - before)
      if saved is not None and state != saved:  # E.g. a cache the workload's code filled.
        for k in set(state) | set(saved):
          if state.get(k, saved) is not saved.get(k, saved):
            self.workload_updates[k] = state.get(k, _DELETED)

  def workload(self, real: spec.Workload) -> 'WorkloadView':
    self._watched = real
    return _make_view(self, real)

  def queue(self, real: Any) -> 'QueueView':
    return _make_queue_view(self, real)


_DELETED = object()  # In ``Guard.workload_updates``: the harness's code deleted the attribute.


class WorkloadView:
  """What a submission's functions get as ``workload`` (see the module docstring)."""

  __slots__ = ()


class QueueView:
  """What ``data_selection`` gets as ``input_queue``: ``next()`` and ``iter()``, nothing else."""

  __slots__ = ()


spec.Workload.register(WorkloadView)


class _LoggerView:
  """``workload.metrics_logger`` for a submission: it can log, nothing else."""

  __slots__ = ('append_scalar_metrics',)

  def __init__(self, append: Callable) -> None:
    object.__setattr__(self, 'append_scalar_metrics', append)

  def __setattr__(self, name, value):
    raise AttributeError(f'metrics_logger.{name} is read-only')


def _own(view: Any, name: str) -> Any:
  return object.__getattribute__(view, name)


def _method(guard: Guard, real: Any, name: str, bound: Callable) -> Callable:
  """A plain function calling ``real.name``; no reference to ``real`` but its closure."""

  def keeping_state(method, *args, **kwargs):
    saved = {k: real.__dict__[k] for k in _INIT_STATE if k in real.__dict__}
    try:
      return method(*args, **kwargs)
    finally:
      real.__dict__.update(saved)

  def call(*args, **kwargs):
    method = getattr(real, name)
    if name == 'init_model_fn':  # Restore the harness's shapes and types afterwards.
      return guard.harness_call(keeping_state, method, *args, **kwargs)
    return guard.harness_call(method, *args, **kwargs)

  call.__name__ = call.__qualname__ = name
  call.__doc__ = getattr(bound, '__doc__', None)
  try:
    call.__signature__ = inspect.signature(bound)
  except (TypeError, ValueError):
    pass
  return call


def _make_view(guard: Guard, real: spec.Workload) -> WorkloadView:
  cache: dict = {}  # name -> function: one identity per method (jit caches stay warm).
  real_dunders = set(dir(type(real))) | set(getattr(real, '__dict__', ()))

  def getattribute(self, name):
    if name.startswith('__') and name.endswith('__'):
      if name in _OWN_DUNDERS or name == '__slots__':
        return _own(self, name)
      if name in real_dunders or name == '__dict__':
        raise guard.violate('private-member', f'reads workload.{name}')
      raise AttributeError(f'workload has no attribute {name!r}')
    if name.startswith('_'):
      raise guard.violate(
        'private-member',
        f'reads workload.{name}: private members of the workload belong to the harness',
      )
    if name in HARNESS_ONLY:
      raise guard.violate('harness-only', f'uses workload.{name}: it belongs to the harness')
    if name in cache:
      return cache[name]
    value = getattr(real, name)  # AttributeError as for the real object.
    if name == 'metrics_logger':
      return (
        None
        if value is None
        else _LoggerView(
          _method(guard, value, 'append_scalar_metrics', value.append_scalar_metrics)
        )
      )
    if inspect.ismethod(value) and value.__self__ is real:
      cache[name] = _method(guard, real, name, value)
      return cache[name]
    return value

  def setattr_(self, name, value):
    raise guard.violate(
      'mutate-workload', f'assigns workload.{name}: the workload belongs to the harness'
    )

  def delattr_(self, name):
    raise guard.violate(
      'mutate-workload', f'deletes workload.{name}: the workload belongs to the harness'
    )

  def repr_(self):
    return f'<workload {real.workload_name} (guarded)>'

  def dir_(self):
    names = {n for n in dir(real) if not n.startswith('_')} - HARNESS_ONLY
    return sorted(names)

  cls = type(
    'WorkloadView',
    (WorkloadView,),
    {
      '__slots__': (),
      '__getattribute__': getattribute,
      '__setattr__': setattr_,
      '__delattr__': delattr_,
      '__repr__': repr_,
      '__dir__': dir_,
      '__module__': __name__,
      '__doc__': WorkloadView.__doc__,
    },
  )
  return object.__new__(cls)


def _make_queue_view(guard: Guard, real: Any) -> QueueView:
  """Only ``next()`` and ``iter()``: any attribute of the real queue (a generator's
  ``gi_frame``, an iterator's arrays or ``set_state``) could lead back to the data or the
  workload."""

  def getattribute(self, name):
    if name in _OWN_DUNDERS or name in ('__iter__', '__next__', '__slots__'):
      return _own(self, name)
    raise guard.violate(
      'private-member',
      f'reads input_queue.{name}: a submission may only take batches from the input queue',
    )

  def setattr_(self, name, value=None):
    raise guard.violate('mutate-workload', f'changes input_queue.{name}: it belongs to the harness')

  def next_(self):
    return guard.harness_call(next, real)

  def iter_(self):
    return self

  cls = type(
    'QueueView',
    (QueueView,),
    {
      '__slots__': (),
      '__getattribute__': getattribute,
      '__setattr__': setattr_,
      '__delattr__': setattr_,
      '__next__': next_,
      '__iter__': iter_,
      '__repr__': lambda self: '<input queue (guarded)>',
      '__module__': __name__,
    },
  )
  return object.__new__(cls)
