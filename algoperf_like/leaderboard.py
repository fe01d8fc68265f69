"""A leaderboard's answer to one submission: check it, run it, score it with the entries.

:func:`evaluate` is what ``algoperf-like leaderboard`` (a leaderboard's CI) runs for a pull
request that adds or changes a submission folder:

1. ``check`` (:func:`algoperf_like.checker.check_submission`: the static rules, the API, the
   search space, the smoke run). A failed check stops here: verdict ``rejected``.
2. The submission on the CPU suite, planned as ``algoperf-like run`` plans (one code path,
   :func:`algoperf_like.trial_plan.plan_trials`): in quick mode (the default) one study of
   one trial per workload, with the first point of the submission's own
   ``tuning_search_space.json`` (its first fixed point, or the first quasirandom point of a
   continuous space; no hyperparameters under self-tuning); with ``full`` one study of
   ``num_tuning_trials`` (5) points, the tuning that ``suite`` runs for the baselines.
   The submission's own search space only: an oracle point from target setting, which
   ``suite --quick`` gives the baselines, would reward a folder for its name. A trial that
   breaks a rule at run time (status ``rule_violation``) rejects the submission; a trial
   that fails counts as not reached, as in scoring.
3. Scoring (:mod:`algoperf_like.scoring`, on exactly the workloads run): the leaderboard's
   entries alone, then the entries with the new submission (it replaces an entry of the
   same name: a pull request that changes a submission), and the diff between the two
   (:mod:`algoperf_like.scoring.diff`).
4. ``comment.md`` (the pull-request comment, verdict line first) and ``summary.json``.

The leaderboard directory is a scoring tree, one experiment per entry, in AlgoPerf's layout:
``LEADERBOARD_DIR/<submission>/study_<k>/<workload>_jax/trial_<m>/eval_measurements.csv``
(what ``algoperf-like run --experiment_dir=LEADERBOARD_DIR --experiment_name=<submission>``
writes; ``meta_data_*.json``, ``trial_summary.json`` and the rest may stay, checkpoints need
not). The output directory gets ``comment.md``, ``summary.json``, ``check.txt``,
``experiments/<submission>/`` (the new logs), ``scores/`` (everything ``score`` writes, with
the leaderboard diff as ``diff.md``/``diff.csv``) and ``scores_before/`` (the leaderboard
alone).

Exit codes (:data:`EXIT_ACCEPTED` ...): 0 accepted, 1 rejected (a rule broken, in the check or
at run time), 2 error (bad input, or the harness or scoring failed).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2
VERDICTS = {EXIT_ACCEPTED: 'accepted', EXIT_REJECTED: 'rejected', EXIT_ERROR: 'error'}
QUICK_TRIALS = 1
FULL_TRIALS = 5
RULE_VIOLATION = 'rule_violation'  # The runner's trial status for a rule broken at run time.
COMMENT_FILE = 'comment.md'
SUMMARY_FILE = 'summary.json'
CHECK_FILE = 'check.txt'
EXPERIMENTS_DIR = 'experiments'
SCORES_DIR = 'scores'
SCORES_BEFORE_DIR = 'scores_before'


class BadInput(Exception):
  """The leaderboard cannot evaluate this (missing folder, unknown workload): exit code 2."""


@dataclasses.dataclass
class Options:
  """What to evaluate and how (the flags of ``algoperf-like leaderboard``)."""

  submission_dir: str
  leaderboard_dir: str
  output_dir: str
  workloads: List[str]
  full: bool = False
  num_tuning_trials: Optional[int] = None  # Default: 1 quick, 5 full.
  num_studies: int = 1
  tuning_ruleset: str = 'external'
  data_dir: Optional[str] = None
  rng_seed: int = 0
  max_global_steps: Optional[int] = None  # Caps each trial (tests, slow machines).
  eval_every_steps: Optional[int] = None
  bootstrap_samples: int = 1000
  run_url: Optional[str] = None  # The CI run that produced this (linked in the comment).
  # A sandbox.SandboxConfig: check's import and smoke run and every trial run in bubblewrap
  # (the command's default; None: --nosandbox, e.g. inside a container that is the boundary).
  sandbox: Any = None

  @property
  def trials_per_study(self) -> int:
    if self.tuning_ruleset == 'self':
      return 1
    return self.num_tuning_trials or (FULL_TRIALS if self.full else QUICK_TRIALS)


@dataclasses.dataclass
class Outcome:
  """Everything the comment and the summary say."""

  options: Options
  name: str
  exit_code: int = EXIT_ACCEPTED
  reason: str = ''  # One line: why rejected, or what failed.
  check: Any = None  # checker.Report
  trials: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
  scores: Any = None  # scoring ScoringResult with the new submission
  diff: Any = None  # DataFrame from scoring.diff.compare
  diff_markdown: str = ''
  entries: List[str] = dataclasses.field(default_factory=list)
  seconds: Dict[str, float] = dataclasses.field(default_factory=dict)

  @property
  def verdict(self) -> str:
    return VERDICTS[self.exit_code]


def submission_name(submission_dir: str) -> str:
  """The entry name: the folder's name, reduced to the characters a log tree keeps."""
  name = os.path.basename(os.path.normpath(os.path.abspath(submission_dir)))
  return re.sub(r'[^A-Za-z0-9_.-]', '_', name) or 'submission'


