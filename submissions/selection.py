r"""What the data-selection baselines share: NAdamW plus a selection state.

Every data-selection baseline (``uniform``, ``rs2``, ``online_batch_selection``,
``selective_backprop``) trains with the ``nadamw`` baseline's update
(:func:`algoperf_like.submissions.nadamw.submission.make_optimizer` and the jitted train step
of :mod:`algoperf_like.submissions.shared`); they differ only in ``data_selection``, which the
harness times like ``update_params``.

**State.** ``data_selection`` receives the optimizer state but cannot return
one, so a method whose choices depend on the past keeps that past in numpy
arrays inside the optimizer state (:class:`SelectionState`) and updates them
*in place*; ``update_params`` passes the same arrays on untouched. Numpy arrays
are array leaves, so the harness checkpoints them after every evaluation and
restores them on resume, and the selection continues where it stopped (the
state as of the checkpoint: the steps after it are redone, as they are for the
parameters). Python objects other than arrays (the optax transformation) are
rebuilt by ``init_optimizer_state``, so state kept in Python objects (a list,
a set, a dict of ints) would silently restart on resume: RS2 would begin a new
round and pass, repeating examples, and Selective Backprop would forget its loss
history. Hence everything the methods rely on is a numpy array in the
optimizer state.

**Loss-based selection** scores candidates with one forward pass in
``ForwardPassMode.EVAL`` and the workload's ``loss_fn(...)['per_example']``,
jitted once per backend and reused (as :mod:`algoperf_like.submissions.shared` does for the
train step).

References:
  Okanovic et al., 2023, "Repeated Random Sampling for Minimizing the
  Time-to-Accuracy of Learning", https://arxiv.org/abs/2305.18424.
  Loshchilov & Hutter, 2015, "Online Batch Selection for Faster Training of
  Neural Networks", https://arxiv.org/abs/1511.06343.
  Jiang et al., 2019, "Accelerating Deep Learning by Focusing on the Biggest
  Losers", https://arxiv.org/abs/1910.00762.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Dict, List, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.submissions import shared
from algoperf_like.submissions.nadamw.submission import make_optimizer

Batch = Dict[str, Any]


class SelectionState(NamedTuple):
  """Optimizer state of a data-selection baseline.

  Attributes:
    base: the NAdamW state (:class:`algoperf_like.submissions.shared.OptaxState`).
    selection: the method's own state, a NamedTuple of numpy arrays that
      ``data_selection`` updates in place (checkpointed with the rest).
  """

  base: shared.OptaxState
  selection: Any


def init_state(workload: spec.Workload, hyperparameters, selection: Any) -> SelectionState:
  """NAdamW's state for ``workload`` (schedule over ``step_hint``) plus ``selection``."""
  tx = make_optimizer(workload.step_hint, hyperparameters)
  return SelectionState(shared.init_optax_state(workload, tx), selection)


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
  """NAdamW's step on ``optimizer_state.base``, ending the trial once its LR is 0.

  As :func:`algoperf_like.submissions.shared.update_params_until_zero_lr` (the cosine schedule is
  zero from ``step_hint`` on); the selection state passes through unchanged.
  """
  base, params, model_state = shared.update_params_until_zero_lr(
    workload,
    current_param_container,
    current_params_types,
    model_state,
    hyperparameters,
    batch,
    loss_type,
    optimizer_state.base,
    eval_results,
    global_step,
    rng,
    train_state,
  )
  return optimizer_state._replace(base=base), params, model_state


def key_seed(rng) -> np.ndarray:
  """The words of a JAX key (raw ``uint32[2]`` or typed) as a ``uint32`` numpy array."""
  if jnp.issubdtype(jnp.asarray(rng).dtype, jax.dtypes.prng_key):
    rng = jax.random.key_data(rng)
  return np.asarray(rng, dtype=np.uint32).ravel()


# ----- Host-side batch plumbing. -----
def to_host(batch: Batch) -> Batch:
  """The batch as numpy arrays (a no-op for the host batches of one device)."""
  return {k: np.asarray(v) for k, v in batch.items()}


def take(batch: Batch, index: np.ndarray) -> Batch:
  """Rows ``index`` of every array of ``batch``."""
  return {k: v[index] for k, v in batch.items()}


