"""``algoperf-like check --submission_path=SUBMISSION``: does a submission follow the rules?

Checks, in order (rule ids as in :data:`algoperf_like.static_rules.RULES`):

1. the static rules on ``submission.py``'s source (:mod:`algoperf_like.static_rules`);
2. ``api``: the module loads and has AlgoPerf's functions and signatures
   (:func:`algoperf_like.submission.load_submission`). Skipped, to keep this
   machine safe, when the source breaks a rule about files, processes, patching
   or dynamic code: loading a module runs it;
3. ``search-space``: external tuning ships a valid ``tuning_search_space.json``,
   self-tuning ships none;
4. ``smoke``: unless ``--nosmoke`` or an earlier check failed, the real runner
   trains the submission for 20 steps on the registry's ``smoke`` suite (two CPU
   workloads, see :func:`smoke_workloads`) with the first point of its search space
   (None under self-tuning); it fails on any exception, non-finite metrics or parameters, or
   ``update_params``/``prepare_for_eval`` returning parameters of another
   structure, shape or dtype, and on a run-time rule violation (the guarded workload,
   :mod:`algoperf_like.guard`, and the integrity checks, :mod:`algoperf_like.integrity`:
   what static rules cannot see, e.g. names built at run time), reported with the member
   or what changed and the submission's line.

The report has one line per check (PASS, FAIL or SKIP), each violation as
``file:line: why``, and a verdict. Exit code: 0 all passed, 1 violations, 2 bad input.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import os
import re
import sys
import traceback
from typing import Any, List, Optional

from algoperf_like import command_line, registry, spec
from algoperf_like.guard import RuleViolation
from algoperf_like.sandbox import SandboxUnavailable
from algoperf_like.search_space import (
  SearchSpaceError,
  load_search_space,
  make_hyperparameters,
  quasirandom_points,
)
from algoperf_like.static_rules import RULES, STATIC_RULES, Violation, check_source
from algoperf_like.submission import SubmissionError, load_submission

SUBMISSION_FILE = registry.SUBMISSION_FILE
SEARCH_SPACE_FILE = registry.SEARCH_SPACE_FILE
UNSAFE_TO_IMPORT = frozenset({'io', 'processes', 'monkeypatch', 'dynamic-code'})
SMOKE_STEPS = 20
SMOKE_EVAL_EVERY = 10
SMOKE_SEED = 0
SMOKE_SUITE = 'smoke'
CHECK_WALL_TIME_S = 1800.0  # The sandboxed import and smoke run (minutes on a slow machine).


class BadInput(Exception):
  """The checker cannot check this (missing folder or file, bad flag): exit code 2."""


@dataclasses.dataclass
class CheckResult:
  """One line of the report."""

  rule: str
  status: str  # PASS | FAIL | SKIP
  detail: str = ''
  violations: List[Violation] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Report:
  submission_dir: str
  ruleset: str
  results: List[CheckResult]

  @property
  def violations(self) -> List[Violation]:
    return [v for r in self.results for v in r.violations]

  @property
  def failed_rules(self) -> List[str]:
    return [r.rule for r in self.results if r.status == 'FAIL']

  @property
  def passed(self) -> bool:
    return not self.failed_rules

  def render(self) -> str:
    lines = [f'Checking {self.submission_dir} (ruleset: {self.ruleset})']
    for r in self.results:
      lines.append(f'  {r.status:4}  {r.rule:18} {r.detail or RULES[r.rule]}')
      lines.extend(f'        {v}' for v in r.violations)
    if self.passed:
      lines.append('Verdict: PASS')
    else:
      n = len(self.violations)
      lines.append(f'Verdict: FAIL ({n} violation{"s" * (n != 1)}: {", ".join(self.failed_rules)})')
    return '\n'.join(lines)


def _fail_or_pass(rule: str, violations: List[Violation], detail: str = '') -> CheckResult:
  return CheckResult(rule, 'FAIL' if violations else 'PASS', detail, violations)


def _check_api(path: str, tree: Optional[ast.Module]):
  """``(CheckResult, loaded submission or None)``."""
  try:
    submission = load_submission(path)
    detail = (
      f'{RULES["api"]} (AlgoPerf {submission.algoperf_version} {submission.api} API, detected)'
    )
    return CheckResult('api', 'PASS', detail), submission
  except SubmissionError as e:
    match = re.match(rf'{re.escape(path)}(?::(\d+))?: (.*)', str(e))
    line, message = (int(match[1]) if match and match[1] else None, match[2] if match else str(e))
    if line is None and tree is not None:  # The line of the function the message names.
      defs = {n.name: n.lineno for n in tree.body if isinstance(n, ast.FunctionDef)}
      line = next((defs[f] for f in defs if re.search(rf'\b{f}\b', message)), None)
    return CheckResult(
      'api', 'FAIL', violations=[Violation('api', os.path.basename(path), line, message)]
    ), None


def _check_search_space(submission_dir: str, ruleset: str, search_space: Optional[str] = None):
  """``(CheckResult, SearchSpace or None)``: ``search_space`` (``--tuning_search_space``),
  else the submission folder's ``tuning_search_space.json``."""
  path = search_space or os.path.join(folder_of(submission_dir), SEARCH_SPACE_FILE)
  if ruleset == 'self':
    bad = os.path.exists(path)
    return _fail_or_pass(
      'search-space',
      [
        Violation(
          'search-space',
          SEARCH_SPACE_FILE,
          None,
          'self-tuning submissions get no hyperparameters and must not ship a search space',
        )
      ]
      if bad
      else [],
      'none (self-tuning)',
    ), None
  if not os.path.isfile(path):
    return _fail_or_pass(
      'search-space',
      [
        Violation(
          'search-space', SEARCH_SPACE_FILE, None, 'missing: external tuning needs a search space'
        )
      ],
    ), None
  try:
    space = load_search_space(path)
  except SearchSpaceError as e:
    line = None
    if e.source and e.source.startswith(path + ':'):
      line = int(e.source.rsplit(':', 1)[1])
    message = e.problem if e.key is None else f'hyperparameter {e.key!r}: {e.problem}'
    return _fail_or_pass(
      'search-space', [Violation('search-space', SEARCH_SPACE_FILE, line, message)]
    ), None
  kind = f'{len(space)} fixed points' if space.is_fixed else f'{len(space)} hyperparameters'
  return CheckResult('search-space', 'PASS', f'{SEARCH_SPACE_FILE}: {kind}'), space


