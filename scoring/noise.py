r"""The noise of time to target, from a tree of repeated runs (no JAX).

Input: a log tree in AlgoPerf's layout where, per submission and workload, study
``s`` holds the runs of one seed and its trials ``trial_1..trial_R`` are repeats of
that seed with the same hyperparameters (``algoperf-like noise`` writes such a tree,
:mod:`algoperf_like.noise`). Time to target is read as the scorer reads it
(:func:`.rules.trial_times`: the submission time of the first eval at the target;
a run that never gets there is a miss).

Per submission and workload, over the runs that reached the target (``t_{s,r}``:
seed ``s``, repeat ``r``):

* machine noise: the pooled within-seed standard deviation
  :math:`\sigma_m = \sqrt{\operatorname{mean}_s \operatorname{var}_r(t_{s,r})}`
  (seeds with at least two reaching repeats; ``var`` with ``ddof=1``), its
  coefficient of variation :math:`\sigma_m / \bar t`, and the range (max - min over
  repeats), averaged over seeds and at its largest;
* training noise: the standard deviation over seeds of the per-seed mean times,
  :math:`\sigma_s = \operatorname{sd}_s(\bar t_s)` (includes machine noise divided
  by the repeats), and its CV;
* all runs: mean, standard deviation :math:`\sigma` and CV of every reaching run,
  and the fraction of runs that reached the target;
* compilation: the mean share of time to target spent compiling inside the
  submission's calls (``trial_summary.json`` ``compile_time``), where recorded.

Per workload, across submissions:

* gap: the largest difference between the submissions' mean times;
* signal-to-noise ratio
  :math:`\mathrm{SNR} = (\max_i \bar t_i - \min_i \bar t_i) / \sqrt{\operatorname{mean}_i \sigma_i^2}`,
  the spread of the algorithms' means over the typical run-to-run standard deviation
  (Heineman et al. 2025 divide the dispersion of several models' scores by one
  model's run-to-run deviation; Madaan et al. 2024 compare differences between models
  with the seed standard deviation). Also given against machine noise alone
  (:math:`\sigma_m` in place of :math:`\sigma`). Over the submissions with at least
  two runs at the target; undefined with fewer than two such submissions.

Studies to separate: a synthetic benchmark study draws, for each submission and
workload, one seed uniformly and one of its repeats uniformly (a miss stays a
miss). ``N`` studies give a median time per submission and workload (the scorer's
rule, misses infinite), then the 4x cut, the performance ratios, profile and score
of :mod:`.bootstrap` (the score over the measured workloads only). For each pair of
submissions and each ``N`` from 1 up, ``samples`` such benchmarks give the 95%
percentile interval of the score difference; the answer is the smallest ``N`` whose
interval excludes 0 (none up to ``max_studies``: ``>max_studies``). This treats the
measured runs as the population: with few seeds it can only be as good as they are.

References: D. Heineman et al., "Signal and Noise: A Framework for Reducing
Uncertainty in Language Model Evaluation" (2025); L. Madaan et al., "Quantifying
Variance in Evaluation Benchmarks" (2024); Bouthillier et al., "Accounting for
Variance in Machine Learning Benchmarks" (MLSys 2021).
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from algoperf_like import trial_logs

from . import bootstrap, hardware, rules
from .errors import ScoringError, ScoringWarning
from .read import read_logs
from .targets import load_targets

CONDITIONS_FILE = 'noise_conditions.jsonl'  # Written by algoperf_like.noise (read.HARNESS_FILES).
CUT = 4.0


@dataclass
class NoiseResult:
  root: str
  runs: pd.DataFrame  # one row per run: submission, workload, seed, repeat, reached, time, ...
  per_submission: pd.DataFrame  # one row per (workload, submission)
  per_workload: pd.DataFrame  # one row per workload: gap, SNR
  separation: pd.DataFrame  # one row per (pair, N): score difference interval
  studies_needed: pd.DataFrame  # one row per pair: smallest N
  conditions: pd.DataFrame  # one row per trial: load averages (may be empty)
  hardware: list[str]
  samples: int
  max_studies: int
  warnings: list[str] = field(default_factory=list)


def _num(label: str) -> int:
  digits = ''.join(c for c in str(label) if c.isdigit())
  return int(digits) if digits else -1


def _summary_facts(trial_dir: str) -> tuple[float, str]:
  """The submission's compile seconds up to the target (NaN: none) and the trial's status."""
  try:
    with open(os.path.join(trial_dir, trial_logs.SUMMARY_FILE)) as f:
      summary = json.load(f) or {}
  except (OSError, ValueError):
    return float('nan'), 'unknown'
  record = summary.get('compile_time') or {}
  v = record.get('submission_compile_s_at_target') if isinstance(record, dict) else None
  status = str(summary.get('status') or 'unknown')
  if status == 'failed' and 'NonFinite' in str(summary.get('error')):
    status = 'diverged'
  return (float(v) if isinstance(v, (int, float)) else float('nan')), status


def _calibration(trial_dir: str) -> tuple[float, float]:
  """The trial's calibration seconds and the mean CV of its two calls (NaN: none)."""
  try:
    with open(os.path.join(trial_dir, 'calibration.json')) as f:
      record = json.load(f)
    cvs = [record[k] for k in ('cv_before', 'cv_after') if k in record]
    return float(record['seconds']), float(np.mean(cvs)) if cvs else float('nan')
  except (OSError, ValueError, KeyError, TypeError):
    return float('nan'), float('nan')


