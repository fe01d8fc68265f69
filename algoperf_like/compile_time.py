"""Compile time inside a trial, from JAX's own compilation events.

AlgoPerf counts compilation as submission time: the first ``update_params``
call of a jitted step pays for tracing, lowering and XLA's compilation. That is
the rule here too; this module only makes the share visible. JAX reports the
duration of each stage through :mod:`jax.monitoring` (the events named in
``jax._src.dispatch``); one process-wide listener adds each duration to the
phase of the trial that is running when the event fires (set-up, the
submission's calls, evaluation, logging), so the runner needs one call at each
boundary it already has.

What is counted as compile seconds: XLA's backend compilation plus the lowering
of a traced function to an MLIR module. Tracing (``jaxpr_trace``) is kept apart
because traces of nested jitted functions are reported inside their callers'
traces, so summing them would count some seconds twice. A hit of the persistent
compilation cache fires no backend-compile event: only real compilation counts.

The summary (``trial_summary.json`` field ``compile_time``) also holds, for every
evaluation, the compile seconds spent in the submission's calls up to that
evaluation, so that a time to target can be read without compilation: the
time of the first evaluation at the target minus that eval's entry.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

# The event names of jax._src.dispatch (jax 0.4.3x-0.10), spelled out so that importing
# this module does not import JAX.
BACKEND_COMPILE_EVENT = '/jax/core/compile/backend_compile_duration'
LOWERING_EVENT = '/jax/core/compile/jaxpr_to_mlir_module_duration'
TRACE_EVENT = '/jax/core/compile/jaxpr_trace_duration'
_KINDS = {BACKEND_COMPILE_EVENT: 'compile', LOWERING_EVENT: 'compile', TRACE_EVENT: 'trace'}

PHASES = ('setup', 'submission', 'eval', 'logging')

_lock = threading.Lock()
_active: Optional['CompileLog'] = None
_registered = False


def _listener(event: str, duration: float, **_: Any) -> None:
  kind = _KINDS.get(event)
  log = _active
  if kind is not None and log is not None:
    log.add(kind, float(duration))


def _register() -> None:
  global _registered
  with _lock:
    if not _registered:
      import jax.monitoring

      jax.monitoring.register_event_duration_secs_listener(_listener)
      _registered = True


class CompileLog:
  """Compile and trace seconds of one trial, by phase.

  Use: ``log = CompileLog().start()``; ``log.enter(phase)`` at each boundary;
  ``log.mark_eval()`` once per evaluation, after it; ``log.stop()``;
  ``log.summary(eval_index_of_target)``.
  """

  def __init__(self) -> None:
    self.phase = 'setup'
    self.seconds = {(k, p): 0.0 for k in ('compile', 'trace') for p in PHASES}
    self.events = {p: 0 for p in PHASES}
    self.submission_compile_at_eval: List[float] = []

  def start(self) -> 'CompileLog':
    global _active
    _register()
    _active = self
    return self

  def stop(self) -> None:
    global _active
    if _active is self:
      _active = None

  def enter(self, phase: str) -> None:
    if phase not in PHASES:
      raise ValueError(f'unknown phase {phase!r}')
    self.phase = phase

  def add(self, kind: str, seconds: float) -> None:
    self.seconds[(kind, self.phase)] += seconds
    if kind == 'compile' and seconds > 0:
      self.events[self.phase] += 1

  def mark_eval(self) -> None:
    """Record the submission's compile seconds so far (call once per evaluation)."""
    self.submission_compile_at_eval.append(self.seconds[('compile', 'submission')])

  def summary(self, target_eval: Optional[int] = None) -> Dict[str, Any]:
    """The ``compile_time`` record of ``trial_summary.json``.

    Args:
      target_eval: index (0-based, this attempt) of the first evaluation at the
        target, or None.
    """
    out: Dict[str, Any] = {
      'source': 'jax.monitoring: backend compile + lowering seconds; tracing apart',
      **{f'{p}_compile_s': round(self.seconds[('compile', p)], 6) for p in PHASES},
      **{f'{p}_trace_s': round(self.seconds[('trace', p)], 6) for p in PHASES},
      'submission_compile_events': self.events['submission'],
      'submission_compile_s_at_eval': [round(x, 6) for x in self.submission_compile_at_eval],
      'submission_compile_s_at_target': None,
    }
    if target_eval is not None and 0 <= target_eval < len(self.submission_compile_at_eval):
      out['submission_compile_s_at_target'] = out['submission_compile_s_at_eval'][target_eval]
    return out