def validate(options: Options) -> None:
  """Raise :class:`BadInput` (one line) for what cannot be evaluated; write nothing."""
  from algoperf_like import checker, registry
  from algoperf_like.scoring.targets import load_targets

  try:
    checker.checked_folder(options.submission_dir)
  except checker.BadInput as e:
    raise BadInput(str(e)) from None
  if options.tuning_ruleset not in ('external', 'self'):
    raise BadInput(f'unknown ruleset {options.tuning_ruleset!r} (external or self)')
  if not os.path.isdir(options.leaderboard_dir):
    raise BadInput(f'--leaderboard_dir: {options.leaderboard_dir}: no such folder')
  if not options.workloads:
    raise BadInput('--workload: no workloads')
  targets = load_targets()
  unscored = [w for w in options.workloads if targets.get(w) is None]
  if unscored:
    raise BadInput(f'--workload: no scoring target for {", ".join(unscored)}')
  unknown = [w for w in options.workloads if w not in registry.workload_names()]
  if unknown:
    raise BadInput(f'--workload: unknown workload {", ".join(unknown)}')
  if os.path.exists(options.output_dir) and not os.path.isdir(options.output_dir):
    raise BadInput(f'--output_dir: {options.output_dir} is not a directory')


def plan(options: Options, name: str) -> list:
  """The trials of the submission (see the module docstring: quick and full)."""
  from algoperf_like import registry, trial_plan
  from algoperf_like.search_space import load_search_space

  space = None
  if options.tuning_ruleset == 'external':
    space = load_search_space(os.path.join(options.submission_dir, registry.SEARCH_SPACE_FILE))
  return trial_plan.plan_trials(
    options.workloads,
    os.path.abspath(os.path.join(options.submission_dir, registry.SUBMISSION_FILE)),
    space,
    options.tuning_ruleset,
    num_studies=options.num_studies,
    num_tuning_trials=options.trials_per_study,
    rng_seed=options.rng_seed,
    experiment_dir=os.path.join(options.output_dir, EXPERIMENTS_DIR),
    experiment_name=name,
  )


def _run_trials(options: Options, trials: list) -> List[Dict[str, Any]]:
  """Run the trials here (the local executor) and return one record per trial."""
  from algoperf_like import trial_logs
  from algoperf_like.cli import run as run_cli

  args = [
    'algoperf-like',
    f'--tuning_ruleset={options.tuning_ruleset}',
    '--checkpoint_period_sec=60',  # Minutes-long trials: one checkpoint a minute at most.
  ]
  if options.data_dir:
    args.append(f'--data_dir={options.data_dir}')
  if options.max_global_steps:
    args.append(f'--max_global_steps={options.max_global_steps}')
  if options.eval_every_steps:
    args.append(f'--eval_every_steps={options.eval_every_steps}')
  if options.sandbox is not None:
    args += ['--sandbox', f'--sandbox_bwrap={options.sandbox.bwrap}']
  run_flags = run_cli.define_flags()
  run_flags(args)
  root = os.path.join(options.output_dir, EXPERIMENTS_DIR)
  run_cli.run_plan(trials, run_flags, run_cli.make_executor(run_flags, root, 'local'))
  records = []
  for t in trials:
    summary = trial_logs.read_summary(t.log_dir) or {'status': 'failed', 'error': 'no summary'}
    records.append(
      {
        'workload': t.workload,
        'study': t.study,
        'trial': t.trial,
        'status': summary.get('status'),
        'error': summary.get('error'),
        'global_step': summary.get('global_step'),
        'hyperparameters': t.hyperparameters,
        'log_dir': os.path.relpath(t.log_dir, options.output_dir),
      }
    )
  return records


