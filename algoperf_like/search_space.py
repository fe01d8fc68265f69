"""Tuning search spaces: parsing, validation and AlgoPerf-exact quasirandom search.

A tuning search space is the ``tuning_search_space.json`` file that an
external-tuning submission ships.  Two formats are accepted, as in MLCommons
AlgoPerf:

1. A JSON object mapping each hyperparameter name to one of

   * ``{"min": a, "max": b, "scaling": "log" | "linear"}`` -- a continuous
     range ``[a, b]``;
   * ``{"feasible_points": [p_0, ..., p_{K-1}]}`` -- a discrete set (the
     values may be of any JSON type and are returned unchanged).

   Points are drawn from it with AlgoPerf's scrambled, shifted Halton sequence
   (see :func:`halton_sequence`), so that for the same space and number of
   trials the drawn *set* of points is bit-for-bit the set that
   ``algoperf.halton.generate_search(space, num_trials)`` draws.

2. A JSON list of fixed points, each an object ``{name: value}``; every point
   must have the same keys.

Differences from AlgoPerf (deliberate):

* AlgoPerf shuffles the drawn points with numpy's *global, unseeded* RNG, so
  the order (and therefore which point becomes ``trial_1``) is not
  reproducible.  Here the order comes from a seeded
  :class:`numpy.random.Generator` and is returned so that it can be recorded.
* Spaces are fully validated up front; an invalid space raises a one-line
  :class:`SearchSpaceError` naming the file (when known), the key and the
  problem, instead of failing half-way through a run with a ``KeyError``.

This module only depends on numpy and the standard library and does nothing at
import time.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import keyword
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = [
  'HALTON_SKIP',
  'SearchSpaceError',
  'RangeParameter',
  'DiscreteParameter',
  'SearchSpace',
  'QuasirandomDraw',
  'parse_search_space',
  'load_search_space',
  'halton_primes',
  'scrambled_radical_inverse',
  'halton_sequence',
  'scale_unit_value',
  'quasirandom_points',
  'quasirandom_search',
  'generate_search',
  'make_hyperparameters',
]

#: Number of leading Halton points AlgoPerf discards (``skip=100``).
HALTON_SKIP = 100

_SCALINGS = ('log', 'linear')
_RANGE_KEYS = frozenset({'min', 'max', 'scaling'})
_DISCRETE_KEYS = frozenset({'feasible_points'})


class SearchSpaceError(ValueError):
  """An invalid tuning search space.

  The message is a single line of the form
  ``"<source>: <key>: <problem>"`` (``<source>:`` is omitted when the space
  did not come from a file, ``<key>:`` when the problem is not tied to one
  hyperparameter).  ``source``, ``key`` and ``problem`` are also available as
  attributes.
  """

  def __init__(self, problem: str, *, key: str | None = None, source: str | None = None):
    self.problem = ' '.join(str(problem).split())  # force a single line
    self.key = key
    self.source = source
    parts = []
    if source is not None:
      parts.append(str(source))
    if key is not None:
      parts.append(f'hyperparameter {key!r}')
    parts.append(self.problem)
    super().__init__(': '.join(parts))


@dataclasses.dataclass(frozen=True)
class RangeParameter:
  """A continuous hyperparameter ``name`` in ``[min, max]``.

  ``min``/``max`` keep the numeric type they were given (int or float) so that
  the scaling arithmetic is exactly AlgoPerf's.
  """

  name: str
  min: float
  max: float
  scaling: str  # "log" or "linear"

  def to_json(self) -> dict[str, Any]:
    return {'min': self.min, 'max': self.max, 'scaling': self.scaling}


@dataclasses.dataclass(frozen=True)
class DiscreteParameter:
  """A discrete hyperparameter drawn uniformly from ``feasible_points``."""

  name: str
  feasible_points: tuple

  def to_json(self) -> dict[str, Any]:
    return {'feasible_points': list(self.feasible_points)}


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """A validated tuning search space.

  Exactly one of ``parameters`` (a quasirandom space; key order of the JSON
  object is kept because it decides which Halton dimension, i.e. which prime
  base, each hyperparameter gets) and ``fixed_points`` (a list of fixed
  points) is set.  ``source`` is the file the space was loaded from, if any.
  """

  parameters: tuple[RangeParameter | DiscreteParameter, ...] | None = None
  fixed_points: tuple[Mapping[str, Any], ...] | None = None
  source: str | None = None

  @property
  def kind(self) -> str:
    """``"quasirandom"`` for a dict space, ``"fixed"`` for a list of points."""
    return 'quasirandom' if self.parameters is not None else 'fixed'

  @property
  def is_fixed(self) -> bool:
    return self.fixed_points is not None

  @property
  def names(self) -> tuple[str, ...]:
    """Hyperparameter names, in file order."""
    if self.parameters is not None:
      return tuple(p.name for p in self.parameters)
    return tuple(self.fixed_points[0].keys())

  def __len__(self) -> int:
    """Number of dimensions (quasirandom) or of points (fixed)."""
    if self.parameters is not None:
      return len(self.parameters)
    return len(self.fixed_points)

  def to_json(self) -> dict[str, Any] | list[dict[str, Any]]:
    """The space in AlgoPerf's JSON format (round-trips through the parser)."""
    if self.parameters is not None:
      return {p.name: p.to_json() for p in self.parameters}
    return [dict(p) for p in self.fixed_points]