def read_runs(root: str, targets_path=None, submissions=None, workloads=None):
  """One row per run of the tree, with its time to target; and the hardware rows."""
  targets = load_targets(targets_path)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always', ScoringWarning)
    logs = read_logs(root, targets, submissions=list(submissions) if submissions else None)
  msgs = [str(w.message) for w in caught if issubclass(w.category, ScoringWarning)]
  trials = rules.trial_times(logs.evals, logs.trials, targets)
  trials['path'] = logs.trials['path'].to_numpy()
  if workloads:
    trials = trials[trials['workload'].isin(list(workloads))]
  if not len(trials):
    raise ScoringError(f'no trials of the requested workloads under {root}')
  runs = pd.DataFrame(
    {
      'submission': trials['submission'].to_numpy(),
      'workload': trials['workload'].to_numpy(),
      'seed': [_num(s) for s in trials['study']],
      'repeat': [_num(t) for t in trials['trial']],
      'reached': trials['reached'].to_numpy(dtype=bool),
      'time_to_target': trials['time_to_target'].to_numpy(dtype=float),
      'global_step': trials['global_step'].to_numpy(dtype=float),
    }
  )
  facts = [_summary_facts(os.path.dirname(p)) for p in trials['path']]
  runs['compile_s_at_target'] = [f[0] for f in facts]
  runs['status'] = [f[1] for f in facts]
  cal = [_calibration(os.path.dirname(p)) for p in trials['path']]
  runs['calibration_s'] = [c[0] for c in cal]
  runs['calibration_cv'] = [c[1] for c in cal]
  # Reference-system seconds, the tree's median calibration as the reference (where every
  # run has a calibration; see scoring.calibration for a committed reference).
  ref = (
    float(np.nanmedian(runs['calibration_s'])) if np.isfinite(runs['calibration_s']).any() else 1.0
  )
  runs['normalised_s'] = runs['time_to_target'] * ref / runs['calibration_s']
  hw = hardware.classes(logs.trials[logs.trials['path'].isin(trials['path'])])
  runs = runs.sort_values(['workload', 'submission', 'seed', 'repeat'], kind='stable')
  return runs.reset_index(drop=True), hw, msgs


def _cv(sd: float, mean: float) -> float:
  return sd / mean if mean and np.isfinite(sd) else float('nan')


