r"""Bootstrap intervals for times to target, scores and ranks.

Method (a percentile bootstrap over the random parts of an AlgoPerf run):

* For every submission ``s`` and workload ``w`` the ``K`` studies are drawn ``K``
  times with replacement.  Under the external-tuning ruleset the trials of every
  drawn study are also drawn with replacement (the ruleset draws them: each trial
  is a random point of the search space); under the self-tuning ruleset a study
  has one trial and only studies are drawn.
* On each resample the rules are applied again exactly as for the point estimate
  (best trial per study, median over studies, held-out rule, 4x cut, ratios to
  the best submission of that resample, profile, score).
* The 95% interval of a quantity is the 2.5th and 97.5th percentile of its
  ``B`` resampled values (``numpy.quantile(..., method='inverted_cdf')``, so an
  interval end is a value some resample produced, ``inf`` included).
* Rank stability of ``s`` is the fraction of resamples in which ``s`` has the
  rank it has on the observed data (ties broken by name, as in the leaderboard).

Draws come from ``numpy.random.default_rng([seed, crc32(s), crc32(w)])``: the
same seed gives the same intervals, whatever order directories are listed in,
and adding a submission leaves the draws of the others unchanged.

References: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13
(percentile intervals); Bouthillier et al., "Accounting for Variance in Machine
Learning Benchmarks", MLSys 2021 (report the variance of a ranking, e.g. the
probability that a comparison holds under resampling).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVEL = 0.95


@dataclass
class BootstrapResult:
  samples: int
  seed: int
  method: str
  score_lo: pd.Series  # by submission
  score_hi: pd.Series
  rank_stability: pd.Series  # P(rank on a resample == observed rank)
  rank_lo: pd.Series
  rank_hi: pd.Series
  time_lo: pd.DataFrame  # submissions x base workloads, final times (after cut)
  time_hi: pd.DataFrame
  raw_lo: pd.DataFrame  # submissions x scored workloads, median over studies
  raw_hi: pd.DataFrame
  profile_lo: pd.DataFrame  # submissions x tau
  profile_hi: pd.DataFrame
  score_samples: np.ndarray  # (samples, submissions)


def describe(samples: int, seed: int, self_tuning: bool) -> str:
  """One sentence naming method, resample count and seed (for reports)."""
  what = 'studies' if self_tuning else 'studies and, within each study, trials'
  return (
    f'95% intervals: percentile bootstrap, {samples} resamples of {what} '
    f'(with replacement, per submission and workload), seed {seed}; every rule re-applied '
    'on each resample. Rank stability: share of resamples keeping the observed rank.'
  )


def _num(x: str) -> float:
  m = re.search(r'(\d+)', str(x))
  return float(m.group(1)) if m else -1.0


def _groups(df: pd.DataFrame):
  """Yield ``(submission, workload, ev, tt, nj)`` per group, in sorted order.

  ``ev``/``tt``: padded (K, J) arrays of the eval index of the first hit (inf =
  miss) and its time, studies and trials ordered by number; ``nj``: J per study.
  """
  sub = df['submission'].astype(str).to_numpy()
  wl = df['workload'].astype(str).to_numpy()
  st = df['study'].astype(str).to_numpy()
  tr = df['trial'].astype(str).to_numpy()
  reached = df['reached'].to_numpy(dtype=bool)
  ev = np.where(reached, df['eval'].to_numpy(dtype=float), np.inf)
  tt = np.where(reached, df['time_to_target'].to_numpy(dtype=float), np.inf)
  kn = np.array([_num(x) for x in st])
  jn = np.array([_num(x) for x in tr])
  order = np.lexsort((tr, jn, st, kn, wl, sub))
  sub, wl, st, ev, tt = sub[order], wl[order], st[order], ev[order], tt[order]
  gkey = np.char.add(np.char.add(sub.astype(object).astype(str), '\0'), wl.astype(str))
  starts = np.flatnonzero(np.r_[True, gkey[1:] != gkey[:-1]])
  ends = np.r_[starts[1:], len(gkey)]
  for a, b in zip(starts, ends):
    s_st = st[a:b]
    ks = np.flatnonzero(np.r_[True, s_st[1:] != s_st[:-1]])
    ke = np.r_[ks[1:], b - a]
    nj = (ke - ks).astype(np.int64)
    e = np.full((len(ks), nj.max()), np.inf)
    t = np.full((len(ks), nj.max()), np.inf)
    for i, (x, y) in enumerate(zip(ks, ke)):
      e[i, : y - x] = ev[a + x : a + y]
      t[i, : y - x] = tt[a + x : a + y]
    yield sub[a], wl[a], e, t, nj


def _resample_group(
  ev: np.ndarray, tt: np.ndarray, nj: np.ndarray, rng, b: int, trials: bool, best_trial: str
) -> np.ndarray:
  """``b`` resampled medians over studies of the best trial's time."""
  k, jmax = ev.shape
  ks = rng.integers(0, k, size=(b, k))
  if trials:
    u = rng.random((b, k, jmax))
    n = nj[ks][..., None]
    js = np.minimum((u * n).astype(np.int64), n - 1)
    valid = np.arange(jmax)[None, None, :] < n
    e = np.where(valid, ev[ks[..., None], js], np.inf)
    t = np.where(valid, tt[ks[..., None], js], np.inf)
  else:
    e, t = ev[ks], tt[ks]
  if best_trial == 'eval':
    emin = e.min(axis=-1, keepdims=True)
    best = np.where(e == emin, t, np.inf).min(axis=-1)
  else:
    best = t.min(axis=-1)
  return np.median(best, axis=1)