def concatenate(parts: List[Batch]) -> Batch:
  """The rows of ``parts``, in order, as one batch, placed as the input queue places
  batches (sharded over the devices when there are several)."""
  batch = (
    parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
  )
  return jax_sharding_utils.place_batch(batch)


def valid_rows(batch: Batch) -> np.ndarray:
  """``bool[B]``: rows with positive weight (real examples, not padding)."""
  weights = np.asarray(batch['weights'])
  return weights.reshape(len(weights), -1).sum(axis=1) > 0


def require_example_ids(batch: Batch) -> np.ndarray:
  """``batch['example_id']`` as ``int64``; a clear error for a queue without ids."""
  if 'example_id' not in batch:
    raise KeyError("this selection method needs batch['example_id'] from the input queue")
  return np.asarray(batch['example_id']).astype(np.int64)


# ----- RS2: repeated random sampling without replacement. -----
class RS2State(NamedTuple):
  r"""Per-example state of RS2 without replacement (all numpy, updated in place).

  Pass :math:`p` shuffles the :math:`N` examples with a permutation drawn from
  ``(seed, p)``; its rounds are consecutive chunks of :math:`m` positions.

  Attributes:
    seed: ``uint32[2]``: seeds the permutation of every pass.
    round: ``int64[]``: rounds finished so far, over all passes.
    rank: ``int64[N]``: each example's position in the current pass's permutation.
    used: ``bool[N]``: trained on in the current round.
  """

  seed: np.ndarray
  round: np.ndarray
  rank: np.ndarray
  used: np.ndarray


def rs2_round_size(num_examples: int, fraction: float) -> int:
  r""":math:`m = \lceil f N \rceil` (at least 1, at most N)."""
  return min(num_examples, max(1, math.ceil(fraction * num_examples)))


def rs2_pass_ranks(seed: np.ndarray, pass_index: int, num_examples: int) -> np.ndarray:
  """Position of each example in pass ``pass_index``'s permutation."""
  order = np.random.default_rng([*seed.tolist(), pass_index]).permutation(num_examples)
  rank = np.empty(num_examples, np.int64)
  rank[order] = np.arange(num_examples)
  return rank


def rs2_init(num_examples: int, rng) -> RS2State:
  """State at the start of round 0 of pass 0."""
  seed = key_seed(rng)
  return RS2State(
    seed=seed,
    round=np.zeros((), np.int64),
    rank=rs2_pass_ranks(seed, 0, num_examples),
    used=np.zeros(num_examples, bool),
  )


def rs2_members(state: RS2State, ids: np.ndarray, round_size: int) -> np.ndarray:
  """``bool``: which of ``ids`` belong to the current round's subset."""
  rounds_per_pass = math.ceil(len(state.rank) / round_size)
  chunk = int(state.round) % rounds_per_pass
  return state.rank[ids] // round_size == chunk


