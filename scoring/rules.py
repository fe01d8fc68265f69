r"""The AlgoPerf scoring rules as pure functions on pandas tables.

Notation: submission ``s``, workload ``w``, study ``k``, trial ``j``, eval
``i`` with validation metric ``v_i`` and submission time ``T_i``.

1. Time to target of a trial (:func:`trial_times`)::

       i* = min{ i : v_i <= target }  (minimized metric; ``>=`` if maximized)
       t_j = T_{i*}, or +inf when no eval reaches the target (NaN never does).

   With ``budget`` (optional, the documented rule) hits with ``T_i > budget``
   do not count.
2. Best trial per study (:func:`study_times`)::

       official code (default, ``best_trial="eval"``): the trial whose i* is
       smallest (fewest evals), ties -> smaller time;  documentation
       (``best_trial="time"``): the trial with the smallest t_j;
       ``best_trial="eval_listing"``: fewest evals, ties -> the lower trial number.
       AlgoPerf's code breaks ties by the order ``os.listdir`` gives the trial
       folders, which the file system decides: "eval_listing" is its result when
       they are listed in ascending order; "eval" its result when the fastest of
       the tied trials comes first, and it does not depend on any order.
       t_{s,w,k} = t_{j_best}  (+inf when no trial reached the target).

3. Workload time (:func:`workload_times`): ``t_{s,w} = median_k t_{s,w,k}``
   with numpy semantics (an even count averages the middle two, so one inf
   among them gives inf).  A workload without logs is NaN (= not reached).
4. Held-out rule and 4x cut (:func:`apply_cut_and_heldout`), in the order of
   the official code: a held-out variant is inf if its base is inf/NaN; then
   ``t_{s,w} > 4 * min_s t_{s,w}`` becomes inf (every column); then a base
   workload is inf if its held-out variant is inf/NaN.  Only base workloads
   are kept.
5. Performance ratios (:func:`performance_ratios`):
   ``r_{s,w} = t_{s,w} / min_{s'} t_{s',w}`` (or ``/ t_{ref,w}``); cells whose
   ratio is undefined (inf/inf) keep their time (inf), as ``DataFrame.update``
   does in the official code.
6. Profile (:func:`performance_profile`):
   ``rho_s(tau) = |{w : r_{s,w} <= tau}| / n`` with ``n`` = number of base
   workloads in the targets file (missing workloads count as misses).
7. Score (:func:`benchmark_score`): official code evaluates rho on
   ``tau = linspace(1, 4, 100)`` and integrates with the trapezoidal rule,
   divided by ``4 - 1``.  :func:`exact_score` is the documented integral
   ``1/(4-1) * int_1^4 rho(tau) dtau`` computed exactly:
   ``sum_w max(0, 4 - max(r_{s,w}, 1)) / (3 n)``.
8. Speedup vs a reference (:func:`speedups`):
   ``gmean_w (t_{s,w} / t_{ref,w})`` over base workloads, inf/NaN replaced by
   the workload budget + 1 s (as the official ``compute_speedups.py``);
   ``speedup = 1 / that`` (the documentation's ``t_ref / t_s``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_TKEYS = ['submission', 'study', 'workload', 'framework', 'trial']


def _target_arrays(workloads: pd.Series, targets) -> tuple[np.ndarray, np.ndarray]:
  """Per-row target value and minimize flag for a column of workload names."""
  cats = pd.Categorical(workloads)
  vals = np.array([targets.get(c).value for c in cats.categories], dtype=float)
  mins = np.array([targets.get(c).minimize for c in cats.categories], dtype=bool)
  codes = cats.codes
  return vals[codes], mins[codes]


def _key_ids(evals: pd.DataFrame, trials: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
  """One integer per (submission, study, workload, framework, trial), for evals and trials.

  Works on categorical codes (the columns of :class:`~.read.LogData` are
  categorical), so the 400,000 eval rows of a leaderboard tree are never turned
  into strings.  Trials whose key no eval has get ids no eval has.
  """
  e_id = np.zeros(len(evals), dtype=np.int64)
  t_id = np.zeros(len(trials), dtype=np.int64)
  for c in _TKEYS:
    cat = pd.Categorical(evals[c])
    cats = pd.Index([str(x) for x in cat.categories])
    radix = len(cats) + 1
    e_id = e_id * radix + cat.codes.astype(np.int64)
    t_codes = cats.get_indexer(trials[c].astype(str))
    t_id = t_id * radix + np.where(t_codes < 0, len(cats), t_codes)
  return e_id, t_id


def trial_times(
  evals: pd.DataFrame, trials: pd.DataFrame, targets, budgets: dict[str, float] | None = None
) -> pd.DataFrame:
  """One row per trial: first eval reaching the target and its time.

  ``evals`` rows must be in file order within each trial.  Columns out:
  ``submission, study, workload, framework, trial, n_evals, reached, eval,
  global_step, time_to_target, best_value, target``.
  """
  tv, mn = _target_arrays(evals['workload'], targets)
  v = evals['value'].to_numpy(dtype=float)
  with np.errstate(invalid='ignore'):
    hit = np.where(mn, v <= tv, v >= tv)
  if budgets:
    b = evals['workload'].astype(str).map(budgets).to_numpy(dtype=float, na_value=np.inf)
    hit &= evals['submission_time_s'].to_numpy(dtype=float) <= b
  e_id, t_id = _key_ids(evals, trials)
  signed = np.where(mn, v, -v)  # smaller is better
  hit_rows = np.flatnonzero(hit)
  uniq, first = np.unique(e_id[hit_rows], return_index=True)
  first_rows = hit_rows[first]
  firsts = pd.DataFrame(
    {
      'eval': evals['eval'].to_numpy()[first_rows],
      'global_step': evals['global_step'].to_numpy(dtype=float)[first_rows],
      'submission_time_s': evals['submission_time_s'].to_numpy(dtype=float)[first_rows],
    },
    index=uniq,
  )
  best = pd.Series(signed).groupby(e_id, sort=False).min()
  out = trials[_TKEYS + ['n_evals']].copy()
  for c in _TKEYS:
    out[c] = out[c].astype(str)
  found = firsts.reindex(t_id)
  out['eval'] = found['eval'].to_numpy()
  out['global_step'] = found['global_step'].to_numpy()
  tt = found['submission_time_s'].to_numpy()
  out['best_signed'] = best.reindex(t_id).to_numpy()
  out['reached'] = out['eval'].notna()
  out['eval'] = out['eval'].fillna(-1).astype(int)
  out['time_to_target'] = np.where(np.isnan(tt), np.inf, tt)
  _, mins = _target_arrays(out['workload'], targets)
  out['best_value'] = np.where(mins, out['best_signed'], -out['best_signed'])
  out['target'] = _target_arrays(out['workload'], targets)[0]
  return out.drop(columns='best_signed').reset_index(drop=True)


def disqualified(violations: pd.DataFrame) -> list[tuple[str, str]]:
  """``(submission, workload)`` pairs with a trial that ended as ``rule_violation``.

  AlgoPerf's rules disqualify a submission that breaks them; here the disqualification
  is per workload: every trial of the submission on that workload counts as not reaching
  the target (so the workload's time is infinite), and the report says why.
  """
  if violations is None or violations.empty:
    return []
  pairs = violations[['submission', 'workload']].astype(str).drop_duplicates()
  return sorted(map(tuple, pairs.to_numpy().tolist()))


def disqualify(trial_df: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
  """``trial_df`` with the trials of ``pairs`` (submission, workload) as never reached."""
  if not pairs:
    return trial_df
  out = trial_df.copy()
  keys = pd.MultiIndex.from_frame(out[['submission', 'workload']].astype(str))
  hit = keys.isin(pd.MultiIndex.from_tuples(pairs))
  out.loc[hit, 'time_to_target'] = np.inf
  out.loc[hit, 'reached'] = False
  out.loc[hit, 'eval'] = -1
  out.loc[hit, 'global_step'] = np.nan
  return out


def study_times(trial_df: pd.DataFrame, best_trial: str = 'eval') -> pd.DataFrame:
  """Best trial per (submission, workload, study); see module docstring."""
  orders = {
    'eval': ['eval', 'time_to_target'],
    'time': ['time_to_target', 'eval'],
    'eval_listing': ['eval'],  # Then the trial number (below).
  }
  if best_trial not in orders:
    raise ValueError(f'best_trial must be one of {", ".join(orders)}')
  order = orders[best_trial]
  df = trial_df.copy()
  df['_miss'] = ~df['reached']
  df['_tnum'] = df['trial'].str.extract(r'(\d+)', expand=False).astype(float)
  df = df.sort_values(['_miss'] + order + ['_tnum', 'trial'], kind='stable')
  g = df.groupby(['submission', 'workload', 'study'], sort=True)
  best = g.head(1).set_index(['submission', 'workload', 'study'])
  res = pd.DataFrame(
    {
      'n_trials': g.size(),
      'n_reached': g['reached'].sum().astype(int),
    }
  )
  res['best_trial'] = best['trial'].where(best['reached'])
  res['eval'] = best['eval'].where(best['reached'], -1).astype(int)
  res['global_step'] = best['global_step'].where(best['reached'])
  res['time_to_target'] = best['time_to_target'].where(best['reached'], np.inf)
  return res.reset_index()


def workload_times(study_df: pd.DataFrame) -> pd.DataFrame:
  """Median over studies per (submission, workload) (long format)."""
  g = study_df.groupby(['submission', 'workload'], sort=True)
  out = g['time_to_target'].agg(lambda x: float(np.median(x.to_numpy(dtype=float))))
  res = pd.DataFrame(
    {
      'time_to_target': out,
      'n_studies': g.size(),
      'n_studies_reached': g['time_to_target'].agg(lambda x: int(np.isfinite(x).sum())),
    }
  )
  return res.reset_index()


def time_table(
  wl_df: pd.DataFrame, submissions: list[str] | None = None, workloads: list[str] | None = None
) -> pd.DataFrame:
  """Pivot to submissions x workloads (NaN where a submission has no logs)."""
  t = wl_df.pivot(index='submission', columns='workload', values='time_to_target')
  if submissions is not None:
    t = t.reindex(index=submissions)
  if workloads is not None:
    t = t.reindex(columns=workloads)
  t.index.name, t.columns.name = 'submission', 'workload'
  return t.astype(float)


def apply_cut_and_heldout(
  table: pd.DataFrame, base: list[str], held_out: list[str], base_of, cut: float | None = 4.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
  """Steps of rule 4.  Returns (times of base workloads, status strings)."""
  cols = list(dict.fromkeys(list(base) + list(held_out)))
  t = table.reindex(columns=cols).astype(float).copy()
  status = pd.DataFrame(
    np.where(t.isna(), 'no logs', np.where(np.isinf(t), 'not reached', 'ok')),
    index=t.index,
    columns=t.columns,
  )
  for v in held_out:
    b = base_of(v)
    bad = t[b].isna() | np.isinf(t[b])
    flip = bad & np.isfinite(t[v])
    t.loc[bad, v] = np.inf
    status.loc[flip, v] = f'base {b} missed'
  if cut is not None:
    best = t.min(axis=0, skipna=True)
    with np.errstate(invalid='ignore'):
      over = t.gt(cut * best, axis=1) & np.isfinite(t)
    t[over] = np.inf
    status[over] = f'> {cut:g}x best'
  for v in held_out:
    b = base_of(v)
    bad = t[v].isna() | np.isinf(t[v])
    flip = bad & np.isfinite(t[b])
    t.loc[bad, b] = np.inf
    status.loc[flip, b] = f'held-out {v} missed'
  return t[list(base)], status


def performance_ratios(table: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
  """Rule 5: ``t / min_s t`` (or ``t / t_ref``); undefined ratios keep ``t``."""
  denom = table.min(axis=0) if reference is None else table.loc[reference]
  with np.errstate(invalid='ignore', divide='ignore'):
    r = table.div(denom, axis=1)
  return r.where(r.notna(), table)


def tau_grid(min_tau: float = 1.0, max_tau: float = 4.0, num_points: int = 100) -> np.ndarray:
  """The official grid: ``np.linspace(min_tau, max_tau, num_points)``."""
  return np.linspace(min_tau, max_tau, num=num_points)


def performance_profile(ratios: pd.DataFrame, n_workloads: int, taus: np.ndarray) -> pd.DataFrame:
  """Rule 6: rho_s(tau) for every tau (columns) and submission (rows)."""
  r = ratios.to_numpy(dtype=float)
  with np.errstate(invalid='ignore'):
    counts = (r[:, :, None] <= taus[None, None, :]).sum(axis=1)
  return pd.DataFrame(counts / n_workloads, index=ratios.index, columns=taus)


def benchmark_score(profile: pd.DataFrame) -> pd.Series:
  """Rule 7, official: trapezoid of rho over the grid / (tau_max - tau_min)."""
  taus = np.asarray(profile.columns, dtype=float)
  s = np.trapezoid(profile.to_numpy(dtype=float), x=taus, axis=1) / (taus.max() - taus.min())
  return pd.Series(s, index=profile.index, name='score')


def exact_score(ratios: pd.DataFrame, n_workloads: int, max_tau: float = 4.0) -> pd.Series:
  """Rule 7, documentation: exact normalized integral of rho over [1, max_tau]."""
  r = ratios.to_numpy(dtype=float)
  with np.errstate(invalid='ignore'):
    area = np.where(r <= max_tau, max_tau - np.maximum(r, 1.0), 0.0)
  s = np.nansum(area, axis=1) / (n_workloads * (max_tau - 1.0))
  return pd.Series(s, index=ratios.index, name='score')


def speedups(table: pd.DataFrame, reference: str, budgets: dict[str, float | None]) -> pd.DataFrame:
  """Rule 8 on raw workload times (base workloads as columns)."""
  if reference not in table.index:
    raise KeyError(reference)
  t = table.astype(float).copy()
  used = []
  for w in t.columns:
    b = budgets.get(w)
    col = t[w]
    bad = col.isna() | np.isinf(col)
    if bad.any():
      if b is None:
        continue  # cannot compare a miss without a budget: skip workload
      t.loc[bad, w] = b + 1.0
    used.append(w)
  t = t[used]
  ratio = t.div(t.loc[reference], axis=1)
  gm = np.exp(np.log(ratio).mean(axis=1)) if used else pd.Series(np.nan, index=t.index)
  return pd.DataFrame(
    {'time_ratio_gmean': gm, 'speedup': 1.0 / gm, 'n_workloads': len(used)}, index=t.index
  )
