r"""Beam search over an autoregressive decoder, as AlgoPerf's WMT evaluation translates.

Each example keeps ``beam_size`` *live* hypotheses (not ended) and ``beam_size`` *finished*
ones (ended by EOS). A step extends every live hypothesis by every token, keeps the
``2 * beam_size`` best extensions by log-probability, sends those ending in EOS to the
finished set scored with the length penalty of Wu et al. (2016,
https://arxiv.org/abs/1609.08144)

.. math::
  s(y) = \frac{\log p(y)}{\bigl((5 + |y|) / 6\bigr)^{\alpha}},

and keeps the best ``beam_size`` others alive. The search stops at ``max_decode_len - 1``
steps, or once no live hypothesis can beat the worst finished one even at the longest length.

Hypotheses are sorted worst first along the beam axis, the best last (as AlgoPerf's, so
``seqs[:, -1]`` is the translation); ties go to the lower index of ``lax.top_k``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Tuple

import jax
import jax.numpy as jnp

EOS_ID = 2  # SentencePiece's default end-of-sentence id.
NEG_INF = -1.0e7  # Large but finite, so that sums stay ordered.


def length_penalty(alpha, length):
  """:math:`((5 + L) / 6)^\\alpha`."""
  return jnp.power((5.0 + length) / 6.0, alpha)


def _tile_beams(x: jnp.ndarray, beam_size: int) -> jnp.ndarray:
  """``[B, ...] -> [B, beam, ...]`` by repeating; scalars (cache indices) pass through."""
  if x.ndim < 2:
    return x
  return jnp.repeat(x[:, None], beam_size, axis=1)


def _merge(x: jnp.ndarray) -> jnp.ndarray:
  """``[B, beam, ...] -> [B * beam, ...]`` (each example's beams next to each other)."""
  return x if x.ndim < 2 else x.reshape((-1,) + x.shape[2:])


def _split(x: jnp.ndarray, batch_size: int) -> jnp.ndarray:
  return x if x.ndim < 2 else x.reshape((batch_size, -1) + x.shape[1:])


def repeat_for_beams(x: jnp.ndarray, beam_size: int) -> jnp.ndarray:
  """``[B, ...] -> [B * beam, ...]``: every example repeated ``beam_size`` times in place."""
  return _merge(_tile_beams(x, beam_size))


def _take(tree: Any, indices: jnp.ndarray) -> Any:
  """Per example, the beams at ``indices`` (``[B, k]``) of every ``[B, beam, ...]`` leaf."""
  rows = jnp.arange(indices.shape[0])[:, None]
  return jax.tree.map(lambda x: x if x.ndim < 2 else x[rows, indices], tree)


def _best_ascending(scores: jnp.ndarray, k: int) -> jnp.ndarray:
  """Indices of the ``k`` largest scores per row, the largest last."""
  return jax.lax.top_k(scores, k)[1][:, ::-1]


class _Beams(NamedTuple):
  step: jnp.ndarray  # int32 scalar: tokens decoded so far.
  live_logp: jnp.ndarray  # [B, beam] float32
  live_seqs: jnp.ndarray  # [B, beam, max_len] int32, position 0 a dummy 0.
  done_scores: jnp.ndarray  # [B, beam] float32, length-penalised.
  done_seqs: jnp.ndarray  # [B, beam, max_len] int32
  done_flags: jnp.ndarray  # [B, beam] bool
  cache: Any  # decoder cache, leaves [B, beam, ...]


def beam_search(
  batch_size: int,
  cache: Any,
  step_logits: Callable[[jnp.ndarray, Any], Tuple[jnp.ndarray, Any]],
  beam_size: int = 4,
  alpha: float = 0.6,
  eos_id: int = EOS_ID,
  max_decode_len: int = 256,
) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """Translate a batch by beam search.

  Args:
    batch_size: examples in the batch.
    cache: the decoder's initial cache for ``batch_size`` examples (leaves ``[B, ...]``).
    step_logits: ``(tokens [B * beam, 1], cache) -> (logits [B * beam, V], new cache)``,
      the cache flat over ``B * beam``.
    beam_size: hypotheses kept per example.
    alpha: the length-penalty exponent.
    eos_id: the end-of-sentence token.
    max_decode_len: length of the returned sequences (a leading dummy 0 included).

  Returns:
    ``(seqs [B, beam, max_decode_len], scores [B, beam])``, best last; examples with no
    finished hypothesis return their live ones and log-probabilities.
  """
  first_alive = jnp.where(jnp.arange(beam_size) == 0, 0.0, NEG_INF)
  start = _Beams(
    step=jnp.array(0),
    live_logp=jnp.broadcast_to(first_alive, (batch_size, beam_size)).astype(jnp.float32),
    live_seqs=jnp.zeros((batch_size, beam_size, max_decode_len), jnp.int32),
    done_scores=jnp.full((batch_size, beam_size), NEG_INF, jnp.float32),
    done_seqs=jnp.zeros((batch_size, beam_size, max_decode_len), jnp.int32),
    done_flags=jnp.zeros((batch_size, beam_size), bool),
    cache=jax.tree.map(lambda x: _tile_beams(x, beam_size), cache),
  )

  def keep_going(s: _Beams):
    best_live = s.live_logp[:, -1:] / length_penalty(alpha, max_decode_len)
    worst_done = jnp.min(s.done_scores, axis=1, keepdims=True)
    worst_done = jnp.where(s.done_flags, worst_done, NEG_INF)
    settled = jnp.all(worst_done > best_live)
    return (s.step < max_decode_len - 1) & ~settled

  def extend(s: _Beams) -> _Beams:
    last = jax.lax.dynamic_slice_in_dim(s.live_seqs, s.step, 1, axis=2)
    logits, cache = step_logits(_merge(last), jax.tree.map(_merge, s.cache))
    cache = jax.tree.map(lambda x: _split(x, batch_size), cache)
    logp = jax.nn.log_softmax(_split(logits, batch_size)) + s.live_logp[:, :, None]
    vocab = logp.shape[-1]
    cand_logp, flat = jax.lax.top_k(logp.reshape(batch_size, -1), 2 * beam_size)
    parent, token = flat // vocab, flat % vocab
    cand_seqs = _take(s.live_seqs, parent)
    cand_seqs = jax.lax.dynamic_update_slice_in_dim(
      cand_seqs, token[:, :, None].astype(jnp.int32), s.step + 1, axis=2
    )
    ended = token == eos_id

    # Live: the best candidates that did not end.
    alive_logp = cand_logp + ended * NEG_INF
    keep = _best_ascending(alive_logp, beam_size)
    live_seqs, live_logp, keep_parent = _take((cand_seqs, alive_logp, parent), keep)
    cache = _take(cache, keep_parent)

    # Finished: the best of the old finished and the candidates that ended now.
    new_scores = cand_logp / length_penalty(alpha, s.step + 1) + (~ended) * NEG_INF
    pool = (
      jnp.concatenate([s.done_seqs, cand_seqs], axis=1),
      jnp.concatenate([s.done_scores, new_scores], axis=1),
      jnp.concatenate([s.done_flags, ended], axis=1),
    )
    done_seqs, done_scores, done_flags = _take(pool, _best_ascending(pool[1], beam_size))
    return _Beams(s.step + 1, live_logp, live_seqs, done_scores, done_seqs, done_flags, cache)

  end = jax.lax.while_loop(keep_going, extend, start)
  any_done = jnp.any(end.done_flags, axis=1)
  seqs = jnp.where(any_done[:, None, None], end.done_seqs, end.live_seqs)
  scores = jnp.where(any_done[:, None], end.done_scores, end.live_logp)
  return seqs, scores