def submission_stats(runs: pd.DataFrame) -> pd.DataFrame:
  """Machine noise, training noise and totals per (workload, submission); see module doc."""
  rows = []
  for (w, s), g in runs.groupby(['workload', 'submission'], sort=True):
    hit = g[g['reached']]
    t = hit['time_to_target'].to_numpy(dtype=float)
    mean = float(t.mean()) if len(t) else float('nan')
    within = [x['time_to_target'].to_numpy(dtype=float) for _, x in hit.groupby('seed')]
    variances = [np.var(x, ddof=1) for x in within if len(x) >= 2]
    ranges = [float(x.max() - x.min()) for x in within if len(x) >= 2]
    seed_means = np.array([x.mean() for x in within])
    sd_m = float(np.sqrt(np.mean(variances))) if variances else float('nan')
    sd_s = float(np.std(seed_means, ddof=1)) if len(seed_means) >= 2 else float('nan')
    sd = float(np.std(t, ddof=1)) if len(t) >= 2 else float('nan')
    tn = hit['normalised_s'].to_numpy(dtype=float)
    within_n = [x['normalised_s'].to_numpy(dtype=float) for _, x in hit.groupby('seed')]
    var_n = [np.var(x, ddof=1) for x in within_n if len(x) >= 2 and np.isfinite(x).all()]
    sd_mn = float(np.sqrt(np.mean(var_n))) if var_n else float('nan')
    mean_n = float(tn.mean()) if len(tn) else float('nan')
    share = (hit['compile_s_at_target'] / hit['time_to_target']).to_numpy(dtype=float)
    rows.append(
      {
        'workload': w,
        'submission': s,
        'runs': len(g),
        'seeds': g['seed'].nunique(),
        'reached': len(hit),
        'fraction_reached': len(hit) / len(g),
        'mean_s': mean,
        'median_s': float(np.median(t)) if len(t) else float('nan'),
        'sd_s': sd,
        'cv': _cv(sd, mean),
        'machine_sd_s': sd_m,
        'machine_cv': _cv(sd_m, mean),
        'machine_range_mean_s': float(np.mean(ranges)) if ranges else float('nan'),
        'machine_range_max_s': float(np.max(ranges)) if ranges else float('nan'),
        'seed_sd_s': sd_s,
        'seed_cv': _cv(sd_s, mean),
        'machine_cv_normalised': _cv(sd_mn, mean_n),
        'compile_share': float(np.nanmean(share)) if np.isfinite(share).any() else float('nan'),
        'misses': ', '.join(
          f'{k} {v}' for k, v in sorted(g[~g['reached']]['status'].value_counts().items())
        ),
        'steps_mean': float(hit['global_step'].mean()) if len(hit) else float('nan'),
      }
    )
  return pd.DataFrame(rows)


def workload_stats(per_sub: pd.DataFrame) -> pd.DataFrame:
  """Gap between the submissions' mean times and the signal-to-noise ratios per workload.

  Over the submissions with at least two runs at the target (the others are named in
  ``note``): a submission that never reaches has no time to compare.
  """
  rows = []
  for w, g in per_sub.groupby('workload', sort=True):
    left_out = g[g['reached'] < 2]['submission'].tolist()
    g = g[g['reached'] >= 2]
    means = g['mean_s'].to_numpy(dtype=float)
    defined = len(g) >= 2
    gap = float(means.max() - means.min()) if defined else float('nan')
    noise = float(np.sqrt(np.mean(g['sd_s'].to_numpy(dtype=float) ** 2))) if len(g) else np.nan
    machine = (
      float(np.sqrt(np.mean(g['machine_sd_s'].to_numpy(dtype=float) ** 2))) if len(g) else np.nan
    )
    note = f'left out (fewer than 2 runs at the target): {", ".join(left_out)}' if left_out else ''
    rows.append(
      {
        'workload': w,
        'submissions': len(g),
        'fastest': g['submission'].iloc[int(np.argmin(means))] if len(g) else None,
        'gap_s': gap,
        'noise_sd_s': noise,
        'machine_sd_s': machine,
        'snr': gap / noise if defined and noise > 0 else float('nan'),
        'snr_machine': gap / machine if defined and machine > 0 else float('nan'),
        'note': note,
      }
    )
  return pd.DataFrame(rows)