def _scoring_targets(workloads: List[str]):
  """This project's targets, scoring exactly ``workloads`` (the ones that were run)."""
  from algoperf_like.scoring.targets import load_targets

  return dataclasses.replace(load_targets(), base=tuple(workloads), held_out=())


def _score(root: str, targets, options: Options, output_dir: str):
  import warnings

  from algoperf_like.scoring import report
  from algoperf_like.scoring.errors import ScoringWarning
  from algoperf_like.scoring.pipeline import ScoringOptions, score_logs
  from algoperf_like.scoring.read import read_logs

  opts = ScoringOptions(
    self_tuning=options.tuning_ruleset == 'self',
    expected_studies=None,  # Entries may have run other protocols: said in warnings.txt.
    expected_trials=options.trials_per_study,
    bootstrap_samples=options.bootstrap_samples,
  )
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always', ScoringWarning)
    res = score_logs(read_logs(root, targets, opts.time_column), targets, opts)
  res.warnings = [str(w.message) for w in caught if issubclass(w.category, ScoringWarning)]
  report.write_outputs(res, output_dir)
  return res


def _linked_tree(entries: Dict[str, str]) -> str:
  """A temporary scoring tree: one symlink per experiment (nothing is copied)."""
  root = tempfile.mkdtemp(prefix='algoperf-like-leaderboard-')
  for name, path in entries.items():
    os.symlink(os.path.abspath(path), os.path.join(root, name))
  return root


def _score_with_leaderboard(options: Options, outcome: Outcome) -> None:
  import pandas as pd

  from algoperf_like.scoring import diff
  from algoperf_like.scoring.read import find_submissions

  targets = _scoring_targets(options.workloads)
  found = find_submissions(options.leaderboard_dir, lambda msg: None)
  entries = {n: p for n, p in found if n != outcome.name}
  outcome.entries = sorted({n for n, _ in found})
  before_dir = os.path.join(options.output_dir, SCORES_BEFORE_DIR)
  after_dir = os.path.join(options.output_dir, SCORES_DIR)
  previous = pd.DataFrame(columns=['submission', 'score', 'rank']).set_index('submission')
  if found:
    tree = _linked_tree(dict(found))
    try:
      _score(tree, targets, options, before_dir)
    finally:
      shutil.rmtree(tree)
    previous = diff.read_previous(before_dir)
  entries[outcome.name] = os.path.join(options.output_dir, EXPERIMENTS_DIR, outcome.name)
  tree = _linked_tree(entries)
  try:
    scores = _score(tree, targets, options, after_dir)
  finally:
    shutil.rmtree(tree)
  if outcome.name not in set(scores.scores['submission']):
    failed = '; '.join(f'{t["workload"]}: {t["error"]}' for t in outcome.trials if t['error'])
    raise RuntimeError(f'no evaluation of {outcome.name} to score ({failed or "no logs"})')
  outcome.scores = scores
  outcome.diff = diff.compare(outcome.scores.scores, previous)
  outcome.diff_markdown = diff.to_markdown(outcome.diff, options.leaderboard_dir)
  outcome.diff.to_csv(os.path.join(after_dir, 'diff.csv'), index=False)
  with open(os.path.join(after_dir, 'diff.md'), 'w') as f:
    f.write(outcome.diff_markdown)