def smoke_workloads(data_dir: str) -> list:
  """The workloads of the smoke run: the registry's ``smoke`` suite (see its comment)."""
  from algoperf_like import registry

  return [registry.get_workload(name, data_dir) for name in registry.SUITES[SMOKE_SUITE]]


class MalformedStateError(Exception):
  """The submission handed the runner state it cannot use (wrong shapes, non-finite values)."""


def _guarded(submission):
  """The submission with checks on what ``update_params``/``prepare_for_eval`` return."""
  import jax
  import jax.numpy as jnp

  last = {}

  def signature(tree):
    leaves = [(jnp.shape(x), jnp.result_type(x)) for x in jax.tree.leaves(tree)]
    return jax.tree.structure(tree), leaves

  def wrap(name, fn):
    def checked(workload, current_param_container, *args, **kwargs):
      out = fn(workload, current_param_container, *args, **kwargs)
      if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise MalformedStateError(
          f'{name} returned {type(out).__name__}, expected (optimizer_state, params, model_state)'
        )
      if signature(out[1]) != signature(current_param_container):
        raise MalformedStateError(
          f'{name} changed the structure, shapes or dtypes of the parameters'
        )
      last['params'] = out[1]
      return out

    return checked

  prepare = submission.prepare_for_eval
  return dataclasses.replace(
    submission,
    update_params=wrap('update_params', submission.update_params),
    prepare_for_eval=prepare and wrap('prepare_for_eval', prepare),
  ), last


def _finite(value: Any) -> bool:
  try:
    return math.isfinite(value)
  except TypeError:  # Not a number (e.g. a split name).
    return True


