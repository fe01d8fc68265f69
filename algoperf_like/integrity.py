"""Run-time integrity checks: what a submission changed that it may not change.

A sandbox limits what a trial can reach outside its process; inside the process a
submission could still patch the clock, the JAX configuration, the harness or the
workload, or leave work running outside its timed calls. :class:`Integrity` takes a
snapshot of those before the submission's first call and compares after its calls,
raising :class:`~algoperf_like.guard.RuleViolation` with what changed.

When what is checked (the per-step checks are a fixed list of identity comparisons and
two counters, a few microseconds; the runner charges the time of every check to
``integrity``, not to the submission):

- after every submission call (:meth:`Integrity.after_call`), first the namespaces of the
  code that runs and checks the trial (``algoperf_like.integrity``, ``guard``, ``runner``,
  ``clock``, ``trial_logs`` and their classes), by dict comparison, so that a patch
  switching the checks off is itself caught (the runner holds the check methods bound before
  the first call); then the ``time`` functions
  (``perf_counter``, ``monotonic``, ``time``, ``sleep``, ``process_time`` and their
  ``_ns`` forms), the trial clock's time source and its methods, ``jax.block_until_ready``,
  the fields of the workload's frozen ``constants`` (targets, budget, eval period;
  ``object.__setattr__`` changes them in place), the ``jax.config`` flags that change
  numerics or timing most (x64, matmul precision, ``disable_jit``, debug NaNs/Infs), the real workload's class and the identities of its
  ``__dict__`` entries, and Python threads that the call started and left running
  (threads started inside workload or input-queue code are the harness's, see
  :meth:`algoperf_like.guard.Guard.harness_call`);
- at each evaluation boundary, before the harness evaluates (:meth:`Integrity.full_check`;
  every trial that ends normally ends at one):
  all of the above, plus every ``jax.config`` value, every function, class and module
  bound in a harness module (``algoperf_like.*`` loaded before the submission's first
  call, its workloads included) and in ``jax``, ``jax.numpy``, ``numpy``, ``time`` and
  ``builtins``, the attributes of the classes they define and of the workload's classes,
  the contents (identities, three levels deep) of the workload's container attributes,
  and child processes (``/proc/self/task/*/children``, and ``multiprocessing``'s
  children) that were not there before.

The harness itself changes the workload between submission calls (evaluation caches):
:meth:`Integrity.rebase_workload` takes the workload snapshot again after harness work.

``time.sleep`` is compared too: replacing it changes nothing the harness measures, but
nothing legitimate replaces it either.
"""

from __future__ import annotations

import builtins
import glob
import os
import sys
import threading
import time
import types
from typing import Any, Dict, List, Optional, Tuple

from algoperf_like.guard import _DELETED, Guard, RuleViolation

TIME_FUNCTIONS = (
  'perf_counter',
  'perf_counter_ns',
  'monotonic',
  'monotonic_ns',
  'time',
  'time_ns',
  'sleep',
  'process_time',
  'process_time_ns',
)
# Flags compared after every call; ``full_check`` compares all of jax.config.values.
HOT_JAX_FLAGS = (
  'jax_enable_x64',
  'jax_default_matmul_precision',
  'jax_disable_jit',
  'jax_debug_nans',
  'jax_debug_infs',
)
# Modules besides the harness's whose functions a submission must not replace.
_SHARED_MODULES = ('jax', 'jax.numpy', 'jax.random', 'jax.lax', 'numpy', 'time', 'builtins')
_BINDINGS = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)


def _harness_modules() -> List[Tuple[str, types.ModuleType]]:
  names = [n for n in list(sys.modules) if n == 'algoperf_like' or n.startswith('algoperf_like.')]
  names += [n for n in _SHARED_MODULES if n in sys.modules]
  return [(n, sys.modules[n]) for n in names if isinstance(sys.modules[n], types.ModuleType)]


def _bindings_snapshot() -> Dict[Tuple[str, str], int]:
  """``{(owner, name): id(value)}`` of functions, classes and modules bound in harness
  modules, and of the attributes of the classes those modules define."""
  out: Dict[Tuple[str, str], int] = {}
  for mod_name, mod in _harness_modules():
    for name, value in list(vars(mod).items()):
      if isinstance(value, _BINDINGS):
        out[(mod_name, name)] = id(value)
        if isinstance(value, type) and value.__module__ == mod_name:
          for attr, member in list(vars(value).items()):
            out[(f'{mod_name}.{name}', attr)] = id(member)
  return out


def _core_namespaces(*classes: type) -> list:
  """The namespaces of the modules and classes that run and check a trial."""
  names = (
    'algoperf_like.integrity',
    'algoperf_like.guard',
    'algoperf_like.runner',
    'algoperf_like.clock',
    'algoperf_like.trial_logs',
  )
  out = [(n, vars(sys.modules[n])) for n in names if n in sys.modules]
  clock = sys.modules.get('algoperf_like.clock')
  extra = (clock.Clock, clock.TimeAccount) if clock else ()
  return out + [(f'{c.__module__}.{c.__qualname__}', vars(c)) for c in classes + extra]