def _pools(runs: pd.DataFrame, subs: list[str], wls: list[str]):
  """``pools[i][j]``: (seeds, repeats) array of times (inf = miss), or None."""
  out = [[None] * len(wls) for _ in subs]
  for (s, w), g in runs.groupby(['submission', 'workload']):
    if s not in subs or w not in wls:
      continue
    seeds = sorted(set(g['seed']))
    reps = max(g.groupby('seed').size())
    a = np.full((len(seeds), reps), np.nan)
    for k, (_, x) in enumerate(g.groupby('seed', sort=True)):
      t = np.where(x['reached'], x['time_to_target'], np.inf)
      a[k, : len(t)] = t
    out[subs.index(s)][wls.index(w)] = a
  return out


def synthetic_scores(
  pools, n_studies: int, samples: int, seed: int, subs: list[str], wls: list[str]
) -> np.ndarray:
  """(samples, submissions) scores of synthetic benchmarks of ``n_studies`` studies."""
  raw = np.full((samples, len(subs), len(wls)), np.inf)
  for i, j in itertools.product(range(len(subs)), range(len(wls))):
    a = pools[i][j]
    if a is None:
      continue
    rng = np.random.default_rng(
      [seed, n_studies, zlib.crc32(subs[i].encode()), zlib.crc32(wls[j].encode())]
    )
    counts = np.sum(~np.isnan(a), axis=1)
    k = rng.integers(0, a.shape[0], size=(samples, n_studies))
    r = np.minimum((rng.random((samples, n_studies)) * counts[k]).astype(np.int64), counts[k] - 1)
    raw[:, i, j] = np.median(a[k, r], axis=1)
  final = bootstrap._cut_and_heldout(raw, wls, wls, [], None, CUT)
  taus = rules.tau_grid()
  _, score = bootstrap.scores_of(final, len(wls), taus, 'trapezoid', 4.0)
  return score


def separation(runs: pd.DataFrame, samples: int, max_studies: int, seed: int = 0):
  """Score-difference intervals by study count, and the smallest count that separates."""
  subs = sorted(set(runs['submission']))
  wls = sorted(set(runs['workload']))
  pools = _pools(runs, subs, wls)
  pairs = list(itertools.combinations(range(len(subs)), 2))
  rows, needed = [], {p: None for p in pairs}
  lo_q, hi_q = (1 - bootstrap.LEVEL) / 2, 1 - (1 - bootstrap.LEVEL) / 2
  for n in range(1, max_studies + 1):
    if pairs and all(needed[p] is not None for p in pairs):
      break
    score = synthetic_scores(pools, n, samples, seed, subs, wls)
    for i, j in pairs:
      d = score[:, i] - score[:, j]
      lo, hi = np.quantile(d, [lo_q, hi_q], method='inverted_cdf')
      apart = bool(lo > 0 or hi < 0)
      if apart and needed[(i, j)] is None:
        needed[(i, j)] = n
      rows.append(
        {
          'a': subs[i],
          'b': subs[j],
          'studies': n,
          'diff_mean': float(d.mean()),
          'diff_lo': float(lo),
          'diff_hi': float(hi),
          'separated': apart,
        }
      )
  sep = pd.DataFrame(
    rows, columns=['a', 'b', 'studies', 'diff_mean', 'diff_lo', 'diff_hi', 'separated']
  )
  need = pd.DataFrame(
    [
      {
        'a': subs[i],
        'b': subs[j],
        'studies_needed': needed[(i, j)],
        'label': str(needed[(i, j)]) if needed[(i, j)] else f'>{max_studies}',
      }
      for i, j in pairs
    ],
    columns=['a', 'b', 'studies_needed', 'label'],
  )
  return sep, need


def read_conditions(root: str) -> pd.DataFrame:
  path = os.path.join(root, CONDITIONS_FILE)
  rows = []
  try:
    with open(path) as f:
      for line in f:
        try:
          rows.append(json.loads(line))
        except ValueError:
          continue
  except OSError:
    pass
  return pd.DataFrame(rows)


