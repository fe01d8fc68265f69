"""What every ``algoperf-like`` command line shares: absl parsing, help, old spellings.

Each command defines its flags on its own ``absl.flags.FlagValues`` (no global
``FLAGS``) and parses its argv with :func:`parse`:

- booleans accept ``--flag``, ``--noflag`` and ``--flag=true|false``;
- ``--flagfile=FILE`` reads flags from a file (absl's format, one flag a line);
- ``--help`` (``-h``, ``--helpfull``) prints the command's flags to stdout and exits 0;
- a flag that a command used to spell differently (:class:`Renamed`) still works:
  :func:`parse` rewrites it and returns a one-line deprecation warning, which the
  command prints with :func:`warn` once its input is known to be good (bad input
  stays one line on stderr).

The flags several commands share are defined here once (``define_*``), so that the
same thing has the same name, default and help everywhere.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
from typing import Callable, List, Optional, Sequence, Tuple

from absl import flags as absl_flags

from algoperf_like import spec


class UsageError(Exception):
  """Bad command-line input: printed as one line, exit code 2."""


@dataclasses.dataclass(frozen=True)
class Renamed:
  """An old spelling of a flag, rewritten to the new one with a warning.

  Attributes:
    old: the old flag name (without dashes).
    new: the new flag name.
    boolean: the old flag took no value (``--old`` or ``--old=true|false``); otherwise
      its value is ``--old=v`` or the next argument, as absl and argparse accept.
    value: maps the old value (``'true'``/``'false'`` for a boolean) to the new flag's
      ``--new=...`` value; for a boolean the result may be ``None`` (then ``--new``) or
      ``'!'`` (then ``--nonew``). Default: the value unchanged.
  """

  old: str
  new: str
  boolean: bool = False
  value: Optional[Callable[[str], Optional[str]]] = None


def _bool(name: str, text: str) -> bool:
  lowered = text.lower()
  if lowered in ('true', 't', '1', 'yes', 'y'):
    return True
  if lowered in ('false', 'f', '0', 'no', 'n'):
    return False
  raise UsageError(f'flag --{name}={text}: not a boolean')


def negated(renamed_to: str) -> Renamed:
  """``--no_X`` (an argparse-era boolean) for absl's ``--noX``."""
  return Renamed(f'no_{renamed_to}', renamed_to, boolean=True, value=lambda v: '!' if v else None)


def _rewrite(argv: List[str], renamed: Sequence[Renamed]) -> Tuple[List[str], List[str]]:
  by_name = {r.old: r for r in renamed}
  out: List[str] = []
  warnings: List[str] = []
  i = 0
  while i < len(argv):
    arg = argv[i]
    i += 1
    if arg == '--':
      out += argv[i - 1 :]
      break
    name, has_value, text = arg.lstrip('-').partition('=')
    r = by_name.get(name) if arg.startswith('-') else None
    if r is None:
      out.append(arg)
      continue
    if r.boolean:
      given = _bool(r.old, text) if has_value else True
      new_value = r.value(given) if r.value else (None if given else '!')
      if r.value and new_value is not None and new_value != '!':
        out.append(f'--{r.new}={new_value}')
      else:
        out.append(f'--no{r.new}' if new_value == '!' else f'--{r.new}')
    else:
      if not has_value:
        if i >= len(argv):
          raise UsageError(f'flag --{r.old} needs a value')
        text = argv[i]
        i += 1
      out.append(f'--{r.new}={r.value(text) if r.value else text}')
    warnings.append(f'warning: --{r.old} is deprecated; use {out[-1].split("=")[0]}')
  return out, warnings


@dataclasses.dataclass
class Parsed:
  """What :func:`parse` found besides the flags: positional arguments, deprecation warnings."""

  positional: List[str]
  warnings: List[str]


