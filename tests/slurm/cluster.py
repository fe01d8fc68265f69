"""A throw-away single-node Slurm cluster for tests (wraps start_cluster.sh / stop_cluster.sh).

Usage in a test module:

  from tests.slurm.cluster import SlurmUnavailable, running_cluster

  @pytest.fixture(scope='module')
  def slurm_cluster():
    with contextlib.ExitStack() as stack:
      try:
        info = stack.enter_context(running_cluster())
      except SlurmUnavailable as e:
        pytest.skip(f'Slurm cannot be installed here: {e}')
      yield info

While the context is open, os.environ['SLURM_CONF'] points at the generated slurm.conf, so
sbatch/squeue/sacct/scancel (and submitit, which calls them) talk to the test cluster; jobs see
SLURM_CONF too (slurmd sets it). Subprocesses started with a scrubbed environment must be given
SLURM_CONF explicitly: nothing is written to /etc/slurm. Only one such cluster can run per
machine (it uses the default ports 6817/6818...): running_cluster() holds IN_USE_LOCK while
it runs, so a second test session on the machine waits for the first. Installing Slurm (first
start on a fresh machine) needs root and apt-get.

Without accounting (the default) sacct fails ("Slurm accounting storage is disabled"), so
submitit's job.state stays UNKNOWN and job.done()/job.wait()/job.result() only notice a job that
wrote its result: a job cancelled or timed out by Slurm looks pending forever. Pass
accounting=True (or set SLURM_TEST_ACCOUNTING=1) for a private MariaDB + slurmdbd (a few
seconds more per start, and slurmdbd + MariaDB packages to install) when a test needs sacct.
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
START_SCRIPT = os.path.join(HERE, 'start_cluster.sh')
STOP_SCRIPT = os.path.join(HERE, 'stop_cluster.sh')
DEFAULT_STATE_DIR = '/tmp/algoperf_like_slurm'
PARTITION = 'debug'
# Commands the scripts need once Slurm is installed.
_COMMANDS = (
  'munged',
  'slurmctld',
  'slurmd',
  'sbatch',
  'squeue',
  'sacct',
  'scancel',
  'sinfo',
  'scontrol',
  'srun',
)
_SEARCH_PATH = os.pathsep.join(
  [os.environ.get('PATH', ''), '/usr/local/sbin', '/usr/sbin', '/sbin']
)
_EXIT_CANNOT_INSTALL = 3
# Held while a cluster runs: the ports are machine-wide, so a second test session on the same
# machine waits here instead of restarting (killing) the first one's cluster.
IN_USE_LOCK = '/tmp/algoperf_like_slurm.in-use.lock'


class SlurmUnavailable(RuntimeError):
  """Slurm is not installed and cannot be installed here (a test should skip, not fail)."""


class SlurmStartError(RuntimeError):
  """Slurm is installed but the test cluster did not come up (a real failure)."""


def state_dir() -> str:
  return os.environ.get('SLURM_TEST_DIR') or DEFAULT_STATE_DIR


def slurm_available() -> tuple[bool, str]:
  """Whether running_cluster() can install (if needed) and start Slurm here; else why not.

  Cheap: looks at the platform, the user and the commands on PATH; installs nothing.
  """
  if not sys.platform.startswith('linux'):
    return False, f'the test cluster needs Linux, this is {sys.platform}'
  for tool in ('bash', 'flock', 'hostname'):
    if shutil.which(tool, path=_SEARCH_PATH) is None:
      return False, f'{tool!r} is not on PATH'
  if os.geteuid() != 0:
    return False, 'the test cluster runs its daemons as root (and installs with apt-get)'
  missing = [c for c in _COMMANDS if shutil.which(c, path=_SEARCH_PATH) is None]
  if not missing:
    return True, 'Slurm and munge are installed'
  if shutil.which('apt-get', path=_SEARCH_PATH) is None:
    return False, f'{", ".join(missing)} not installed and apt-get is missing'
  return True, 'Slurm and munge can be installed with apt-get'


def log_tails(directory: str | None = None, lines: int = 30) -> str:
  """The last lines of the cluster's daemon logs, for failure messages."""
  log_dir = os.path.join(directory or state_dir(), 'log')
  parts = []
  for name in ('slurmctld.log', 'slurmd.log', 'slurmdbd.log', 'munged.log'):
    path = os.path.join(log_dir, name)
    if os.path.exists(path):
      with open(path, errors='replace') as f:
        tail = f.readlines()[-lines:]
      parts.append(f'----- {path} -----\n' + ''.join(tail))
  return '\n'.join(parts) or f'(no logs under {log_dir})'