def _cut_and_heldout(t: np.ndarray, cols: list[str], base, held, base_of, cut) -> np.ndarray:
  """Rule 4 of :mod:`.rules` on a (B, S, C) array; returns the base columns."""
  t = t.copy()
  ix = {c: i for i, c in enumerate(cols)}
  for v in held:
    b = ix[base_of(v)]
    bad = ~np.isfinite(t[..., b])
    t[..., ix[v]] = np.where(bad, np.inf, t[..., ix[v]])
  if cut is not None:
    best = np.fmin.reduce(t, axis=1, keepdims=True)
    with np.errstate(invalid='ignore'):
      over = (t > cut * best) & np.isfinite(t)
    t[over] = np.inf
  for v in held:
    b = ix[base_of(v)]
    bad = ~np.isfinite(t[..., ix[v]])
    t[..., b] = np.where(bad, np.inf, t[..., b])
  return t[..., [ix[w] for w in base]]


def scores_of(
  times: np.ndarray, n: int, taus: np.ndarray, integral: str, max_tau: float
) -> tuple[np.ndarray, np.ndarray]:
  """Ratios, profile and score (rules 5-7) on (B, S, W) final times."""
  denom = np.fmin.reduce(times, axis=1, keepdims=True)
  with np.errstate(invalid='ignore', divide='ignore'):
    r = times / denom
  r = np.where(np.isnan(r), times, r)
  with np.errstate(invalid='ignore'):
    prof = (r[..., None] <= taus).sum(axis=2) / n
  if integral == 'trapezoid':
    score = np.trapezoid(prof, x=taus, axis=-1) / (taus.max() - taus.min())
  else:
    with np.errstate(invalid='ignore'):
      area = np.where(r <= max_tau, max_tau - np.maximum(r, 1.0), 0.0)
    score = np.nansum(area, axis=-1) / (n * (max_tau - 1.0))
  return prof, score


def ranks_of(scores: np.ndarray) -> np.ndarray:
  """Rank (1 = best) along the last axis; ties keep submission (name) order."""
  order = np.argsort(-scores, axis=-1, kind='stable')
  ranks = np.empty_like(order)
  np.put_along_axis(ranks, order, np.arange(1, scores.shape[-1] + 1), axis=-1)
  return ranks


def _q(a: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
  lo, hi = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
  qs = np.quantile(a, [lo, hi], axis=axis, method='inverted_cdf')
  return qs[0], qs[1]


def bootstrap(
  trials: pd.DataFrame,
  studies: pd.DataFrame,
  submissions: list[str],
  scored: list[str],
  base: list[str],
  held: list[str],
  base_of,
  cut: float | None,
  taus: np.ndarray,
  n_base: int,
  observed,
  *,
  samples: int = 1000,
  seed: int = 0,
  self_tuning: bool = False,
  best_trial: str = 'eval',
  integral: str = 'trapezoid',
  max_tau: float = 4.0,
) -> BootstrapResult:
  """Resample studies (and trials) and recompute every rule; see module docstring.

  Args:
    trials: :func:`.rules.trial_times` output; studies: :func:`.rules.study_times`.
    submissions: row order (sorted names); scored: columns of the raw table
      (base workloads, then held-out ones).
    observed: the observed scores in ``submissions`` order (for rank stability).
    samples, seed: number of resamples and the seed.

  Returns:
    A :class:`BootstrapResult` with 95% intervals and rank stability.
  """
  subs = list(submissions)
  cols = list(dict.fromkeys(list(base) + list(held)))
  raw = np.full((samples, len(subs), len(cols)), np.nan)
  si = {s: i for i, s in enumerate(subs)}
  ci = {c: i for i, c in enumerate(cols)}
  trials_res = not self_tuning
  src = trials if trials_res else studies.assign(trial='trial_1')
  if not trials_res:
    src = src.assign(reached=np.isfinite(src['time_to_target']), eval=src['eval'])
  for s, w, ev, tt, nj in _groups(src):
    if s not in si or w not in ci:
      continue
    rng = np.random.default_rng([seed, zlib.crc32(str(s).encode()), zlib.crc32(str(w).encode())])
    raw[:, si[s], ci[w]] = _resample_group(ev, tt, nj, rng, samples, trials_res, best_trial)
  final = _cut_and_heldout(raw, cols, base, held, base_of, cut)
  prof, score = scores_of(final, n_base, taus, integral, max_tau)
  observed_rank = ranks_of(np.asarray(observed, dtype=float))
  ranks = ranks_of(score)
  s_lo, s_hi = _q(score)
  r_lo, r_hi = _q(ranks)
  t_lo, t_hi = _q(final)
  w_lo, w_hi = _q(raw)
  p_lo, p_hi = _q(prof)
  idx = pd.Index(subs, name='submission')
  frame = lambda a, c: pd.DataFrame(a, index=idx, columns=c)  # noqa: E731
  return BootstrapResult(
    samples=samples,
    seed=seed,
    method=describe(samples, seed, self_tuning),
    score_lo=pd.Series(s_lo, index=idx),
    score_hi=pd.Series(s_hi, index=idx),
    rank_stability=pd.Series((ranks == observed_rank).mean(axis=0), index=idx),
    rank_lo=pd.Series(r_lo.astype(int), index=idx),
    rank_hi=pd.Series(r_hi.astype(int), index=idx),
    time_lo=frame(t_lo, list(base)),
    time_hi=frame(t_hi, list(base)),
    raw_lo=frame(w_lo, cols),
    raw_hi=frame(w_hi, cols),
    profile_lo=frame(p_lo, taus),
    profile_hi=frame(p_hi, taus),
    score_samples=score,
  )