def parse(
  fv: absl_flags.FlagValues,
  argv: Sequence[str],
  prog: str,
  description: str = '',
  renamed: Sequence[Renamed] = (),
) -> Parsed:
  """Parse ``argv`` (without the program name) into ``fv``.

  Raises:
    UsageError: an unknown flag, a bad value (one line).
    SystemExit(0): after printing the help to stdout, when asked for it.
  """
  argv = list(argv)
  if any(a in ('--help', '-h', '--helpfull', '-help') for a in argv):
    print(help_text(fv, prog, description))
    raise SystemExit(0)
  try:
    argv = fv.read_flags_from_files([prog] + argv, force_gnu=False)[1:]
  except absl_flags.Error as e:
    raise UsageError(str(e).splitlines()[0]) from None
  argv, warnings = _rewrite(argv, renamed)
  try:
    rest = fv([prog] + argv)
  except absl_flags.Error as e:
    raise UsageError(str(e).splitlines()[0]) from None
  return Parsed(rest[1:], warnings)


def warn(parsed: Parsed) -> None:
  """Print the deprecation warnings of a parse, one line each, to stderr."""
  for line in parsed.warnings:
    print(line, file=sys.stderr)


def require(fv: absl_flags.FlagValues, *names: str) -> None:
  for name in names:
    if fv[name].value in (None, '', []):
      raise UsageError(f'--{name} is required')


def help_text(fv: absl_flags.FlagValues, prog: str, description: str = '') -> str:
  """``usage: prog [FLAGS]``, the description, and every flag with its help and default."""
  lines = [f'usage: {prog} [FLAGS]']
  if description:
    lines += [''] + textwrap.wrap(description, 100)
  lines += ['', 'flags:']
  special = {'flagfile', 'undefok'}
  for name in sorted(set(fv) - special):
    flag = fv[name]
    if flag.name != name:  # A short name.
      continue
    head = f'--[no]{name}' if flag.boolean else f'--{name}'
    text = ' '.join(flag.help.split())
    default = flag.default
    if isinstance(default, bool):
      default = str(default).lower()
    if default not in (None, [], '') and '(default:' not in text:
      text += f' (default: {default})'
    wrapped = textwrap.wrap(text, 96, initial_indent='      ', subsequent_indent='      ')
    lines += [f'  {head}'] + wrapped
  lines += [
    '  --flagfile',
    '      Read flags from this file, one --flag=value a line.',
    '',
    'Booleans: --flag, --noflag, --flag=true|false. A value may follow its flag after = or a '
    'space.',
  ]
  return '\n'.join(lines)