# ----------------------------------------------------------------------------
# Parsing and validation.
# ----------------------------------------------------------------------------


def _check_name(name: Any, source: str | None) -> str:
  if not isinstance(name, str) or not name:
    raise SearchSpaceError(
      f'hyperparameter names must be non-empty strings, got {name!r}', source=source
    )
  # Submissions read hyperparameters by attribute (``hyperparameters.lr``), and
  # AlgoPerf builds a namedtuple from the names, so they must be identifiers.
  if not name.isidentifier() or keyword.iskeyword(name) or name.startswith('_'):
    raise SearchSpaceError(
      'name is not usable as an attribute (must be a Python identifier, not '
      "a keyword, not starting with '_')",
      key=name,
      source=source,
    )
  return name


def _check_bound(value: Any, which: str, name: str, source: str | None) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise SearchSpaceError(
      f'{which!r} must be a number, got {value!r} ({type(value).__name__})', key=name, source=source
    )
  if not math.isfinite(value):
    raise SearchSpaceError(f'{which!r} must be finite, got {value!r}', key=name, source=source)
  return value


def _parse_entry(name: str, entry: Any, source: str | None) -> RangeParameter | DiscreteParameter:
  if not isinstance(entry, Mapping):
    raise SearchSpaceError(
      "entry must be an object with 'min'/'max'/'scaling' or "
      f"'feasible_points', got {type(entry).__name__}",
      key=name,
      source=source,
    )
  keys = set(entry.keys())
  unknown = sorted(str(k) for k in keys - _RANGE_KEYS - _DISCRETE_KEYS)
  if unknown:
    raise SearchSpaceError(
      f'unknown entry key(s) {", ".join(repr(k) for k in unknown)} '
      "(allowed: 'min', 'max', 'scaling' or 'feasible_points')",
      key=name,
      source=source,
    )
  if 'feasible_points' in keys:
    if keys & _RANGE_KEYS:
      extra = ', '.join(repr(k) for k in sorted(keys & _RANGE_KEYS))
      raise SearchSpaceError(
        f"'feasible_points' cannot be combined with {extra}", key=name, source=source
      )
    points = entry['feasible_points']
    if not isinstance(points, (list, tuple)):
      raise SearchSpaceError(
        f"'feasible_points' must be a list, got {type(points).__name__}", key=name, source=source
      )
    if len(points) == 0:
      raise SearchSpaceError("'feasible_points' is empty", key=name, source=source)
    return DiscreteParameter(name=name, feasible_points=tuple(points))

  missing = [k for k in ('min', 'max', 'scaling') if k not in keys]
  if missing:
    raise SearchSpaceError(
      f'missing key(s) {", ".join(repr(k) for k in missing)} '
      "(a range needs 'min', 'max' and 'scaling')",
      key=name,
      source=source,
    )
  scaling = entry['scaling']
  if scaling not in _SCALINGS:
    raise SearchSpaceError(
      f"unknown scaling {scaling!r} (expected 'log' or 'linear')", key=name, source=source
    )
  lo = _check_bound(entry['min'], 'min', name, source)
  hi = _check_bound(entry['max'], 'max', name, source)
  if lo > hi:
    raise SearchSpaceError(f'min ({lo!r}) > max ({hi!r})', key=name, source=source)
  if scaling == 'log' and lo <= 0:
    raise SearchSpaceError(
      f'log scaling needs positive bounds, got min={lo!r}, max={hi!r}', key=name, source=source
    )
  return RangeParameter(name=name, min=lo, max=hi, scaling=scaling)