def _fingerprint(value: Any, depth: int = 3) -> Any:
  """Identities of ``value`` and, for dicts/lists/tuples, of what they hold (``depth`` levels)."""
  if depth and isinstance(value, dict) and len(value) <= 10_000:
    return (id(value), tuple((k, _fingerprint(v, depth - 1)) for k, v in list(value.items())))
  if depth and isinstance(value, (list, tuple)) and len(value) <= 10_000:
    return (id(value), tuple(_fingerprint(v, depth - 1) for v in value))
  return id(value)


def child_processes() -> set:
  """PIDs of this process's children (every thread's, from ``/proc``), where Linux tells."""
  pids = set()
  for path in glob.glob(f'/proc/{os.getpid()}/task/*/children'):
    try:
      with open(path) as f:
        pids.update(int(p) for p in f.read().split())
    except OSError:  # The thread ended meanwhile.
      continue
  mp = sys.modules.get('multiprocessing')
  if mp is not None:
    pids.update(p.pid for p in mp.active_children() if p.pid is not None)
  return pids


def _genuine_time(fn: Any, name: str) -> bool:
  """Whether ``fn`` is the ``time`` module's own C function ``name`` (also when the
  module was patched before the snapshot, e.g. at the submission's import)."""
  return (
    isinstance(fn, types.BuiltinFunctionType)
    and getattr(fn, '__self__', None) is time
    and fn.__name__ == name
  )


def _defined_at(obj: Any) -> str:
  """' by FILE:LINE' where ``obj`` (a replacement function) was defined, when known."""
  code = getattr(obj, '__code__', None) or getattr(getattr(obj, '__func__', None), '__code__', None)
  if code is None:
    return ''
  return f' by {os.path.basename(code.co_filename)}:{code.co_firstlineno}'


