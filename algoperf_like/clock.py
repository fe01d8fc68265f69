"""The submission clock: device-synchronised readings and a time account.

JAX dispatches work asynchronously: a function returns before the device has
finished. A clock read right after ``update_params`` returns would therefore
charge pending submission work to whatever is timed next (AlgoPerf's untimed
evaluation). Every reading that enters the record here is taken with
``read(wait_for=...)``, which blocks on the given arrays first.

:class:`TimeAccount` says where every second of a trial went; its categories
add up to the wall clock of the trial, which is checked at the end.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict

# 'integrity': the run-time checks between submission calls (algoperf_like.integrity).
CATEGORIES = ('setup', 'submission', 'eval', 'logging', 'checkpoint', 'integrity')


def block_until_ready(tree: Any) -> None:
  """Wait until the device has computed every JAX array in ``tree``."""
  import jax  # Imported lazily so that the clock is testable without a device.

  for leaf in jax.tree.leaves(tree):
    if isinstance(leaf, jax.Array):
      leaf.block_until_ready()


class Clock:
  """A monotonic clock whose readings can wait for the device first.

  Args:
    now: the time source (``time.perf_counter``; replaceable in tests).
    block: waits for a pytree of arrays (``block_until_ready``).
  """

  def __init__(
    self,
    now: Callable[[], float] = time.perf_counter,
    block: Callable[[Any], None] = block_until_ready,
  ) -> None:
    self._now = now
    self._block = block

  def read(self, wait_for: Any = None) -> float:
    """Seconds on a monotonic clock, after the device finished ``wait_for``."""
    if wait_for is not None:
      self._block(wait_for)
    return self._now()

  def peek(self) -> float:
    """An unsynchronised reading: for scheduling decisions only, never for the record."""
    return self._now()


@dataclasses.dataclass
class TimeAccount:
  """Seconds spent per category, plus the wall clock that they must add up to."""

  seconds: Dict[str, float] = dataclasses.field(
    default_factory=lambda: {c: 0.0 for c in CATEGORIES}
  )

  def add(self, category: str, seconds: float) -> None:
    if category not in self.seconds:
      raise KeyError(f'unknown time category {category!r}; expected one of {CATEGORIES}')
    self.seconds[category] += seconds

  @property
  def total(self) -> float:
    return sum(self.seconds.values())

  def discrepancy(self, wall_seconds: float) -> float:
    """Wall clock minus the sum of the categories (time the account lost)."""
    return wall_seconds - self.total

  def adds_up(self, wall_seconds: float, rel: float = 0.02, abs_s: float = 1.0) -> bool:
    """Whether the categories add up to the wall clock within 2% or 1 s."""
    return abs(self.discrepancy(wall_seconds)) <= max(rel * wall_seconds, abs_s)

  def as_dict(self) -> Dict[str, float]:
    return {f'{c}_time_s': round(v, 6) for c, v in self.seconds.items()}