def rs2_finish_round_if_done(state: RS2State, round_size: int) -> None:
  """Start the next round (and pass) once every member of this one was trained on."""
  n = len(state.rank)
  rounds_per_pass = math.ceil(n / round_size)
  chunk = int(state.round) % rounds_per_pass
  members = min(round_size, n - chunk * round_size)
  if np.count_nonzero(state.used) < members:
    return
  state.round[()] += 1
  state.used[:] = False
  if int(state.round) % rounds_per_pass == 0:  # A new pass: a new permutation.
    state.rank[:] = rs2_pass_ranks(state.seed, int(state.round) // rounds_per_pass, n)


def rs2_select(state: RS2State, input_queue, batch_size: int, fraction: float) -> Batch:
  r"""The next ``batch_size`` examples of RS2 without replacement; updates ``state``.

  Draws candidate batches from ``input_queue`` (uniform, epoch-wise) and keeps
  each candidate that belongs to the current round's subset and was not yet
  trained on in this round; when the round is complete, the next one begins,
  so a batch may straddle two rounds. Candidates not kept are dropped.
  """
  round_size = rs2_round_size(len(state.rank), fraction)
  parts, filled = [], 0
  while filled < batch_size:
    candidates = to_host(next(input_queue))
    ids = require_example_ids(candidates)
    if ids.size and (ids.min() < 0 or ids.max() >= len(state.rank)):
      raise ValueError(f'example_id outside [0, {len(state.rank)}): not a training id')
    keep = valid_rows(candidates) & rs2_members(state, ids, round_size) & ~state.used[ids]
    index = np.flatnonzero(keep)[: batch_size - filled]
    state.used[ids[index]] = True
    rs2_finish_round_if_done(state, round_size)
    parts.append(take(candidates, index))
    filled += len(index)
  return concatenate(parts)


# ----- Loss-based selection: one jitted forward pass. -----
def per_example_losses(
  workload: spec.Workload, label_smoothing: float, params, model_state, batch: Batch, rng
) -> jax.Array:
  """``float[B]``: each example's training loss (EVAL mode); ``-inf`` for padding rows."""
  logits, _ = workload.model_fn(
    params, batch, model_state, spec.ForwardPassMode.EVAL, rng, update_batch_norm=False
  )
  weights = batch['weights']
  losses = workload.loss_fn(batch['targets'], logits, weights, label_smoothing)['per_example']
  losses = losses.reshape(losses.shape[0], -1).sum(axis=1)  # Sum over tokens, if any.
  valid = weights.reshape(weights.shape[0], -1).sum(axis=1) > 0
  return jnp.where(valid, losses, -jnp.inf)


def rank_based_selection(losses: jax.Array, num: int, pressure: float, rng) -> jax.Array:
  r"""Indices of ``num`` examples drawn without replacement by loss rank.

  Loshchilov & Hutter (2015): the example of rank :math:`r` (0: largest loss)
  among :math:`M` candidates is drawn with probability

  .. math::
    p_r \propto \exp\bigl(-\log(s)\, r / M\bigr),

  so that the most and the least lossy candidates differ by the factor
  :math:`s` (the selection pressure). Drawing without replacement uses the
  Gumbel-top-k trick. :math:`s = \infty` takes the ``num`` largest losses
  (deterministic max-loss selection); :math:`s = 1` is uniform.

  Args:
    losses: ``float[M]`` per-example losses (``-inf``: never drawn unless needed).
    num: how many to draw (``num <= M``).
    pressure: the selection pressure :math:`s \ge 1` (a Python float; ``inf``
      for top-``num``).
    rng: a JAX key (unused when ``pressure`` is infinite).

  Returns:
    ``int32[num]`` indices into ``losses`` (largest first for infinite pressure).

  Examples:
    >>> losses = jnp.array([0.5, 3.0, 1.0, 2.0])
    >>> rank_based_selection(losses, 2, math.inf, None).tolist()
    [1, 3]
  """
  if math.isinf(pressure):
    return jax.lax.top_k(losses, num)[1]
  m = losses.shape[0]
  rank = jnp.argsort(jnp.argsort(-losses))
  log_p = -math.log(pressure) * rank / m
  log_p = jnp.where(jnp.isfinite(losses), log_p, -1e30)
  return jax.lax.top_k(log_p + jax.random.gumbel(rng, (m,)), num)[1]


def _select_by_loss(workload, label_smoothing, num, pressure, params, model_state, batch, rng):
  score_key, draw_key = jax.random.split(rng)
  losses = per_example_losses(workload, label_smoothing, params, model_state, batch, score_key)
  index = rank_based_selection(losses, num, pressure, draw_key)
  return jax.tree.map(lambda x: x[index], batch)


@functools.lru_cache(maxsize=None)
def jitted_select_by_loss(backend: str) -> Callable:
  """``select(workload, label_smoothing, num, pressure, params, model_state, batch, rng)``.

  One forward pass over the candidates, then :func:`rank_based_selection`; the
  chosen rows are gathered on the device (no host round trip), so the harness's
  dispatch pipeline stays full. Compiled once per shapes and static values.
  """
  del backend  # One cache entry per backend, like the shared train step.
  return jax.jit(_select_by_loss, static_argnums=(0, 1, 2, 3))


# ----- Selective Backprop. -----
class LossHistory(NamedTuple):
  """A ring buffer of the most recent per-example losses (numpy, updated in place).

  Attributes:
    losses: ``float32[R]``: the last ``R`` losses (slot ``i % R`` holds loss ``i``).
    count: ``int64[]``: losses written so far.
  """

  losses: np.ndarray
  count: np.ndarray


def history_init(size: int) -> LossHistory:
  return LossHistory(np.zeros(int(size), np.float32), np.zeros((), np.int64))


def history_append(history: LossHistory, losses: np.ndarray) -> None:
  """Write ``losses`` into the ring buffer (only the last ``R`` if there are more)."""
  size = len(history.losses)
  losses = np.asarray(losses, np.float32)[-size:]
  slots = (int(history.count) + np.arange(len(losses))) % size
  history.losses[slots] = losses
  history.count[()] += len(losses)


def history_values(history: LossHistory) -> np.ndarray:
  return history.losses[: min(int(history.count), len(history.losses))]


def selective_backprop_probability(
  losses: np.ndarray, recent: np.ndarray, beta: float
) -> np.ndarray:
  r"""Jiang et al. (2019): keep probability of each loss, from its percentile.

  .. math::
    P(\text{keep } i) = \Bigl(\frac{\lvert\{\, h \in H : h \le \ell_i \,\}\rvert}
    {\lvert H \rvert}\Bigr)^{\beta},

  with :math:`H` the recent losses (including the current candidates'). The
  largest recent loss is always kept; :math:`\beta = 0` keeps everything, and
  on average (losses spread like the history) a fraction :math:`1/(1+\beta)` is kept.

  Args:
    losses: ``float[M]`` the candidates' losses.
    recent: ``float[R]`` the history :math:`H` (non-empty).
    beta: the selectivity :math:`\beta \ge 0`.

  Returns:
    ``float64[M]`` probabilities in ``(0, 1]`` (0 only below every recent loss).

  Examples:
    >>> selective_backprop_probability(np.array([4.0, 2.0]), np.arange(1.0, 5.0), 2.0)
    array([1.  , 0.25])
  """
  recent = np.sort(np.asarray(recent, np.float64))
  percentile = np.searchsorted(recent, np.asarray(losses, np.float64), side='right')
  return (percentile / len(recent)) ** beta


def _losses_and_uniforms(workload, label_smoothing, params, model_state, batch, rng, i):
  score_key, draw_key = jax.random.split(jax.random.fold_in(rng, i))
  losses = per_example_losses(workload, label_smoothing, params, model_state, batch, score_key)
  return losses, jax.random.uniform(draw_key, losses.shape)


@functools.lru_cache(maxsize=None)
def jitted_losses_and_uniforms(backend: str) -> Callable:
  """``f(workload, label_smoothing, params, model_state, batch, rng, i)``: losses, U(0,1).

  One forward pass; the uniforms (from ``fold_in(rng, i)``) decide the keeps.
  """
  del backend
  return jax.jit(_losses_and_uniforms, static_argnums=(0, 1))


def selective_backprop_select(
  workload,
  input_queue,
  history: LossHistory,
  params,
  model_state,
  batch_size: int,
  beta: float,
  label_smoothing: float,
  rng,
) -> Batch:
  """Fill a batch with candidates kept by :func:`selective_backprop_probability`.

  Candidate batches come from ``input_queue`` one after another; each is scored
  (one jitted forward pass), its losses join ``history`` (updated in place), and
  each candidate is kept with its probability, until ``batch_size`` are kept
  (the surplus of the last candidate batch is dropped).
  """
  score = jitted_losses_and_uniforms(jax.default_backend())
  parts, filled, i = [], 0, 0
  while filled < batch_size:
    candidates = to_host(next(input_queue))
    losses, uniforms = jax.device_get(
      score(workload, label_smoothing, params, model_state, candidates, rng, i)
    )
    valid = np.isfinite(losses)
    history_append(history, losses[valid])
    keep = valid.copy()
    keep[valid] = uniforms[valid] < selective_backprop_probability(
      losses[valid], history_values(history), beta
    )
    index = np.flatnonzero(keep)[: batch_size - filled]
    parts.append(take(candidates, index))
    filled += len(index)
    i += 1
  return concatenate(parts)