def quiet_libraries() -> None:
  """Silence TensorFlow's and absl's start-up logging (the commands print their own lines)."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')  # TF only reads data here.
  from absl import logging as absl_logging

  absl_logging.set_verbosity(absl_logging.ERROR)


# ----- Flags that several commands share: one name, one meaning. -----
D = absl_flags


def define_workload(fv, default: Optional[str] = None, help: str = '') -> None:
  D.DEFINE_string(
    'workload',
    default,
    help or 'Workload or suite names, comma-separated (algoperf-like workloads lists them).',
    flag_values=fv,
  )


def define_workload_module(fv) -> None:
  D.DEFINE_multi_string(
    'workload_module',
    [],
    'A module that registers workloads of your own when imported (a dotted module name or '
    'the path of a .py file; see algoperf_like.registry); repeat for several.',
    flag_values=fv,
  )


def define_submission_path(fv, help: str = '') -> None:
  D.DEFINE_string(
    'submission_path',
    None,
    help
    or 'The submission: a submission.py, the folder holding one, or a baseline by name '
    '(algoperf-like workloads lists them).',
    flag_values=fv,
  )


def define_tuning_ruleset(fv) -> None:
  D.DEFINE_enum(
    'tuning_ruleset', 'external', ['external', 'self'], 'Tuning ruleset.', flag_values=fv
  )


def define_data_dir(fv) -> None:
  D.DEFINE_string(
    'data_dir',
    spec.DEFAULT_DATA_DIR,
    'TFDS data directory (CPU workloads generate their data there on first use).',
    flag_values=fv,
  )


def define_experiment_dir(fv, default: str, help: str) -> None:
  D.DEFINE_string('experiment_dir', default, help, flag_values=fv)


def define_num_tuning_trials(fv, default: int, help: str) -> None:
  D.DEFINE_integer('num_tuning_trials', default, help, lower_bound=1, flag_values=fv)


def define_num_studies(fv, default: int, help: str) -> None:
  D.DEFINE_integer('num_studies', default, help, lower_bound=1, flag_values=fv)


def define_rng_seed(fv, help: str) -> None:
  D.DEFINE_integer('rng_seed', 0, help, lower_bound=0, flag_values=fv)


def define_max_global_steps(fv, help: str) -> None:
  D.DEFINE_integer('max_global_steps', None, help, lower_bound=1, flag_values=fv)


def define_eval_every_steps(fv, help: str) -> None:
  D.DEFINE_integer('eval_every_steps', None, help, lower_bound=1, flag_values=fv)


def define_overwrite(fv, help: str) -> None:
  D.DEFINE_boolean('overwrite', False, help, flag_values=fv)


def define_output_dir(fv, default: Optional[str], help: str) -> None:
  D.DEFINE_string('output_dir', default, help, flag_values=fv)


def import_workload_modules(modules: Sequence[str]) -> None:
  """Import every ``--workload_module`` (they register workloads); a failure is bad input."""
  from algoperf_like import registry

  for module in modules:
    try:
      registry.import_workload_module(module)
    except Exception as e:  # The module's own import-time failure.
      raise UsageError(f'--workload_module: {module}: {type(e).__name__}: {e}') from None


def define_sandbox(fv, default: bool) -> None:
  """``--sandbox`` and its limits (see :mod:`algoperf_like.sandbox` and SECURITY.md)."""
  D.DEFINE_boolean(
    'sandbox',
    default,
    'Run the submission inside a bubblewrap sandbox: no network, read-only file system but '
    'for the trial directory and a private /tmp, no home directories, a reduced environment, '
    'limits on memory, processes and wall time (needs bwrap: scripts/install_system_deps.sh).',
    flag_values=fv,
  )
  D.DEFINE_string(
    'sandbox_bwrap', 'bwrap', 'The bubblewrap binary (a name on PATH or a path).', flag_values=fv
  )
  D.DEFINE_float(
    'sandbox_memory_gb',
    0.0,
    'Memory limit of each sandbox, GiB (0: 90% of the machine, shared by --max_parallel).',
    lower_bound=0.0,
    flag_values=fv,
  )
  D.DEFINE_integer(
    'sandbox_max_processes',
    0,
    'Processes and threads allowed in each sandbox (0: max(512, 16 per CPU)).',
    lower_bound=0,
    flag_values=fv,
  )
  D.DEFINE_float(
    'sandbox_time_limit_sec',
    0.0,
    'Wall-time limit of each sandboxed trial or check, seconds (0: a trial gets 3x its '
    'budget + 600 s, a check 1800 s).',
    lower_bound=0.0,
    flag_values=fv,
  )


def sandbox_config(fv, parallel: int = 1, wall_time_s: Optional[float] = None):
  """The :class:`~algoperf_like.sandbox.SandboxConfig` the sandbox flags ask for, its bwrap
  checked (None without ``--sandbox``).

  Raises:
    SandboxUnavailable: bwrap is missing or cannot make a sandbox here (one line, exit 2).
  """
  if not fv.sandbox:
    return None
  import dataclasses

  from algoperf_like import sandbox

  sandbox.check_available(fv.sandbox_bwrap)
  limits = sandbox.default_limits(parallel)
  if fv.sandbox_memory_gb:
    limits = dataclasses.replace(limits, memory_bytes=int(fv.sandbox_memory_gb * sandbox.GIB))
  if fv.sandbox_max_processes:
    limits = dataclasses.replace(limits, max_processes=fv.sandbox_max_processes)
  wall = fv.sandbox_time_limit_sec or wall_time_s
  if wall:
    limits = dataclasses.replace(limits, wall_time_s=wall)
  return sandbox.SandboxConfig(bwrap=fv.sandbox_bwrap, limits=limits)
