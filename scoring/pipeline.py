"""Glue: log tree -> every table of the leaderboard (no rendering here).

``score_directory(root, targets_path, ScoringOptions(...))`` reads the tree
(:mod:`algoperf_like.scoring.read`), applies the rules (:mod:`algoperf_like.scoring.rules`) and returns a
:class:`ScoringResult`.  Defaults reproduce the official scoring code; see
``scoring/README.md`` for the options that follow the documentation instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import bootstrap, calibration, compile_time, hardware, rules
from .errors import ScoringError, ScoringWarning
from .read import DEFAULT_TIME_COLUMN, LogData, read_logs
from .targets import Targets, load_targets


@dataclass
class ScoringOptions:
  self_tuning: bool = False  # ruleset (budget factor, 1 trial/study)
  best_trial: str = 'eval'  # "eval" (official code) | "time" (docs) | "eval_listing"
  integral: str = 'trapezoid'  # "trapezoid" (official code) | "exact" (docs)
  enforce_budget: bool = False  # docs: hits after max runtime do not count
  cut: float | None = 4.0  # r > cut -> inf (None disables)
  heldout_rule: bool = True  # v0.5 held-out rule when targets list them
  min_tau: float = 1.0
  max_tau: float = 4.0
  num_points: int = 100
  reference: str | None = None  # submission for speedups
  time_column: str = DEFAULT_TIME_COLUMN
  expected_studies: int | None = 0  # warn on another count; 0: by benchmark version; None: off
  expected_trials: int | None = None  # None: 5 external, 1 self-tuning
  submissions: list[str] | None = None
  bootstrap_samples: int = 1000  # 0: no intervals
  bootstrap_seed: int = 0
  exclude_compile_time: bool = False  # times less the submission's compile seconds
  allow_mixed_hardware: bool = False  # else: an error when trials ran on several classes
  normalise_to_reference: str | None = None  # a calibration record: reference-system seconds


#: Studies per workload and submission by the targets file's ``benchmark_version``
#: (v0.5 leaderboard: 5; the official code's NUM_STUDIES = 3 otherwise).
STUDIES_BY_VERSION = {'0.5': 5}
DEFAULT_STUDIES = 3


def expected_studies(opts: 'ScoringOptions', targets: Targets) -> int | None:
  """The study count to check: the option, else the benchmark version's, else 3."""
  if opts.expected_studies is None:
    return None
  if opts.expected_studies:
    return opts.expected_studies
  return STUDIES_BY_VERSION.get(str(targets.version), DEFAULT_STUDIES)


@dataclass
class ScoringResult:
  options: ScoringOptions
  targets: Targets
  logs: LogData
  trials: pd.DataFrame  # one row per trial (time to target)
  studies: pd.DataFrame  # one row per study (best trial)
  workloads: pd.DataFrame  # long: submission, workload, median time
  raw_times: pd.DataFrame  # submissions x workloads, before cut / held-out
  times: pd.DataFrame  # submissions x base workloads, final t_{s,w}
  status: pd.DataFrame  # why a cell is inf
  ratios: pd.DataFrame
  profile: pd.DataFrame
  scores: pd.DataFrame
  speedups: pd.DataFrame | None = None
  intervals: bootstrap.BootstrapResult | None = None
  warnings: list[str] = field(default_factory=list)
  hardware: pd.DataFrame | None = None  # per trial: hardware_class (scoring.hardware)


def _warn(msg: str) -> None:
  warnings.warn(msg, ScoringWarning, stacklevel=3)


def _check_counts(trials: pd.DataFrame, opts: ScoringOptions, n_studies: int | None) -> None:
  exp_trials = opts.expected_trials or (1 if opts.self_tuning else 5)
  per_study = trials.groupby(['submission', 'workload', 'study']).size()
  for (s, w, k), n in per_study.items():
    if opts.self_tuning and n > 1:
      _warn(f'{s}/{k}/{w}: {n} trials in a self-tuning study (expected 1); best one used')
    elif not opts.self_tuning and n != exp_trials:
      _warn(f'{s}/{k}/{w}: expected {exp_trials} trials, found {n}')
  if n_studies:
    n_st = per_study.groupby(level=[0, 1]).size()
    for (s, w), n in n_st.items():
      if n != n_studies:
        _warn(f'{s}/{w}: expected {n_studies} studies, found {n}')