def _parse_fixed_points(points: Sequence[Any], source: str | None) -> tuple[dict[str, Any], ...]:
  parsed = []
  first_keys = None
  for i, point in enumerate(points):
    if not isinstance(point, Mapping):
      raise SearchSpaceError(
        f'fixed point #{i} must be an object of hyperparameter values, got {type(point).__name__}',
        source=source,
      )
    if len(point) == 0:
      raise SearchSpaceError(f'fixed point #{i} is empty', source=source)
    for name in point:
      _check_name(name, source)
    keys = list(point.keys())
    if first_keys is None:
      first_keys = keys
    elif set(keys) != set(first_keys):
      missing = [k for k in first_keys if k not in point]
      extra = [k for k in keys if k not in first_keys]
      key = (missing or extra)[0]
      detail = []
      if missing:
        detail.append(f'missing {", ".join(repr(k) for k in missing)}')
      if extra:
        detail.append(f'extra {", ".join(repr(k) for k in extra)}')
      raise SearchSpaceError(
        f'fixed point #{i} has different keys than fixed point #0 ({"; ".join(detail)})',
        key=key,
        source=source,
      )
    # Keep the key order of the first point for every point.
    parsed.append({k: point[k] for k in first_keys})
  return tuple(parsed)


def parse_search_space(obj: Any, source: str | os.PathLike | None = None) -> SearchSpace:
  """Validate a decoded ``tuning_search_space.json`` and return a SearchSpace.

  Args:
    obj: a dict ``{name: entry}`` (see module docstring) or a non-empty list of
      fixed points (dicts with identical keys).  A :class:`SearchSpace` is
      returned unchanged.
    source: where the object came from (used in error messages).

  Raises:
    SearchSpaceError: one line naming ``source``, the offending key and the
      problem.
  """
  if isinstance(obj, SearchSpace):
    return obj
  src = None if source is None else os.fspath(source)
  if isinstance(obj, Mapping):
    if len(obj) == 0:
      raise SearchSpaceError('search space is empty (no hyperparameters)', source=src)
    params = []
    for name, entry in obj.items():
      _check_name(name, src)
      params.append(_parse_entry(name, entry, src))
    return SearchSpace(parameters=tuple(params), source=src)
  if isinstance(obj, (list, tuple)):
    if len(obj) == 0:
      raise SearchSpaceError('search space is empty (no fixed points)', source=src)
    return SearchSpace(fixed_points=_parse_fixed_points(obj, src), source=src)
  raise SearchSpaceError(
    'search space must be a JSON object {name: {...}} or a list of fixed '
    f'points, got {type(obj).__name__}',
    source=src,
  )