def evaluate(options: Options) -> Outcome:
  """Check, run and score the submission; write the comment and the summary.

  Raises:
    BadInput: the inputs cannot be evaluated (nothing is written then).
  """
  from algoperf_like import checker

  validate(options)
  name = submission_name(options.submission_dir)
  outcome = Outcome(options, name)
  os.makedirs(options.output_dir, exist_ok=True)
  start = time.monotonic()
  try:
    outcome.check = checker.check_submission(
      options.submission_dir, options.tuning_ruleset, options.data_dir, sandbox=options.sandbox
    )
    outcome.seconds['check'] = time.monotonic() - start
    with open(os.path.join(options.output_dir, CHECK_FILE), 'w') as f:
      f.write(outcome.check.render() + '\n')
    if not outcome.check.passed:
      outcome.exit_code = EXIT_REJECTED
      outcome.reason = f'the check failed: {", ".join(outcome.check.failed_rules)}'
    else:
      mark = time.monotonic()
      outcome.trials = _run_trials(options, plan(options, name))
      outcome.seconds['run'] = time.monotonic() - mark
      broken = [t for t in outcome.trials if t['status'] == RULE_VIOLATION]
      if broken:
        outcome.exit_code = EXIT_REJECTED
        outcome.reason = 'a rule was broken while training: ' + '; '.join(
          f'{t["workload"]}: {t["error"]}' for t in broken
        )
      else:
        mark = time.monotonic()
        _score_with_leaderboard(options, outcome)
        outcome.seconds['score'] = time.monotonic() - mark
  except Exception as e:  # The harness or scoring failed: the comment says so (exit 2).
    outcome.exit_code = EXIT_ERROR
    outcome.reason = ' '.join(f'{type(e).__name__}: {e}'.split())[:500]
  outcome.seconds['total'] = time.monotonic() - start
  write_outputs(outcome)
  return outcome


# ---------------------------------------------------------------- comment and summary


def _num(v: Any) -> Optional[float]:
  try:
    f = float(v)
  except (TypeError, ValueError):
    return None
  return None if math.isnan(f) else f


def _seconds(v: Any) -> str:
  f = _num(v)
  if f is None:
    return '–'
  return 'not reached' if math.isinf(f) else f'{f:,.1f}'


def _own_row(outcome: Outcome) -> Optional[Dict[str, Any]]:
  if outcome.scores is None:
    return None
  rows = outcome.scores.scores
  mine = rows[rows['submission'] == outcome.name]
  return None if mine.empty else mine.iloc[0].to_dict()


def _headline(outcome: Outcome) -> str:
  name = f'`{outcome.name}`'
  if outcome.exit_code == EXIT_REJECTED:
    return f'**Verdict: rejected** ({outcome.reason}): {name} breaks the rules.'
  if outcome.exit_code == EXIT_ERROR:
    return f'**Verdict: error**: {name} could not be evaluated ({outcome.reason}).'
  row = _own_row(outcome)
  n = len(outcome.scores.scores)
  ci = ''
  if row.get('score_lo') is not None and _num(row.get('score_lo')) is not None:
    ci = f', 95% CI {row["score_lo"]:.4f}–{row["score_hi"]:.4f}'
  return (
    f'**Verdict: accepted**: {name} ranks {int(row["rank"])} of {n} '
    f'(score {row["score"]:.4f}{ci}; {int(row["workloads_reached"])}/'
    f'{int(row["workloads_scored"])} workloads reached).'
  )


def _what_ran(options: Options) -> str:
  mode = 'full' if options.full else 'quick'
  if options.tuning_ruleset == 'self':
    points = 'self-tuning (no hyperparameters)'
  elif options.trials_per_study == 1:
    points = 'the first point of its `tuning_search_space.json`'
  else:
    points = f'{options.trials_per_study} points of its `tuning_search_space.json`'
  caps = ''
  if options.max_global_steps:
    caps = f', at most {options.max_global_steps} steps a trial'
  where = (
    'in the bubblewrap sandbox (SECURITY.md)'
    if options.sandbox is not None
    else 'without the sandbox (--nosandbox)'
  )
  return (
    f'Mode: {mode}: {options.num_studies} stud{"y" if options.num_studies == 1 else "ies"} '
    f'on {", ".join(f"`{w}`" for w in options.workloads)}, with {points}{caps} '
    f'({options.tuning_ruleset} tuning ruleset), {where}.'
  )


