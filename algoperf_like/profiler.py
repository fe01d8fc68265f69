"""Time per named action of a trial (``--profile``): AlgoPerf's ``Profiler`` interface.

The runner records what its :class:`~algoperf_like.clock.TimeAccount` already measures,
one duration per occurrence: set-up, the submission's work between evaluations, the
device wait that ends it, ``prepare_for_eval``, evaluation, logging and checkpoints,
plus the host time of ``data_selection`` and ``update_params`` per step. The per-step
host times are unsynchronised readings (profiling must not add device syncs to the
timed loop): with JAX's asynchronous dispatch they measure dispatch, and the device
work they launch shows up in the device wait at the next evaluation.

:meth:`Profiler.summary` renders AlgoPerf's table (mean, std, calls, total, percent).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Dict, Iterator, List, Optional


class Profiler:
  """Durations per action name.

  Args:
    now: the time source (``time.perf_counter``).
  """

  def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
    self._now = now
    self._started: Dict[str, float] = {}
    self.durations: Dict[str, List[float]] = {}
    self._t0 = now()

  def add(self, action: str, seconds: float) -> None:
    """Record one occurrence of ``action`` that took ``seconds``."""
    self.durations.setdefault(action, []).append(float(seconds))

  def start(self, action: str) -> None:
    if action in self._started:
      raise ValueError(f'profiler: {action!r} is already started')
    self._started[action] = self._now()

  def stop(self, action: str) -> None:
    if action not in self._started:
      raise ValueError(f'profiler: {action!r} was not started')
    self.add(action, self._now() - self._started.pop(action))

  @contextlib.contextmanager
  def profile(self, action: str) -> Iterator[None]:
    self.start(action)
    try:
      yield
    finally:
      self.stop(action)

  def report(self, total: Optional[float] = None) -> List[Dict[str, float]]:
    """One row per action, largest total first: ``action, mean_s, std_s, calls,
    total_s, percent`` (of ``total``, by default the time since the profiler was made)."""
    total = total if total is not None else self._now() - self._t0
    rows = []
    for action, values in self.durations.items():
      n = len(values)
      mean = sum(values) / n
      std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
      rows.append(
        {
          'action': action,
          'mean_s': mean,
          'std_s': std,
          'calls': n,
          'total_s': sum(values),
          'percent': 100.0 * sum(values) / total if total > 0 else 0.0,
        }
      )
    rows.sort(key=lambda r: -r['total_s'])
    return rows

  def summary(self, total: Optional[float] = None) -> str:
    """AlgoPerf's profiler table as text."""
    total = total if total is not None else self._now() - self._t0
    rows = self.report(total)
    width = max([len('Action')] + [len(r['action']) for r in rows])
    head = (
      f'{"Action":<{width}} | {"Mean (s)":>10} | {"Std (s)":>10} | {"Calls":>7} | '
      f'{"Total (s)":>10} | {"Percent":>7}'
    )
    lines = ['Profiler report', head, '-' * len(head)]
    lines.append(
      f'{"Total":<{width}} | {"-":>10} | {"-":>10} | {"-":>7} | {total:>10.4f} | {100:>6.1f}%'
    )
    for r in rows:
      lines.append(
        f'{r["action"]:<{width}} | {r["mean_s"]:>10.5f} | {r["std_s"]:>10.5f} | '
        f'{r["calls"]:>7d} | {r["total_s"]:>10.4f} | {r["percent"]:>6.1f}%'
      )
    return '\n'.join(lines)


class PassThroughProfiler(Profiler):
  """A profiler that records nothing (AlgoPerf's default without ``--profile``)."""

  def add(self, action: str, seconds: float) -> None:
    pass

  def start(self, action: str) -> None:
    pass

  def stop(self, action: str) -> None:
    pass