def analyse_directory(
  root: str,
  targets_path=None,
  submissions=None,
  workloads=None,
  samples: int = 2000,
  max_studies: int = 50,
  allow_mixed_hardware: bool = False,
  seed: int = 0,
) -> NoiseResult:
  """Every table of the noise report for the tree at ``root``.

  Raises:
    ScoringError: nothing to read, or trials on different hardware classes without
      ``allow_mixed_hardware``.
  """
  runs, hw, msgs = read_runs(root, targets_path, submissions, workloads)
  msgs += hardware.check(hw, allow_mixed_hardware)
  per_sub = submission_stats(runs)
  per_wl = workload_stats(per_sub)
  sep, need = separation(runs, samples, max_studies, seed)
  return NoiseResult(
    root=root,
    runs=runs,
    per_submission=per_sub,
    per_workload=per_wl,
    separation=sep,
    studies_needed=need,
    conditions=read_conditions(root),
    hardware=sorted(set(hw['hardware_class'])),
    samples=samples,
    max_studies=max_studies,
    warnings=msgs,
  )


# ----- Rendering. -----


def _f(x, fmt: str = '.2f', unit: str = '') -> str:
  try:
    x = float(x)
  except (TypeError, ValueError):
    return 'n/a'
  return 'n/a' if not np.isfinite(x) else f'{x:{fmt}}{unit}'


def _pct(x) -> str:
  return _f(100 * x if x is not None else None, '.1f', '%')


def _table(header: list[str], rows: list[list[str]]) -> str:
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
  return '\n'.join(lines)


def load_summary(cond: pd.DataFrame) -> str:
  if cond is None or not len(cond) or 'load_1m' not in cond:
    return 'not recorded'
  one = cond['load_1m'].astype(float)
  cores = cond['cpu_count'].dropna()
  nice = cond['nice'].dropna() if 'nice' in cond else pd.Series(dtype=float)
  return (
    f'1-minute load average at the end of each trial: min {one.min():.2f}, mean {one.mean():.2f}, '
    f'max {one.max():.2f} on {int(cores.iloc[0]) if len(cores) else "?"} cores'
    + (f'; trials ran at nice {int(nice.iloc[0])}' if len(nice) else '')
  )


def summary_text(res: NoiseResult) -> str:
  """The tables as plain text for the terminal."""
  ps = res.per_submission
  lines = ['time to target (s), reaching runs only:']
  for _, r in ps.iterrows():
    lines.append(
      f'  {r.workload:<18} {r.submission:<12} reached {r.reached}/{r.runs}  mean {_f(r.mean_s)}  '
      f'machine sd {_f(r.machine_sd_s)} (cv {_pct(r.machine_cv)})  '
      f'seed sd {_f(r.seed_sd_s)} (cv {_pct(r.seed_cv)})'
    )
  for _, r in res.per_workload.iterrows():
    lines.append(f'  {r.workload}: gap {_f(r.gap_s)} s, SNR {_f(r.snr)} {r.note}'.rstrip())
  for _, r in res.studies_needed.iterrows():
    lines.append(f'  studies to separate {r.a} and {r.b}: {r.label}')
  lines.append(f'  load: {load_summary(res.conditions)}')
  return '\n'.join(lines)


def _plot_times(res: NoiseResult, path: str) -> None:
  """Every run's time to target, per workload and submission, repeats of a seed side by side."""
  from . import plots

  runs = res.runs
  wls = sorted(set(runs['workload']))
  subs = sorted(set(runs['submission']))
  styles = plots.submission_styles(subs)
  with plots._rc():
    fig = plots._new_figure((2.8 * max(len(wls), 1) + 0.8, 3.6))
    fig.subplots_adjust(wspace=0.35, left=0.08, bottom=0.27)
    for k, w in enumerate(wls):
      ax = fig.add_subplot(1, len(wls), k + 1)
      for i, s in enumerate(subs):
        g = runs[(runs['workload'] == w) & (runs['submission'] == s)]
        seeds = sorted(set(g['seed']))
        width = 0.6 / max(len(seeds), 1)  # A slot per seed; its repeats side by side in it.
        for r in g.to_dict('records'):
          pos = i - 0.3 + width * (seeds.index(r['seed']) + 0.3 + 0.4 * (r['repeat'] % 3) / 2)
          if r['reached']:
            ax.plot([pos], [r['time_to_target']], 'o', ms=4, color=styles[s]['color'], alpha=0.8)
          else:
            ax.plot([pos], [0], 'x', ms=5, color=styles[s]['color'])
      ax.set_xticks(range(len(subs)))
      ax.set_xticklabels(subs, rotation=30, fontsize=8)
      ax.set_title(w, fontsize=9)
      ax.set_ylabel('time to target (s)' if k == 0 else '')
      ax.set_ylim(bottom=0)
    fig.text(
      0.5,
      0.01,
      'dots: runs at the target (seeds left to right, repeats of a seed side by side); '
      'x at 0: a miss',
      ha='center',
      fontsize=8,
    )
  plots.save(fig, path)