def _no_duplicate_keys(source: str):
  def hook(pairs):
    seen = {}
    for key, value in pairs:
      if key in seen:
        raise SearchSpaceError(
          'duplicate key in JSON object (JSON loaders silently keep the last value)',
          key=key,
          source=source,
        )
      seen[key] = value
    return seen

  return hook


def load_search_space(path: str | os.PathLike) -> SearchSpace:
  """Read, parse and validate a ``tuning_search_space.json`` file.

  Raises:
    SearchSpaceError: file missing/unreadable, invalid JSON (message names the
      file, line and column), duplicate keys, or any problem reported by
      :func:`parse_search_space`.
  """
  src = os.fspath(path)
  try:
    with open(src, 'r', encoding='utf-8') as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise SearchSpaceError(f'cannot read search space file: {e}', source=src) from e
  try:
    obj = json.loads(text, object_pairs_hook=_no_duplicate_keys(src))
  except json.JSONDecodeError as e:
    raise SearchSpaceError(
      f'invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}', source=f'{src}:{e.lineno}'
    ) from e
  return parse_search_space(obj, source=src)


# ----------------------------------------------------------------------------
# AlgoPerf's scrambled Halton sequence.
# ----------------------------------------------------------------------------


def _odd_primes_below(n: int) -> list[int]:
  """All odd primes p < n (2 excluded), ascending (sieve of Eratosthenes)."""
  if n <= 3:
    return []
  is_prime = bytearray([1]) * n
  is_prime[0:2] = b'\x00\x00'
  for p in range(2, math.isqrt(n - 1) + 1):
    if is_prime[p]:
      is_prime[p * p :: p] = bytearray(len(range(p * p, n, p)))
  return [p for p in range(3, n) if is_prime[p]]


@functools.lru_cache(maxsize=None)
def halton_primes(num_dims: int) -> tuple[int, ...]:
  """The prime bases AlgoPerf uses for a ``num_dims``-dimensional sequence.

  Let ``P_k`` be the ascending list of odd primes below ``1000 k`` and ``k``
  the smallest positive integer with ``|P_k| >= num_dims + 1``.  The bases are
  the ``num_dims`` primes just before the largest one:
  ``P_k[-num_dims-1 : -1]``.  E.g. ``num_dims=3`` gives ``(977, 983, 991)``
  (997, the largest prime below 1000, is never used).  Dimension ``d`` (the
  ``d``-th hyperparameter in file order) uses base ``P_k[-num_dims-1+d]``.
  """
  if num_dims < 1:
    raise ValueError(f'num_dims must be >= 1, got {num_dims}')
  k = 1
  while True:
    primes = _odd_primes_below(1000 * k)
    if len(primes) >= num_dims + 1:
      return tuple(primes[-num_dims - 1 : -1])
    k += 1


@functools.lru_cache(maxsize=None)
def _scramble(base: int) -> tuple[tuple[int, ...], float]:
  """Digit permutation and shift of one dimension, as AlgoPerf draws them.

  A legacy ``numpy.random.RandomState(base)`` (MT19937) shuffles the list
  ``[1, ..., base-1]`` (Fisher-Yates); prepending 0 gives the digit
  permutation ``sigma`` with ``sigma(0) = 0``.  The *next* draw of the same
  stream, ``random_sample()``, is the shift ``u`` in ``[0, 1)``.
  """
  stream = np.random.RandomState(base)
  digits = list(range(1, base))
  stream.shuffle(digits)
  shift = float(stream.random_sample())
  return (0, *digits), shift