def _stop(directory: str, purge: bool) -> None:
  cmd = ['bash', STOP_SCRIPT] + (['--purge'] if purge else []) + [directory]
  subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=180, check=False)


@contextlib.contextmanager
def _machine_lock(wait_s: float) -> Iterator[None]:
  with open(IN_USE_LOCK, 'a') as f:
    deadline = time.monotonic() + wait_s
    while True:
      try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
      except BlockingIOError:
        if time.monotonic() > deadline:
          raise SlurmStartError(
            f'another test session has held {IN_USE_LOCK} (its Slurm test '
            f'cluster) for more than {wait_s} s'
          ) from None
        time.sleep(1)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def running_cluster(
  directory: str | None = None,
  start_timeout_s: float = 600,
  purge: bool | None = None,
  accounting: bool | None = None,
  wait_s: float = 600,
) -> Iterator[dict]:
  """Starts the cluster (installing Slurm first if needed); stops it when the context exits.

  Yields {'conf': path of slurm.conf, 'partition': 'debug', 'state_dir': ..., 'log_dir': ...,
  'accounting': bool} and sets os.environ['SLURM_CONF'] to the conf meanwhile (restored
  afterwards). accounting (default: SLURM_TEST_ACCOUNTING=1 in the environment) adds slurmdbd.
  Raises SlurmUnavailable if Slurm cannot be installed here, SlurmStartError if it is
  installed but does not come up. purge (default: True unless SLURM_TEST_KEEP=1) deletes the
  state dir (config, logs) after stopping. Only one cluster runs per machine: if another
  process's running_cluster() is open, waits up to wait_s for it to end. Not reentrant.
  """
  ok, reason = slurm_available()
  if not ok:
    raise SlurmUnavailable(reason)
  directory = os.path.abspath(directory or state_dir())
  if purge is None:
    purge = os.environ.get('SLURM_TEST_KEEP', '') in ('', '0', 'false', 'no')
  if accounting is None:
    accounting = os.environ.get('SLURM_TEST_ACCOUNTING', '') in ('1', 'true', 'yes')
  env = dict(os.environ, SLURM_TEST_ACCOUNTING='1' if accounting else '0')
  with _machine_lock(wait_s):
    yield from _run(directory, env, start_timeout_s, purge, accounting)


def _run(directory, env, start_timeout_s, purge, accounting):
  try:
    proc = subprocess.run(
      ['bash', START_SCRIPT, directory],
      stdin=subprocess.DEVNULL,
      env=env,
      capture_output=True,
      text=True,
      timeout=start_timeout_s,
      check=False,
    )
  except subprocess.TimeoutExpired as e:
    _stop(directory, purge=False)
    stderr = e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else e.stderr
    raise SlurmStartError(
      f'{START_SCRIPT} took more than {start_timeout_s} s:\n{(stderr or "")[-3000:]}'
    ) from None
  if proc.returncode == _EXIT_CANNOT_INSTALL:
    lines = [l for l in proc.stderr.splitlines() if 'CANNOT INSTALL' in l]
    why = lines[-1].split('CANNOT INSTALL:', 1)[-1].strip() if lines else 'see stderr'
    raise SlurmUnavailable(f'{why}\n{proc.stderr[-3000:]}')
  if proc.returncode != 0 or not proc.stdout.strip():
    _stop(directory, purge=False)
    raise SlurmStartError(f'{START_SCRIPT} exited with {proc.returncode}:\n{proc.stderr[-5000:]}')
  conf = os.path.join(proc.stdout.strip().splitlines()[-1], 'slurm.conf')
  previous = os.environ.get('SLURM_CONF')
  os.environ['SLURM_CONF'] = conf
  try:
    yield {
      'conf': conf,
      'partition': PARTITION,
      'state_dir': directory,
      'log_dir': os.path.join(directory, 'log'),
      'accounting': accounting,
    }
  finally:
    if previous is None:
      os.environ.pop('SLURM_CONF', None)
    else:
      os.environ['SLURM_CONF'] = previous
    _stop(directory, purge=purge)