class Integrity:
  """The snapshot of one trial, and the comparisons (see the module docstring).

  Args:
    guard: the trial's guard (it latches violations and knows the submission's folder).
    workload: the real workload.
    clock: the trial's clock (its time source must stay the one it had).
  """

  def __init__(self, guard: Guard, workload: Any, clock: Any) -> None:
    import jax

    self.guard = guard
    self.workload = workload
    self.clock = clock
    self._jax = jax
    self._time = {name: getattr(time, name) for name in TIME_FUNCTIONS if hasattr(time, name)}
    self._clock_parts = self._clock_identity()
    self._hot = self._hot_flags()
    self._config = dict(jax.config.values)
    self._bindings = _bindings_snapshot()
    self._threads = {t.ident for t in threading.enumerate()}
    self._children = child_processes()
    self.rebase_workload()
    # The checks' own code, and the runner's: compared first after every call, with dict
    # comparisons only (no helper a patch could have replaced).
    self._core = [(label, d, dict(d)) for label, d in _core_namespaces(type(self), type(guard))]
    self._violation_type = RuleViolation
    self._after_call = self.after_call  # Bound now: a later patch of the class is not used.

  # ----- Snapshots. -----
  def _clock_identity(self) -> tuple:
    from algoperf_like import clock as clock_module

    c = self.clock
    return (
      getattr(c, '_now', None),
      getattr(c, '_block', None),
      type(c),
      vars(type(c)).get('read'),
      vars(type(c)).get('peek'),
      clock_module.block_until_ready,
      self._jax.block_until_ready,
    )

  def _hot_flags(self) -> tuple:
    config = self._jax.config  # Attribute reads: config.values builds a dict of every flag.
    return tuple(getattr(config, name, None) for name in HOT_JAX_FLAGS)

  def _workload_state(self) -> tuple:
    w = self.workload
    classes = type(w).__mro__
    # The constants (targets, budget, eval period) are a frozen dataclass, but
    # object.__setattr__ changes one in place: their fields' identities are compared too.
    constants = getattr(w, 'constants', None)
    fields = tuple(map(id, vars(constants).values())) if hasattr(constants, '__dict__') else ()
    return (type(w), {k: id(v) for k, v in list(vars(w).items())}, classes, fields)

  def rebase_workload(self) -> None:
    """Take the workload's snapshot again (after the harness's own work on it)."""
    w = self.workload
    self._workload = self._workload_state()
    self._workload_deep = {k: _fingerprint(v) for k, v in list(vars(w).items())}
    self._classes = {
      cls: dict((k, id(v)) for k, v in vars(cls).items())
      for cls in type(w).__mro__
      if cls is not object
    }

  # ----- Comparisons. -----
  def _fail(self, rule: str, what: str, when: str) -> None:
    error = RuleViolation(rule, f'{what} ({when})', *self._where())
    if self.guard.violation is None:
      self.guard.violation = error
    raise error

  def _where(self) -> Tuple[Optional[str], Optional[int]]:
    v = self.guard.violation
    return (v.path, v.line) if v is not None else (None, None)

  def after_call(self, when: str) -> None:
    """The per-call checks (cheap); ``when``: e.g. 'after update_params at step 12'."""
    for label, namespace, snapshot in self._core:
      if namespace != snapshot:
        changed = sorted(
          k for k in set(namespace) | set(snapshot) if namespace.get(k) is not snapshot.get(k)
        )
        error = self._violation_type(
          'harness', f'{label}.{changed[0] if changed else "?"} was replaced ({when})'
        )
        self.guard.violation = self.guard.violation or error
        raise error
    self.guard.raise_latched()
    for name, fn in self._time.items():
      now = getattr(time, name, None)
      if now is not fn or not _genuine_time(now, name):
        self._fail('clock', f'time.{name} was replaced{_defined_at(now)}', when)
    if self._clock_identity() != self._clock_parts:
      self._fail('clock', "the harness's clock was replaced or patched", when)
    hot = self._hot_flags()
    if hot != self._hot:
      changed = [n for n, a, b in zip(HOT_JAX_FLAGS, self._hot, hot) if a != b]
      self._fail('jax-config', f'jax.config {", ".join(changed)} changed', when)
    if self.guard.workload_updates:  # Workload code the submission called changed it: fine.
      self._accept_harness_updates()
    if self._workload_state() != self._workload:
      self._fail('workload', self._workload_change(), when)
    if threading.active_count() > len(self._threads):
      self._check_threads(when)

  def _accept_harness_updates(self) -> None:
    updates, self.guard.workload_updates = self.guard.workload_updates, {}
    ids = self._workload[1]
    for k, v in updates.items():
      if v is _DELETED:
        ids.pop(k, None)
        self._workload_deep.pop(k, None)
      else:
        ids[k] = id(v)
        self._workload_deep[k] = _fingerprint(v)

  def _workload_change(self) -> str:
    w = self.workload
    if type(w) is not self._workload[0]:
      return "the workload's class was replaced"
    before = dict(self._workload[1])
    now = {k: id(v) for k, v in vars(w).items()}
    for k in sorted(set(before) | set(now)):
      if before.get(k) != now.get(k):
        verb = 'added' if k not in before else 'deleted' if k not in now else 'replaced'
        return f'workload.{k} was {verb}'
    if self._workload_state()[3] != self._workload[3]:
      return "the workload's constants (targets, budget, eval period) were changed"
    return "the workload's class hierarchy changed"

  def _check_threads(self, when: str) -> None:
    for t in threading.enumerate():
      if t.ident in self._threads or t.ident in self.guard.harness_threads or not t.is_alive():
        continue
      daemon = 'daemon ' if t.daemon else ''
      self._fail(
        'threads',
        f'a {daemon}thread {t.name!r}{_defined_at(getattr(t, "_target", None))} started by the '
        'submission is still running',
        when,
      )

  def rebase_threads(self) -> None:
    """Count every running thread as the harness's (after the harness's own work)."""
    self._threads |= {t.ident for t in threading.enumerate()}

  def full_check(self, when: str) -> None:
    """Everything :meth:`after_call` checks, and the expensive rest."""
    self._after_call(when)
    self._check_threads(when)
    config = dict(self._jax.config.values)
    if config != self._config:
      changed = sorted(
        k for k in set(config) | set(self._config) if config.get(k) != self._config.get(k)
      )
      self._fail('jax-config', f'jax.config {", ".join(changed[:5])} changed', when)
    now = _bindings_snapshot()
    for key, ident in self._bindings.items():
      if now.get(key) != ident:
        owner, name = key
        verb = 'deleted' if key not in now else 'replaced'
        new = vars(sys.modules[owner]).get(name) if owner in sys.modules else None
        self._fail('harness', f'{owner}.{name} was {verb}{_defined_at(new)}', when)
    for cls, members in self._classes.items():
      current = {k: id(v) for k, v in vars(cls).items()}
      if current != members:
        name = next(
          k for k in sorted(set(current) | set(members)) if current.get(k) != members.get(k)
        )
        self._fail('workload', f'the workload class {cls.__name__}.{name} was patched', when)
    for k, fp in self._workload_deep.items():
      if _fingerprint(vars(self.workload).get(k)) != fp:
        self._fail('workload', f'the contents of workload.{k} were changed', when)
    new = child_processes() - self._children
    alive = sorted(p for p in new if os.path.exists(f'/proc/{p}'))
    if alive:
      self._fail(
        'processes',
        f'child process{"es" * (len(alive) > 1)} {", ".join(map(str, alive[:5]))} started by '
        'the submission still running',
        when,
      )


__all__ = ['Integrity', 'RuleViolation', 'child_processes']
_ = builtins  # 'builtins' is compared through sys.modules; imported so that it is there.