def scrambled_radical_inverse(index: int, base: int, sigma: Sequence[int]) -> float:
  """Scrambled radical inverse ``phi_b^sigma(i)``.

  Writing ``i = sum_{k>=0} a_k b^k`` with digits ``a_k in {0..b-1}``, the
  (plain) radical inverse is ``phi_b(i) = sum_k a_k b^-(k+1)``: the base-``b``
  digits of ``i`` mirrored about the radix point.  The scrambled version maps
  every digit through the permutation ``sigma`` first:
  ``phi_b^sigma(i) = sum_k sigma(a_k) / b^(k+1)``.

  Floating point: terms are added least-significant digit first, each term is
  the correctly rounded quotient of the integers ``sigma(a_k)`` and
  ``b^(k+1)`` -- the same operations, in the same order, as AlgoPerf, so the
  result is bit-identical.
  """
  total = 0.0
  scale = base
  i = index
  while i > 0:
    i, digit = divmod(i, base)
    total += sigma[digit] / scale
    scale *= base
  return total


def halton_sequence(
  num_samples: int, num_dims: int, skip: int = HALTON_SKIP
) -> list[tuple[float, ...]]:
  """Points ``skip+1 .. skip+num_samples`` of AlgoPerf's Halton sequence.

  The ``i``-th point (``i >= 1``) of the ``num_dims``-dimensional sequence is

      x_i = ( frac(phi_{b_d}^{sigma_d}(i) + u_d) )_{d = 0..num_dims-1}

  where ``b_d = halton_primes(num_dims)[d]`` is the base of dimension ``d``,
  ``phi_b^sigma`` is the scrambled radical inverse
  (:func:`scrambled_radical_inverse`), ``sigma_d`` and the shift ``u_d`` come
  from ``RandomState(b_d)`` (:func:`_scramble`), and ``frac(y) = fmod(y, 1)``.
  The first ``skip`` (default 100) points are dropped because early points of
  Halton sequences with large bases are strongly correlated across
  dimensions.  The result is in *sequence order* (AlgoPerf would shuffle it
  with the global numpy RNG; callers here shuffle with a seeded generator).

  Because point ``i`` does not depend on ``num_samples``, the first ``n``
  points of a longer draw are exactly the points of a draw of size ``n``.
  """
  if num_samples < 0:
    raise ValueError(f'num_samples must be >= 0, got {num_samples}')
  if skip < 0:
    raise ValueError(f'skip must be >= 0, got {skip}')
  columns = []
  for base in halton_primes(num_dims):
    sigma, shift = _scramble(base)
    columns.append(
      [
        math.fmod(scrambled_radical_inverse(i, base, sigma) + shift, 1.0)
        for i in range(skip + 1, skip + num_samples + 1)
      ]
    )
  return list(zip(*columns))


def scale_unit_value(param: RangeParameter | DiscreteParameter, u: float) -> Any:
  """Map a unit-interval coordinate ``u in [0, 1)`` to a hyperparameter value.

  * log range:     ``min * exp(u * ln(max / min))``  (log-uniform);
  * linear range:  ``u * (max - min) + min``          (uniform);
  * feasible points ``p_0..p_{K-1}``: ``p_{floor(u K)}`` (each point gets an
    equal share of the unit interval).  The index is clamped to ``K-1``
    (only reachable through rounding, where AlgoPerf would raise IndexError).

  Ranges return Python floats; feasible points are returned as given.
  """
  if isinstance(param, DiscreteParameter):
    n = len(param.feasible_points)
    return param.feasible_points[min(int(math.floor(u * n)), n - 1)]
  if param.scaling == 'log':
    return float(param.min * math.exp(u * math.log(param.max / param.min)))
  return float(u * (param.max - param.min) + param.min)


def _require_quasirandom(space: SearchSpace) -> None:
  if space.parameters is None:
    raise ValueError(
      'quasirandom search needs a dict search space; this space is a list of fixed points'
    )