def _plot_separation(res: NoiseResult, path: str) -> None:
  """95% interval of the score difference against the number of studies."""
  from . import plots

  sep = res.separation
  with plots._rc():
    fig = plots._new_figure((7.0, 3.4), right=0.7)
    fig.subplots_adjust(bottom=0.15, left=0.13)
    ax = fig.add_subplot(1, 1, 1)
    for k, ((a, b), g) in enumerate(sep.groupby(['a', 'b'], sort=True)):
      color = plots.TAB10[k % 10]
      ax.fill_between(g['studies'], g['diff_lo'], g['diff_hi'], color=color, alpha=0.2)
      ax.plot(g['studies'], g['diff_mean'], color=color, label=f'{a} - {b}')
    ax.axhline(0, color='#444444', lw=0.8)
    ax.set_xlabel('studies (synthetic)')
    ax.set_ylabel('score difference, 95% interval')
    if len(sep):
      plots._legend_outside(ax)
  plots.save(fig, path)


def _last_interval(res: NoiseResult, a: str, b: str) -> str:
  g = res.separation[(res.separation['a'] == a) & (res.separation['b'] == b)]
  if not len(g):
    return 'n/a'
  r = g.iloc[-1]
  return f'{r.diff_mean:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}] at {int(r.studies)}'


def _calibration_text(res: NoiseResult) -> str:
  """What the calibration workload says about this run, when it was timed per trial."""
  runs = res.runs
  cal = runs['calibration_s'].to_numpy(dtype=float)
  if not np.isfinite(cal).any():
    return (
      '- Calibration: not timed per trial (`--calibrate_repeats=0`): no reference-system '
      'normalisation measured.'
    )
  ps = res.per_submission
  pairs = [
    f'{r.workload}/{r.submission} {_pct(r.machine_cv)} -> {_pct(r.machine_cv_normalised)}'
    for r in ps.itertuples()
  ]
  return (
    f'- Calibration (per trial, mean of a call just before and just after it): '
    f'{_f(np.nanmean(cal), ".4f")} s per loop; CV across trials {_pct(np.nanstd(cal, ddof=1) / np.nanmean(cal))}, '
    f'CV of the repeats within one call (mean) {_pct(np.nanmean(runs["calibration_cv"]))}. '
    'Machine CV raw -> normalised to reference-system seconds (times x median calibration / '
    f'trial calibration): {"; ".join(pairs)}.'
  )