def _smoke_one(workload, submission, hyperparameters, ruleset, data_dir) -> str:
  """Train a few steps; return a one-line summary or raise with the reason."""
  import jax
  import numpy as np

  from algoperf_like.runner import RunConfig, train_once

  guarded, last = _guarded(submission)
  config = RunConfig(
    data_dir=data_dir,
    tuning_ruleset=ruleset,
    max_global_steps=SMOKE_STEPS,
    eval_every_steps=SMOKE_EVAL_EVERY,
    max_runtime_sec=600.0,
    stop_at_target=False,
  )
  result = train_once(workload, guarded, hyperparameters, SMOKE_SEED, None, config)
  if not result.eval_results:
    raise MalformedStateError(f'no evaluation in {result.global_step} steps')
  bad = [k for row in result.eval_results for k, v in row.items() if not _finite(v)]
  if bad:
    raise MalformedStateError(f'non-finite metrics: {", ".join(sorted(set(bad)))}')
  if not all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(last.get('params'))):
    raise MalformedStateError('non-finite parameters')
  metric = f'validation/{workload.target_metric_name}'
  return (
    f'{workload.workload_name}: {result.global_step} steps, '
    f'{metric} {result.eval_results[-1][metric]:.3f}'
  )


def _check_smoke(submission, space, ruleset: str, data_dir: str) -> CheckResult:
  hyperparameters = None
  if space is not None:
    point = space.fixed_points[0] if space.is_fixed else quasirandom_points(space, 1)[0]
    hyperparameters = make_hyperparameters(point)
  summaries, violations = [], []
  for workload in smoke_workloads(data_dir):
    try:
      summaries.append(_smoke_one(workload, submission, hyperparameters, ruleset, data_dir))
    except RuleViolation as e:  # Stopped by the guard or the run-time integrity checks.
      folder = os.path.dirname(submission.path)
      path = os.path.basename(submission.path)
      if e.path and os.path.abspath(e.path).startswith(folder + os.sep):
        path = os.path.relpath(e.path, folder)
      message = f'{workload.workload_name}: rule_violation: {e.one_line()}'
      violations.append(Violation('smoke', path, e.line, message[:300]))
    except Exception as e:  # Whatever the submission raised is the finding.
      frames = [
        f
        for f in traceback.extract_tb(e.__traceback__)
        if os.path.abspath(f.filename) == submission.path
      ]
      message = ' '.join(f'{workload.workload_name}: {type(e).__name__}: {e}'.split())
      violations.append(
        Violation(
          'smoke',
          os.path.basename(submission.path),
          frames[-1].lineno if frames else None,
          message[:300],
        )
      )
  return _fail_or_pass('smoke', violations, '; '.join(summaries))


def checked_folder(submission_dir: str) -> str:
  """The submission file: ``submission_dir``'s ``submission.py``, or ``submission_dir`` itself
  when it names a ``.py`` file (AlgoPerf's ``--submission_path=algorithms/.../jax_x.py``, its
  search space beside it); ``BadInput`` if it is missing."""
  if os.path.isfile(submission_dir) and submission_dir.endswith('.py'):
    return submission_dir
  if not os.path.isdir(submission_dir):
    raise BadInput(f'{submission_dir}: no such folder')
  path = os.path.join(submission_dir, SUBMISSION_FILE)
  if not os.path.isfile(path):
    raise BadInput(f'{submission_dir}: has no {SUBMISSION_FILE}')
  return path


def folder_of(submission_dir: str) -> str:
  """The folder of a submission named by its folder or by its file."""
  return os.path.dirname(submission_dir) if os.path.isfile(submission_dir) else submission_dir