def _check_section(outcome: Outcome) -> List[str]:
  if outcome.check is None:
    return []
  lines = ['### Rule check', '', '| check | result | detail |', '|---|---|---|']
  from algoperf_like.static_rules import RULES

  for r in outcome.check.results:
    detail = (r.detail or RULES[r.rule]).replace('|', '\\|')
    lines.append(f'| `{r.rule}` | {r.status} | {detail} |')
  if outcome.check.violations:
    lines += ['', 'Findings:', '']
    lines += [f'- `{v.rule}`: `{v}`' for v in outcome.check.violations]
  broken = [t for t in outcome.trials if t['status'] == RULE_VIOLATION]
  if broken:
    lines += ['', 'Broken while training:', '']
    lines += [f'- `{t["workload"]}` trial {t["trial"]}: {t["error"]}' for t in broken]
  return lines + ['']


def _leaderboard_section(outcome: Outcome) -> List[str]:
  if outcome.scores is None:
    return []
  s = outcome.scores.scores
  has_ci = 'score_lo' in s.columns
  lines = [
    '### Leaderboard',
    '',
    outcome.diff_markdown.rstrip(),
    '',
    '| rank | submission | score |' + (' 95% CI |' if has_ci else '') + ' reached |',
    '|---:|---|---:|' + ('---|' if has_ci else '') + '---|',
  ]
  for r in s.to_dict(orient='records'):
    who = f'**{r["submission"]}** (this PR)' if r['submission'] == outcome.name else r['submission']
    ci = f' {r["score_lo"]:.4f}–{r["score_hi"]:.4f} |' if has_ci else ''
    lines.append(
      f'| {int(r["rank"])} | {who} | {r["score"]:.4f} |{ci} '
      f'{int(r["workloads_reached"])}/{int(r["workloads_scored"])} |'
    )
  return lines + ['']


def time_to_target_rows(outcome: Outcome) -> List[Dict[str, Any]]:
  """Per workload: the target, this submission's time and trial statuses, the best entry."""
  if outcome.scores is None:
    return []
  from algoperf_like.scoring.report import best_metric_frame

  res = outcome.scores
  best_metric = best_metric_frame(res).set_index('submission')
  rows = []
  for w in res.times.columns:
    target = res.targets.get(w)
    col = res.times[w]
    others = col.drop(outcome.name, errors='ignore').astype(float)
    finite = others[others.map(math.isfinite)]
    best = finite.idxmin() if len(finite) else None
    rows.append(
      {
        'workload': w,
        'metric': target.metric,
        'target': target.value,
        'minimize': target.minimize,
        'seconds': _num(col.get(outcome.name)),
        'best_validation': _num(best_metric[w].get(outcome.name)) if w in best_metric else None,
        'statuses': sorted({str(t['status']) for t in outcome.trials if t['workload'] == w}),
        'best_entry': best,
        'best_entry_seconds': None if best is None else float(finite[best]),
      }
    )
  return rows


def _time_section(outcome: Outcome) -> List[str]:
  rows = time_to_target_rows(outcome)
  if not rows:
    return []
  lines = [
    '### Time to target per workload',
    '',
    f'Seconds of submission time to the validation target (median over studies of the best '
    f"trial); `{outcome.name}`'s trials ended as shown.",
    '',
    f'| workload | target | `{outcome.name}` (s) | best validation | trials | best entry (s) |',
    '|---|---|---:|---:|---|---|',
  ]
  for r in rows:
    arrow = '↓' if r['minimize'] else '↑'
    best = '–' if r['best_entry'] is None else f'{r["best_entry_seconds"]:,.1f} ({r["best_entry"]})'
    shown = '–' if r['best_validation'] is None else f'{r["best_validation"]:.4g}'
    lines.append(
      f'| `{r["workload"]}` | {r["metric"]} {arrow} {r["target"]:g} | {_seconds(r["seconds"])} '
      f'| {shown} | {", ".join(r["statuses"]) or "–"} | {best} |'
    )
  return lines + ['']