def write_report(res: NoiseResult, out_dir: str, command: str, run_seconds=None) -> str:
  """``{out_dir}/README.md`` with ``times.png`` and ``separation.png``; returns the path."""
  os.makedirs(out_dir, exist_ok=True)
  _plot_times(res, os.path.join(out_dir, 'times.png'))
  _plot_separation(res, os.path.join(out_dir, 'separation.png'))
  ps, pw, cond = res.per_submission, res.per_workload, res.conditions
  trial_wall = (
    float(cond['wall_clock_s'].astype(float).sum())
    if len(cond) and 'wall_clock_s' in cond
    else None
  )
  span = None
  if len(cond) and {'time', 'wall_clock_s'} <= set(cond.columns):
    ends = cond['time'].astype(float)
    span = float(ends.max() - (ends - cond['wall_clock_s'].astype(float)).min())
  n_seeds = int(res.runs['seed'].nunique())
  n_reps = int(res.runs.groupby(['submission', 'workload', 'seed']).size().max())
  out = [
    '# Noise of time to target on the CPU suite',
    '',
    f'Regenerate: `{command}` (resumable: finished trials are skipped; '
    f'`--overwrite` starts again).',
    '',
    f'- Tree: `{res.root}`; {len(res.runs)} runs: {n_seeds} seeds x {n_reps} repeats of each '
    f'seed, per submission and workload, each with its quick-mode point (its best '
    'target-setting point, as `suite --quick`).',
    f'- Hardware class: {", ".join(res.hardware)}.',
    f'- Load: {load_summary(cond)}.',
    f'- Trial wall time (sum over trials, set-up and evals included): '
    f"{_f(trial_wall, '.0f', ' s')}; from the first trial's start to the last one's end: "
    f'{_f(span, ".0f", " s")}'
    + (f'; this invocation: {run_seconds:.0f} s.' if run_seconds is not None else '.'),
    f'- Written {datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}.',
    '',
    'Definitions (module docstring of `scoring/noise.py`): machine noise = pooled '
    'standard deviation over repeats of one seed; training noise = standard deviation of '
    'the per-seed means; SNR = (largest - smallest mean time across submissions) / '
    'sqrt(mean over submissions of the variance of all their reaching runs); statistics '
    'over runs that reached the target.',
    '',
    _calibration_text(res),
    '',
    '## Per workload and submission',
    '',
    _table(
      [
        'workload',
        'submission',
        'reached',
        'mean (s)',
        'machine SD (s)',
        'machine CV',
        'range within seed, mean / max (s)',
        'seed SD (s)',
        'seed CV',
        'all runs SD (s)',
        'compile share',
        'misses',
      ],
      [
        [
          r.workload,
          r.submission,
          f'{r.reached}/{r.runs}',
          _f(r.mean_s),
          _f(r.machine_sd_s),
          _pct(r.machine_cv),
          f'{_f(r.machine_range_mean_s)} / {_f(r.machine_range_max_s)}',
          _f(r.seed_sd_s),
          _pct(r.seed_cv),
          _f(r.sd_s),
          _pct(r.compile_share),
          r.misses or '-',
        ]
        for r in ps.itertuples()
      ],
    ),
    '',
    '## Signal and noise per workload',
    '',
    _table(
      ['workload', 'fastest', 'gap (s)', 'noise SD (s)', 'SNR', 'SNR vs machine noise', 'note'],
      [
        [
          r.workload,
          r.fastest or 'n/a',
          _f(r.gap_s),
          _f(r.noise_sd_s),
          _f(r.snr),
          _f(r.snr_machine),
          r.note,
        ]
        for r in pw.itertuples()
      ],
    ),
    '',
    '## Studies the benchmark score needs to separate the submissions',
    '',
    f'Synthetic studies resampled from these runs ({res.samples} per study count, up to '
    f'{res.max_studies}); the score is over the measured workloads only.',
    '',
    _table(
      [
        'pair',
        'studies for a 95% interval of the score difference excluding 0',
        'score difference at the last count tried: mean [95% interval]',
      ],
      [
        [f'{r.a} vs {r.b}', r.label, _last_interval(res, r.a, r.b)]
        for r in res.studies_needed.itertuples()
      ],
    ),
    '',
    'An interval that narrows onto 0 is a tie: the two submissions get the same score once '
    'the medians settle (for instance each reaching a target the other misses).',
    '',
    '![times](times.png)',
    '',
    '![separation](separation.png)',
    '',
  ]
  if res.warnings:
    out += ['## Warnings', ''] + [f'- {w}' for w in res.warnings] + ['']
  path = os.path.join(out_dir, 'README.md')
  with open(path, 'w') as f:
    f.write('\n'.join(out))
  res.runs.to_csv(os.path.join(out_dir, 'runs.csv'), index=False)
  return path