def check_submission(
  submission_dir: str,
  ruleset: str = 'external',
  data_dir: Optional[str] = None,
  smoke: bool = True,
  sandbox=None,
  search_space: Optional[str] = None,
) -> Report:
  """Run every check on ``submission_dir`` and return the report.

  With ``sandbox`` (a :class:`algoperf_like.sandbox.SandboxConfig`), the checks that run the
  submission's code (import, smoke run) run in that sandbox; the static checks never run it.

  Raises:
    BadInput: the folder or its ``submission.py`` is missing, or ``ruleset`` is unknown.
  """
  if ruleset not in ('external', 'self'):
    raise BadInput(f'unknown ruleset {ruleset!r} (external or self)')
  path = checked_folder(submission_dir)
  with open(path, encoding='utf-8') as f:
    source = f.read()

  results: List[CheckResult] = []
  try:
    ast.parse(source, filename=path)
    found = check_source(source, os.path.basename(path))
    results += [_fail_or_pass(r, [v for v in found if v.rule == r]) for r in STATIC_RULES]
  except SyntaxError:  # Reported by the api check, which imports the file.
    results += [CheckResult(r, 'SKIP', 'not analysed: syntax error') for r in STATIC_RULES]

  unsafe = [r.rule for r in results if r.status == 'FAIL' and r.rule in UNSAFE_TO_IMPORT]
  if search_space is not None and not os.path.isfile(search_space):
    raise BadInput(f'--tuning_search_space: {search_space}: no such file')
  space_result, _ = _check_search_space(submission_dir, ruleset, search_space)
  blocked = any(r.status == 'FAIL' for r in results) or space_result.status == 'FAIL'
  results.append(space_result)
  if unsafe:
    results.append(CheckResult('api', 'SKIP', f'not imported: it breaks {", ".join(unsafe)}'))
    results.append(_smoke_skipped(smoke))
  else:
    args = dict(
      submission_dir=submission_dir,
      ruleset=ruleset,
      data_dir=data_dir or spec.DEFAULT_DATA_DIR,
      smoke=smoke,
      blocked=blocked,
      search_space=search_space and os.path.realpath(search_space),
    )
    results += sandboxed_checks(args, sandbox) if sandbox else dynamic_checks(**args)
  results.sort(key=lambda r: list(RULES).index(r.rule))  # api, search-space, static, smoke.
  return Report(submission_dir, ruleset, results)


def _smoke_skipped(smoke: bool) -> CheckResult:
  if not smoke:
    return CheckResult('smoke', 'SKIP', 'skipped (--nosmoke)')
  return CheckResult('smoke', 'SKIP', 'skipped: fix the violations above first')


def dynamic_checks(
  submission_dir: str,
  ruleset: str,
  data_dir: str,
  smoke: bool,
  blocked: bool,
  search_space: Optional[str] = None,
) -> List[CheckResult]:
  """The checks that run the submission's code: ``api`` (importing it), then ``smoke``
  (unless ``smoke`` is off or ``blocked`` by an earlier failure). In the sandbox under
  ``check``'s default; here with ``--nosandbox`` and from Python."""
  path = checked_folder(submission_dir)
  try:
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), filename=path)
  except SyntaxError:
    tree = None
  api, submission = _check_api(path, tree)
  if not smoke or blocked or submission is None:
    return [api, _smoke_skipped(smoke)]
  _, space = _check_search_space(submission_dir, ruleset, search_space)
  return [api, _check_smoke(submission, space, ruleset, data_dir)]


def result_to_json(result: CheckResult) -> dict:
  return dataclasses.asdict(result)


def result_from_json(obj: dict) -> CheckResult:
  return CheckResult(
    obj['rule'], obj['status'], obj['detail'], [Violation(**v) for v in obj['violations']]
  )


def sandboxed_checks(args: dict, config) -> List[CheckResult]:
  """:func:`dynamic_checks` in a bubblewrap sandbox (:mod:`algoperf_like.sandbox`): the
  submission's folder and the data read-only, a private directory for the result."""
  import tempfile

  from algoperf_like import sandbox

  # Real paths: the sandbox shows only those (a folder reached through a symbolic link too).
  args = dict(args, submission_dir=os.path.realpath(args['submission_dir']))
  args['data_dir'] = os.path.realpath(os.path.expanduser(args['data_dir']))
  if args['smoke'] and not args['blocked']:
    for name in registry.SUITES[SMOKE_SUITE]:
      sandbox.prepare_data(name, args['data_dir'])
  limits = config.limits
  if limits.wall_time_s is None:
    config = dataclasses.replace(
      config, limits=dataclasses.replace(limits, wall_time_s=CHECK_WALL_TIME_S)
    )
  with tempfile.TemporaryDirectory(prefix='algoperf_like_check_') as out:
    task = {'kind': 'check', 'args': args, 'result_dir': out}
    from algoperf_like.compat import paths

    folder = folder_of(args['submission_dir'])
    # The folder, and the directories its own absolute imports reach (a repository's
    # ``algorithms/...`` above it: see compat.paths).
    served = [d for d in paths.anchors(folder).values() if d]
    readable = [folder, args['data_dir'], *served]
    if args.get('search_space'):
      readable.append(args['search_space'])
    outcome = sandbox.run(task, readable, [out], config, stream_stderr=False)
    try:
      with open(os.path.join(out, sandbox.RESULT_FILE)) as f:
        return [result_from_json(r) for r in json.load(f)]
    except (OSError, ValueError, KeyError, TypeError):
      reason = outcome.reason or 'the sandboxed check ended without a result'
  violation = Violation('api', SUBMISSION_FILE, None, f'in the sandbox: {reason}'[:300])
  return [CheckResult('api', 'FAIL', violations=[violation]), _smoke_skipped(args['smoke'])]