def artifact_paths(outcome: Outcome) -> Dict[str, str]:
  """The outputs that exist, relative to the output directory."""
  out = outcome.options.output_dir
  candidates = {
    'comment': COMMENT_FILE,
    'summary': SUMMARY_FILE,
    'check': CHECK_FILE,
    'logs': os.path.join(EXPERIMENTS_DIR, outcome.name),
    'scores': os.path.join(SCORES_DIR, 'scores.csv'),
    'report': os.path.join(SCORES_DIR, 'report.html'),
    'diff': os.path.join(SCORES_DIR, 'diff.md'),
    'scores_before': os.path.join(SCORES_BEFORE_DIR, 'scores.csv'),
    'warnings': os.path.join(SCORES_DIR, 'warnings.txt'),
  }
  always = ('comment', 'summary')
  return {
    k: v for k, v in candidates.items() if k in always or os.path.exists(os.path.join(out, v))
  }


def render_comment(outcome: Outcome) -> str:
  """``comment.md``: the verdict line first, then the findings, the leaderboard, the times."""
  lines = [_headline(outcome), '', _what_ran(outcome.options), '']
  lines += _check_section(outcome)
  lines += _leaderboard_section(outcome)
  lines += _time_section(outcome)
  failed = [t for t in outcome.trials if t['status'] == 'failed']
  if failed:
    lines += ['Failed trials (counted as not reached):', '']
    lines += [f'- `{t["workload"]}` trial {t["trial"]}: {t["error"]}' for t in failed]
    lines.append('')
  lines += ['### Artifacts', '']
  if outcome.options.run_url:
    lines.append(f'- CI run (logs and the artifacts below): {outcome.options.run_url}')
  lines += [f'- {k}: `{v}`' for k, v in artifact_paths(outcome).items()]
  if outcome.scores is not None and outcome.scores.warnings:
    lines += ['', f'{len(outcome.scores.warnings)} scoring warnings: `scores/warnings.txt`.']
  return '\n'.join(lines) + '\n'


def _plain(v: Any) -> Any:
  if hasattr(v, 'item'):
    v = v.item()
  if isinstance(v, float) and not math.isfinite(v):
    return None if math.isnan(v) else ('inf' if v > 0 else '-inf')
  return v


def summary(outcome: Outcome) -> Dict[str, Any]:
  """``summary.json``: the verdict, exit code, findings, scores and paths, as plain JSON."""
  check = outcome.check
  doc: Dict[str, Any] = {
    'verdict': outcome.verdict,
    'exit_code': outcome.exit_code,
    'reason': outcome.reason,
    'submission': outcome.name,
    'submission_dir': outcome.options.submission_dir,
    'mode': 'full' if outcome.options.full else 'quick',
    'tuning_ruleset': outcome.options.tuning_ruleset,
    'workloads': outcome.options.workloads,
    'num_studies': outcome.options.num_studies,
    'trials_per_study': outcome.options.trials_per_study,
    'checks': [{'rule': r.rule, 'status': r.status, 'detail': r.detail} for r in check.results]
    if check
    else [],
    'findings': [dataclasses.asdict(v) for v in check.violations] if check else [],
    'trials': outcome.trials,
    'leaderboard_entries': outcome.entries,
    'scores': None,
    'rank': None,
    'leaderboard': [],
    'diff': [],
    'time_to_target': [{k: _plain(v) for k, v in r.items()} for r in time_to_target_rows(outcome)],
    'seconds': {k: round(v, 2) for k, v in outcome.seconds.items()},
    'run_url': outcome.options.run_url,
    'paths': artifact_paths(outcome),
  }
  doc['findings'] += [
    {'rule': RULE_VIOLATION, 'path': t['log_dir'], 'line': None, 'message': t['error']}
    for t in outcome.trials
    if t['status'] == RULE_VIOLATION
  ]
  if outcome.scores is not None:
    rows = [{k: _plain(v) for k, v in r.items()} for r in outcome.scores.scores.to_dict('records')]
    doc['leaderboard'] = rows
    mine = next(r for r in rows if r['submission'] == outcome.name)
    doc['scores'] = mine
    doc['rank'] = mine['rank']
    doc['diff'] = [{k: _plain(v) for k, v in r.items()} for r in outcome.diff.to_dict('records')]
  return doc


def write_outputs(outcome: Outcome) -> None:
  out = outcome.options.output_dir
  with open(os.path.join(out, COMMENT_FILE), 'w') as f:
    f.write(render_comment(outcome))
  with open(os.path.join(out, SUMMARY_FILE), 'w') as f:
    json.dump(summary(outcome), f, indent=1, sort_keys=True, default=str)
    f.write('\n')