def score_logs(
  logs: LogData, targets: Targets, opts: ScoringOptions | None = None
) -> ScoringResult:
  """Apply every rule to already-read logs."""
  opts = opts or ScoringOptions()
  hw = hardware.classes(logs.trials)
  for msg in hardware.check(hw, opts.allow_mixed_hardware):
    _warn(msg)
  if opts.exclude_compile_time:
    logs, msgs = compile_time.without_compile_time(logs)
    for msg in msgs:
      _warn(msg)
  if opts.best_trial not in ('eval', 'time', 'eval_listing'):
    raise ScoringError("best_trial must be 'eval', 'time' or 'eval_listing'")
  if opts.integral not in ('trapezoid', 'exact'):
    raise ScoringError("integral must be 'trapezoid' or 'exact'")
  if not opts.max_tau > opts.min_tau >= 1.0 or opts.num_points < 2:
    raise ScoringError('need 1 <= min_tau < max_tau and num_points >= 2')
  seen = sorted(set(logs.trials['workload']))
  budgets = None
  if opts.enforce_budget:
    budgets = {w: targets.budget(w, opts.self_tuning) for w in seen}
    for w in [w for w, b in budgets.items() if b is None]:
      _warn(f'no max_allowed_runtime_sec for workload {w!r}: budget not enforced there')
    budgets = {w: b for w, b in budgets.items() if b is not None}
  if opts.bootstrap_samples < 0:
    raise ScoringError('bootstrap_samples must be >= 0')
  _check_counts(logs.trials, opts, expected_studies(opts, targets))
  trials = rules.trial_times(logs.evals, logs.trials, targets, budgets)
  disqualified = rules.disqualified(logs.violations)
  trials = rules.disqualify(trials, disqualified)
  studies = rules.study_times(trials, opts.best_trial)
  wl = rules.workload_times(studies)
  subs = sorted(set(logs.trials['submission']))
  held = list(targets.held_out) if opts.heldout_rule else []
  scored = list(targets.base) + [w for w in held if w not in targets.base]
  extra = [w for w in seen if w not in scored]
  raw = rules.time_table(wl, subs, scored + extra)
  for s in subs:
    for w in scored:
      if pd.isna(raw.loc[s, w]):
        _warn(f'submission {s!r} has no logs for workload {w!r} (counts as not reached)')
  if opts.reference is not None and opts.reference not in subs:
    raise ScoringError(
      f'reference submission {opts.reference!r} not found; have: {", ".join(subs)}'
    )
  for s, w in disqualified:  # Also when no trial of it left an evaluation.
    if s in raw.index and w in raw.columns:
      raw.loc[s, w] = np.inf
  times, status = rules.apply_cut_and_heldout(
    raw, list(targets.base), held, targets.base_of, opts.cut
  )
  for s, w in disqualified:
    if s in status.index and w in status.columns:
      status.loc[s, w] = 'rule violation'
  ratios = rules.performance_ratios(times)
  n = len(targets.base)
  taus = rules.tau_grid(opts.min_tau, opts.max_tau, opts.num_points)
  profile = rules.performance_profile(ratios, n, taus)
  trap = rules.benchmark_score(profile)
  exact = rules.exact_score(ratios, n, opts.max_tau)
  chosen = trap if opts.integral == 'trapezoid' else exact
  scores = pd.DataFrame(
    {
      'submission': times.index,
      'score': chosen.to_numpy(),
      'score_trapezoid': trap.to_numpy(),
      'score_exact': exact.to_numpy(),
      'workloads_reached': np.isfinite(times.to_numpy(dtype=float)).sum(axis=1),
      'workloads_scored': n,
    }
  )
  scores = scores.sort_values(['score', 'submission'], ascending=[False, True], kind='stable')
  scores.insert(0, 'rank', np.arange(1, len(scores) + 1))
  sp = None
  if opts.reference is not None:
    base_raw = raw[list(targets.base)]
    b = {w: targets.budget(w, opts.self_tuning) for w in targets.base}
    skipped = [w for w in targets.base if b[w] is None and not np.isfinite(base_raw[w]).all()]
    for w in skipped:
      _warn(f'speedups: workload {w!r} skipped (a miss but no budget to stand in for it)')
    sp = rules.speedups(base_raw, opts.reference, b)
    sp.insert(0, 'reference', opts.reference)
    sp = sp.rename_axis('submission').reset_index()
  ci = None
  if opts.bootstrap_samples:
    ci = bootstrap.bootstrap(
      trials,
      studies,
      subs,
      scored,
      list(targets.base),
      held,
      targets.base_of,
      opts.cut,
      taus,
      n,
      chosen.reindex(subs).to_numpy(),
      samples=opts.bootstrap_samples,
      seed=opts.bootstrap_seed,
      self_tuning=opts.self_tuning,
      best_trial=opts.best_trial,
      integral=opts.integral,
      max_tau=opts.max_tau,
    )
    scores['score_lo'] = ci.score_lo.reindex(scores['submission']).to_numpy()
    scores['score_hi'] = ci.score_hi.reindex(scores['submission']).to_numpy()
    scores['rank_stability'] = ci.rank_stability.reindex(scores['submission']).to_numpy()
    scores['rank_lo'] = ci.rank_lo.reindex(scores['submission']).to_numpy()
    scores['rank_hi'] = ci.rank_hi.reindex(scores['submission']).to_numpy()
  return ScoringResult(
    opts,
    targets,
    logs,
    trials,
    studies,
    wl,
    raw,
    times,
    status,
    ratios,
    profile,
    scores.reset_index(drop=True),
    sp,
    ci,
    hardware=hw,
  )


def score_directory(root, targets_path=None, opts: ScoringOptions | None = None) -> ScoringResult:
  """Read ``root`` and score it; warnings are also collected in the result."""
  opts = opts or ScoringOptions()
  targets = load_targets(targets_path)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always', ScoringWarning)
    logs = read_logs(root, targets, opts.time_column, opts.submissions)
    if opts.normalise_to_reference:
      logs, notes = calibration.normalise(logs, str(root), opts.normalise_to_reference)
      for note in notes:
        _warn(note)
    result = score_logs(logs, targets, opts)
  msgs = []
  for w in caught:
    if issubclass(w.category, ScoringWarning):
      msgs.append(str(w.message))
    else:
      warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
  for m in msgs:  # re-emit so callers outside the CLI see them too
    warnings.warn(m, ScoringWarning, stacklevel=2)
  result.warnings = msgs
  return result