def quasirandom_points(
  space: SearchSpace | Mapping | Sequence, num_points: int, skip: int = HALTON_SKIP
) -> list[dict[str, Any]]:
  """The first ``num_points`` quasirandom points of ``space``, in Halton order.

  Element ``j`` is the ``(skip + 1 + j)``-th Halton point
  (:func:`halton_sequence`), each coordinate mapped by
  :func:`scale_unit_value`; hyperparameter ``d`` in file order uses Halton
  dimension ``d``.  As a set, this equals what
  ``algoperf.halton.generate_search(space, num_points)`` returns.
  """
  space = parse_search_space(space)
  _require_quasirandom(space)
  params = space.parameters
  return [
    {p.name: scale_unit_value(p, u) for p, u in zip(params, point)}
    for point in halton_sequence(num_points, len(params), skip=skip)
  ]


@dataclasses.dataclass(frozen=True)
class QuasirandomDraw:
  """A shuffled quasirandom draw and how it was shuffled.

  ``points[j] == quasirandom_points(space, n)[order[j]]``; the Halton sequence
  index of ``points[j]`` is ``halton_indices[j] = skip + 1 + order[j]``.
  """

  points: tuple[dict[str, Any], ...]
  order: tuple[int, ...]
  halton_indices: tuple[int, ...]

  def to_json(self) -> dict[str, Any]:
    return {
      'points': [dict(p) for p in self.points],
      'order': list(self.order),
      'halton_indices': list(self.halton_indices),
    }


def _as_generator(rng: np.random.Generator | int | np.random.SeedSequence) -> np.random.Generator:
  if isinstance(rng, np.random.Generator):
    return rng
  if rng is None:
    raise ValueError('an explicit seed or numpy Generator is required')
  return np.random.default_rng(rng)


def quasirandom_search(
  space: SearchSpace | Mapping | Sequence,
  num_trials: int,
  rng: np.random.Generator | int | np.random.SeedSequence,
  skip: int = HALTON_SKIP,
) -> QuasirandomDraw:
  """AlgoPerf's ``generate_search`` with a seeded, recorded shuffle.

  Draws the same set of ``num_trials`` points as AlgoPerf, then orders them
  by ``rng.permutation(num_trials)`` (``rng`` a ``numpy.random.Generator`` or
  a seed for ``numpy.random.default_rng``).
  """
  points = quasirandom_points(space, num_trials, skip=skip)
  order = [int(k) for k in _as_generator(rng).permutation(num_trials)]
  return QuasirandomDraw(
    points=tuple(points[k] for k in order),
    order=tuple(order),
    halton_indices=tuple(skip + 1 + k for k in order),
  )


def generate_search(
  space: SearchSpace | Mapping | Sequence,
  num_trials: int,
  rng: np.random.Generator | int | np.random.SeedSequence = 0,
) -> list[tuple]:
  """Drop-in for ``algoperf.halton.generate_search`` returning namedtuples.

  Dict spaces: :func:`quasirandom_search` (seeded order).  Fixed lists: like
  AlgoPerf, the first ``min(num_trials, len(points))`` points in file order.
  """
  space = parse_search_space(space)
  if space.is_fixed:
    return [make_hyperparameters(p) for p in space.fixed_points[:num_trials]]
  draw = quasirandom_search(space, num_trials, rng)
  return [make_hyperparameters(p) for p in draw.points]


# ----------------------------------------------------------------------------
# Hyperparameters objects handed to submissions.
# ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _hyperparameters_class(fields: tuple[str, ...]) -> type:
  return collections.namedtuple('Hyperparameters', fields)


def make_hyperparameters(values: Mapping[str, Any]) -> tuple:
  """A ``Hyperparameters`` namedtuple with fields in the mapping's order.

  This matches what AlgoPerf passes to submissions (attribute access
  ``hyperparameters.learning_rate``, ``._asdict()``, ``._fields``);
  namedtuples are immutable.  Raises :class:`SearchSpaceError` if a name is
  not a valid attribute name.
  """
  if isinstance(values, tuple) and hasattr(values, '_asdict'):
    values = values._asdict()
  for name in values:
    _check_name(name, None)
  return _hyperparameters_class(tuple(values.keys()))(**values)