CHECK_DESCRIPTION = (
  'Check a submission against the rules: static checks on its source, its API and search '
  'space, and a short smoke run on two CPU workloads. Exit code 0: all passed, 1: violations, '
  '2: bad input.'
)
CHECK_RENAMED = (
  command_line.Renamed('ruleset', 'tuning_ruleset'),
  command_line.negated('smoke'),
)


def _check_flags():
  from absl import flags as absl_flags

  fv = absl_flags.FlagValues()
  command_line.define_submission_path(
    fv,
    'The submission to check: its folder, its submission.py, or a baseline by name '
    '(required; a folder given as the only argument works too, deprecated).',
  )
  command_line.define_tuning_ruleset(fv)
  absl_flags.DEFINE_string(
    'tuning_search_space',
    None,
    "The search space (external tuning); default: the submission folder's "
    'tuning_search_space.json (AlgoPerf passes it apart, e.g. per workload).',
    flag_values=fv,
  )
  command_line.define_data_dir(fv)
  absl_flags.DEFINE_boolean(
    'smoke', True, 'Run the smoke run after the static checks.', flag_values=fv
  )
  command_line.define_sandbox(fv, True)
  return fv


def submission_folder(value: str) -> str:
  """The folder that ``--submission_path`` names: a folder, a ``submission.py`` or a baseline;
  another ``.py`` file stays as it is (:func:`checked_folder` takes it)."""
  from algoperf_like import registry

  path = os.path.expanduser(value)
  if os.path.isfile(path) and os.path.basename(path) == SUBMISSION_FILE:
    return os.path.dirname(path) or '.'
  if not os.path.exists(path) and value in registry.SUBMISSIONS:
    return registry.submission_folder(value)
  return path


def check_main(argv: List[str]) -> int:
  """``check --submission_path=SUBMISSION [--tuning_ruleset external|self] [--data_dir DIR]
  [--nosmoke]``.

  Prints the report to stdout; returns 0 (all passed), 1 (violations) or 2 (bad input,
  one line on stderr).
  """
  fv = _check_flags()
  try:
    parsed = command_line.parse(fv, argv, 'algoperf-like check', CHECK_DESCRIPTION, CHECK_RENAMED)
    if len(parsed.positional) == 1 and not fv['submission_path'].present:
      fv.submission_path = parsed.positional.pop()
      parsed.warnings.append(
        'warning: the submission folder as an argument is deprecated; use --submission_path'
      )
    if parsed.positional:
      raise BadInput(f'unexpected argument {parsed.positional[0]!r}')
    command_line.require(fv, 'submission_path')
    folder = submission_folder(fv.submission_path)
    checked_folder(folder)
    command_line.warn(parsed)
    from algoperf_like.submission import missing_requirements

    missing = missing_requirements(checked_folder(folder))
    if missing:  # Said before anything runs.
      print(f'requirements.txt: not installed: {", ".join(missing)}', file=sys.stderr)
    elif os.path.isfile(os.path.join(folder_of(folder), 'requirements.txt')):
      print('requirements.txt: every listed requirement is installed', file=sys.stderr)
    sandbox = command_line.sandbox_config(fv)
    command_line.quiet_libraries()
    report = check_submission(
      folder,
      fv.tuning_ruleset,
      fv.data_dir,
      smoke=fv.smoke,
      sandbox=sandbox,
      search_space=fv.tuning_search_space and os.path.expanduser(fv.tuning_search_space),
    )
  except SystemExit as e:  # --help
    return e.code or 0
  except (BadInput, command_line.UsageError, SandboxUnavailable) as e:
    print(f'algoperf-like check: {e}', file=sys.stderr)
    return 2
  print(report.render())
  return 0 if report.passed else 1
