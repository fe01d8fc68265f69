"""Run untrusted submission code (a trial, or the checker's import and smoke run) in bubblewrap.

A submission is a stranger's Python: importing it runs it. This module runs that code in a
child ``python -m algoperf_like.sandbox_child`` under Debian's ``bwrap`` (bubblewrap), which the
parent configures so that the child

- has no network (a new, empty network namespace) and its own user, pid, ipc, uts and
  cgroup namespaces, no capabilities, and cannot create further user namespaces;
- sees only what it needs, read-only: the system's programs and libraries, a few files of
  ``/etc``, the Python installation and its ``sys.path``, this package's folders, the
  submission's folder, the data directory and the files the flags name. Home directories are
  empty tmpfs mounts unless a needed path lies inside them (then only that path shows);
- can write only its trial directory (a sweep: that one trial's directory; the rest of the
  experiment tree is hidden by a tmpfs) and a private, size-limited ``/tmp``;
- gets a fresh ``/proc`` (its own processes only), a minimal ``/dev`` (plus ``/dev/nvidia*``
  when present) and a read-only ``/sys``;
- gets an environment reduced to an allowlist (:func:`sandbox_env`): no tokens, keys or
  sockets of the parent;
- runs under limits (:class:`Limits`): wall time (the parent kills the sandbox when it is
  spent: killing bwrap ends its pid namespace, so nothing lingers), memory (``RLIMIT_DATA``
  per process, and a cgroup's memory limit where the parent may create one), processes and
  threads (``RLIMIT_NPROC``, and a cgroup's ``pids.max`` where possible: as root the kernel
  does not apply ``RLIMIT_NPROC``), CPU time and file size (``RLIMIT_CPU``, ``RLIMIT_FSIZE``).

There is no silent fallback: where ``bwrap`` is missing or cannot create namespaces,
:func:`check_available` raises :class:`SandboxUnavailable` with one line naming the fix.
SECURITY.md says what this stops and what it does not.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import pickle
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

GIB = 1024**3
INSTALL_HINT = (
  'install bubblewrap (apt-get install bubblewrap, or scripts/install_system_deps.sh), '
  'or pass --nosandbox to run unsandboxed'
)
# /etc files a Python process reads (dynamic linker, time zone, user names, locale, TLS roots
# for libraries that load them at import); the rest of /etc (ssh keys, shadow, ...) stays out.
ETC_FILES = (
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'timezone',
  'passwd',
  'group',
  'nsswitch.conf',
  'hosts',
  'host.conf',
  'os-release',
  'alternatives',
  'ssl',
  'ca-certificates',
  'mime.types',
  'locale.alias',
  'locale.gen',
  'default/locale',
  'fonts',
)
SYSTEM_DIRS = ('/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt/conda')
# This package's folders (setup.py maps them; an editable install leaves them in the repo).
SUBPACKAGES = ('algoperf_like', 'algoperf_like.workloads', 'algoperf_like.submissions')
# What the child may inherit from the parent's environment.
ENV_NAMES = frozenset(
  {
    'LANG',
    'LANGUAGE',
    'TZ',
    'TERM',
    'NO_COLOR',
    'PYTHONHASHSEED',
    'PYTHONUNBUFFERED',
    'PYTHONWARNINGS',
    'PYTHONIOENCODING',
    'PYTHONPATH',
    'CUDA_VISIBLE_DEVICES',
    'NVIDIA_VISIBLE_DEVICES',
    'NVIDIA_DRIVER_CAPABILITIES',
    'ROCR_VISIBLE_DEVICES',
    'HIP_VISIBLE_DEVICES',
    'OMP_NUM_THREADS',
    'MKL_NUM_THREADS',
    'OPENBLAS_NUM_THREADS',
    'TF_CPP_MIN_LOG_LEVEL',
    'TF_ENABLE_ONEDNN_OPTS',
  }
)
ENV_PREFIXES = ('JAX_', 'XLA_', 'LC_', 'NCCL_', 'TPU_')
# Names that look like credentials are dropped even when allowed above (JAX_..._TOKEN).
SECRET_NAME = re.compile(r'TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|COOKIE')
CHILD_MODULE = 'algoperf_like.sandbox_child'  # The child's entry point.
RESULT_FILE = 'sandbox_result.json'  # Written by the check task into its private directory.


class SandboxUnavailable(Exception):
  """bwrap is missing or cannot create the namespaces it needs (one line with the fix)."""


@dataclasses.dataclass(frozen=True)
class Limits:
  """Resource limits of one sandboxed run (None: no limit of that kind).

  Attributes:
    wall_time_s: the parent kills the whole sandbox after this many seconds.
    memory_bytes: ``RLIMIT_DATA`` of every process in the sandbox (heap and private
      mappings: what JAX's CPU allocations use) and, where a cgroup can be made, the
      memory limit of the sandbox as a whole (``/tmp`` included). Not ``RLIMIT_AS``: XLA
      reserves large virtual ranges it never touches, so an address-space limit fails
      ordinary runs long before memory runs out.
    max_processes: ``RLIMIT_NPROC`` and, where a cgroup can be made, ``pids.max``: tasks,
      so threads count (XLA starts a few per core).
    cpu_time_s: ``RLIMIT_CPU`` (seconds of CPU over all threads of a process).
    max_file_bytes: ``RLIMIT_FSIZE``, the largest file the sandbox may write.
    tmp_bytes: size of the private ``/tmp`` (a tmpfs, in memory).
  """

  wall_time_s: Optional[float] = None
  memory_bytes: Optional[int] = None
  max_processes: Optional[int] = None
  cpu_time_s: Optional[float] = None
  max_file_bytes: Optional[int] = None
  tmp_bytes: int = 2 * GIB


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
  """How to sandbox: the ``bwrap`` binary and the limits.

  Attributes:
    bwrap: the bubblewrap binary (a name on PATH or a path).
    limits: resource limits; ``wall_time_s`` None for a trial: from its budget
      (:func:`trial_wall_time`).
    extra_env: names of further environment variables to pass in (still never credentials).
    readable: further host paths to show read-only.
  """

  bwrap: str = 'bwrap'
  limits: Limits = Limits()
  extra_env: Tuple[str, ...] = ()
  readable: Tuple[str, ...] = ()

  def run_trial(self, job) -> Dict[str, Any]:
    """:func:`run_trial` with this configuration (what ``sweep.run_trial`` calls: a method,
    so that the sweep needs no import of this module)."""
    return run_trial(job, self)


def default_limits(parallel: int = 1) -> Limits:
  """Limits that keep a machine usable: 90% of its memory shared by ``parallel`` trials,
  and room for XLA's threads (a few per core) but not for a fork bomb.
  """
  total = _physical_memory()
  memory = int(0.9 * total / max(1, parallel)) if total else None
  processes = max(512, 16 * (os.cpu_count() or 1))
  return Limits(memory_bytes=memory, max_processes=processes, max_file_bytes=64 * GIB)


def trial_wall_time(budget_s: float) -> float:
  """The default wall-time limit of a trial: three times its budget plus ten minutes (set-up,
  compilation and evaluations are not submission time but are wall time)."""
  return 3.0 * budget_s + 600.0


# ----- Availability. -----
_AVAILABLE: Dict[str, str] = {}


def check_available(bwrap: str = 'bwrap') -> str:
  """The absolute path of a working ``bwrap``.

  Raises:
    SandboxUnavailable: it is missing, or it cannot create the user and network namespaces
      (the message names the fix).
  """
  path = shutil.which(bwrap)
  if path in _AVAILABLE:
    return path
  if path is None:
    raise SandboxUnavailable(
      f'the sandbox needs bubblewrap, and {bwrap!r} was not found: ' + INSTALL_HINT
    )
  # The options the sandbox uses that an old bwrap lacks (--disable-userns, --size: 0.8).
  probe = [path, '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent']
  probe += ['--ro-bind', '/', '/', '--size', '1048576', '--tmpfs', '/tmp']
  try:
    done = subprocess.run(probe + ['true'], capture_output=True, text=True, timeout=30)
  except (OSError, subprocess.SubprocessError) as e:
    raise SandboxUnavailable(f'{path} cannot run ({e}): {INSTALL_HINT}') from None
  if done.returncode != 0:
    why = (done.stderr.strip().splitlines() or [f'exit code {done.returncode}'])[-1]
    raise SandboxUnavailable(
      f'{path} cannot create a sandbox here ({why}): it needs bubblewrap 0.8 or newer and '
      'unprivileged user namespaces '
      '(sysctl -w kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; in a '
      'container, allow the unshare/clone syscalls), or pass --nosandbox to run unsandboxed'
    )
  _AVAILABLE[path] = path
  return path


# ----- What the child sees. -----
def sandbox_env(
  environ: Optional[Dict[str, str]] = None, extra: Iterable[str] = ()
) -> Dict[str, str]:
  """The child's environment: the allowlisted part of ``environ``, never credentials, plus
  HOME and TMPDIR in the private /tmp and a PATH of system and Python folders only."""
  environ = dict(os.environ if environ is None else environ)
  allowed = ENV_NAMES | set(extra)
  env = {
    k: v
    for k, v in environ.items()
    if (k in allowed or k.startswith(ENV_PREFIXES)) and not SECRET_NAME.search(k.upper())
  }
  python_bin = os.path.dirname(os.path.abspath(sys.executable))
  env.update(
    HOME='/tmp',
    TMPDIR='/tmp',
    PATH=os.pathsep.join([python_bin, '/usr/local/bin', '/usr/bin', '/bin']),
    PYTHONDONTWRITEBYTECODE='1',  # The package folders are read-only.
    PYTHONNOUSERSITE='1',
  )
  env.setdefault('LANG', 'C.UTF-8')
  return env


def python_paths() -> List[str]:
  """Host paths the child's Python needs: the installation, ``sys.path`` and this package."""
  paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
  exe = os.path.realpath(sys.executable)
  paths += [os.path.dirname(os.path.dirname(exe)), os.path.dirname(exe)]
  paths += [p for p in sys.path if p and os.path.isabs(p)]
  for name in SUBPACKAGES:
    try:
      spec = importlib.util.find_spec(name)
    except ImportError:
      continue
    if spec is not None:
      paths += list(spec.submodule_search_locations or [])
  return paths


def _physical_memory() -> Optional[int]:
  try:
    return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  except (ValueError, OSError, AttributeError):
    return None


def _inside(path: str, root: str) -> bool:
  return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


TEMP_DIRS = ('/tmp', '/var/tmp', '/dev/shm', '/run')


def _too_wide(path: str) -> bool:
  """A path never shown whole: ``/``, a home or what holds one, a shared temp folder."""
  wide = [os.path.realpath(p) for p in _homes() + list(TEMP_DIRS) + [tempfile.gettempdir()]]
  return path == '/' or any(_inside(w, path) for w in wide)


def _existing(paths: Iterable[str]) -> List[str]:
  """Real, existing, absolute paths, without too wide ones (a script's folder in sys.path
  may be /tmp or a home) and without ones inside another of them, sorted."""
  real = sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)})
  real = [p for p in real if not _too_wide(p)]
  return [p for p in real if not any(q != p and _inside(p, q) for q in real)]


def _homes() -> List[str]:
  homes = {'/root', '/home', os.path.expanduser('~')}
  try:
    import pwd

    homes |= {
      e.pw_dir for e in pwd.getpwall() if e.pw_dir.startswith(('/home/', '/root', '/var/home'))
    }
  except (ImportError, KeyError):
    pass
  return [h for h in homes if h and os.path.isdir(h) and h != '/']


def bwrap_argv(
  bwrap: str,
  readable: Sequence[str],
  writable: Sequence[str],
  limits: Limits,
  env: Dict[str, str],
  chdir: str = '/tmp',
) -> List[str]:
  """The ``bwrap`` command line (without the command to run inside).

  Mount order matters (later mounts cover earlier ones): system folders; ``/tmp`` and a
  tmpfs over every home; the readable paths (which may lie in a home: only they show); a
  tmpfs over the part of a readable path that holds a writable one (other trials' logs stay
  hidden); the writable paths; homes and hidden parts made read-only.
  """
  argv = [bwrap, '--unshare-all', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL']
  argv += ['--die-with-parent', '--new-session', '--hostname', 'sandbox']
  for d in SYSTEM_DIRS:
    if os.path.islink(d):
      argv += ['--symlink', os.readlink(d), d]
    elif os.path.isdir(d):
      argv += ['--ro-bind', d, d]
  for name in ETC_FILES:
    argv += ['--ro-bind-try', f'/etc/{name}', f'/etc/{name}']
  argv += [
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    str(limits.tmp_bytes),
    '--tmpfs',
    '/dev/shm',
    '--ro-bind-try',
    '/sys',
    '/sys',
  ]
  for device in sorted(glob.glob('/dev/nvidia*')) + sorted(glob.glob('/dev/dri')):
    argv += ['--dev-bind', device, device]  # GPUs (untested on a machine without them).
  argv += ['--size', str(limits.tmp_bytes), '--tmpfs', '/tmp']
  homes = sorted(_homes())
  homes = [h for h in homes if not any(o != h and _inside(h, o) for o in homes)]
  for home in homes:
    argv += ['--tmpfs', home]
  writable = _existing(writable)
  readable = [p for p in _existing(readable) if not any(_inside(p, w) for w in writable)]
  for path in readable:
    argv += ['--ro-bind', path, path]
  hidden = []
  for path in writable:
    for root in readable:
      if _inside(path, root) and path != root:  # Hide the rest of that tree.
        hidden.append(os.path.join(root, os.path.relpath(path, root).split(os.sep)[0]))
  for top in sorted(set(hidden)):
    argv += ['--tmpfs', top]
  for path in writable:
    argv += ['--bind', path, path]
  # Read-only (not recursive: the paths bound inside stay as they are), so that nothing can
  # be planted in a home (~/.bashrc) or beside the trial directory either.
  for top in homes + sorted(set(hidden)):
    argv += ['--remount-ro', top]
  argv += ['--chdir', chdir]
  argv += ['--clearenv']
  for key, value in sorted(env.items()):
    argv += ['--setenv', key, value]
  return argv


# ----- cgroups: the limits rlimits cannot give a root parent. -----
class _Cgroup:
  """A cgroup (v2, or the v1 pids and memory hierarchies) for one sandbox, where allowed."""

  def __init__(self, limits: Limits) -> None:
    self.dirs: Dict[str, str] = {}  # controller -> directory
    name = f'algoperf_like_sandbox_{os.getpid()}_{time.monotonic_ns()}'
    wanted = {'pids': limits.max_processes, 'memory': limits.memory_bytes}
    wanted = {k: v for k, v in wanted.items() if v}
    own = _own_cgroups()
    v2 = _cgroup2_mount()
    if v2 and '' in own:
      base = os.path.join(v2, own[''].lstrip('/'))
      try:
        with open(os.path.join(base, 'cgroup.subtree_control')) as f:
          enabled = set(f.read().split())
        for controller in set(wanted) - enabled:
          with open(os.path.join(base, 'cgroup.subtree_control'), 'w') as f:
            f.write(f'+{controller}')
        path = os.path.join(base, name)
        os.mkdir(path)
        self._write(path, 'pids.max', wanted.get('pids'))
        self._write(path, 'memory.max', wanted.get('memory'))
        self._write(path, 'memory.swap.max', 0 if 'memory' in wanted else None)
        self.dirs = {c: path for c in wanted}
        self.version = 2
        return
      except OSError:
        self.close()
    self.version = 1
    for controller, value in wanted.items():
      mount = f'/sys/fs/cgroup/{controller}'
      if controller not in own or not os.path.isdir(mount):
        continue
      path = os.path.join(mount, own[controller].lstrip('/'), name)
      try:
        os.mkdir(path)
        self.dirs[controller] = path
        if controller == 'pids':
          self._write(path, 'pids.max', value)
        else:
          self._write(path, 'memory.limit_in_bytes', value)
      except OSError:
        self.dirs.pop(controller, None)
        _rmdir(path)

  @staticmethod
  def _write(path: str, name: str, value) -> None:
    if value is not None:
      with open(os.path.join(path, name), 'w') as f:
        f.write(str(value))

  def procs_files(self) -> List[str]:
    return sorted({os.path.join(d, 'cgroup.procs') for d in self.dirs.values()})

  def hit(self) -> List[str]:
    """Which limits the sandbox ran into ('memory', 'pids')."""
    found = []
    for controller, path in self.dirs.items():
      if controller == 'pids':
        events = _read(os.path.join(path, 'pids.events'))
        if re.search(r'^max [1-9]', events, re.M):
          found.append('pids')
      elif self.version == 2:
        if re.search(r'^oom_kill [1-9]', _read(os.path.join(path, 'memory.events')), re.M):
          found.append('memory')
      elif _read(os.path.join(path, 'memory.failcnt')).strip() not in ('', '0'):
        found.append('memory')
    return sorted(set(found))

  def kill(self) -> None:
    for path in set(self.dirs.values()):
      for pid in _read(os.path.join(path, 'cgroup.procs')).split():
        try:
          os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
          pass

  def close(self) -> None:
    for path in set(self.dirs.values()):
      for _ in range(50):  # The killed processes leave the cgroup within milliseconds.
        if _rmdir(path):
          break
        self.kill()
        time.sleep(0.02)
    self.dirs = {}


def _own_cgroups() -> Dict[str, str]:
  """``{controller: path}`` of this process ('' for the v2 hierarchy)."""
  out = {}
  for line in _read('/proc/self/cgroup').splitlines():
    parts = line.split(':', 2)
    if len(parts) == 3:
      for controller in parts[1].split(',') if parts[1] else ['']:
        out[controller] = parts[2]
  return out


def _cgroup2_mount() -> Optional[str]:
  for line in _read('/proc/self/mounts').splitlines():
    fields = line.split()
    if len(fields) > 2 and fields[2] == 'cgroup2':
      return fields[1]
  return None


def _read(path: str) -> str:
  try:
    with open(path) as f:
      return f.read()
  except OSError:
    return ''


def _rmdir(path: str) -> bool:
  try:
    os.rmdir(path)
    return True
  except FileNotFoundError:
    return True
  except OSError:
    return False


# ----- Running. -----
@dataclasses.dataclass
class Outcome:
  """How a sandboxed run ended.

  Attributes:
    returncode: the child's exit code (negative: killed by that signal).
    reason: why it failed when it did not exit 0 (None when it did).
    limits_hit: 'wall_time', 'memory', 'pids' when the sandbox ran into that limit.
    stderr_tail: the end of the child's output (stdout and stderr).
  """

  returncode: int
  reason: Optional[str]
  limits_hit: List[str]
  stderr_tail: str


def run(
  task: Dict[str, Any],
  readable: Sequence[str],
  writable: Sequence[str],
  config: SandboxConfig,
  stream_stderr: bool = True,
) -> Outcome:
  """Run ``task`` (see :mod:`algoperf_like.sandbox_child`) in a sandbox and wait for it.

  Args:
    task: ``{'kind': 'trial' | 'check', ...}``, pickled to the child's stdin.
    readable: host paths to show read-only (besides the system and Python ones).
    writable: host paths to show read-write (they must exist).
    config: the binary and limits.
    stream_stderr: copy the child's output to our stderr as it comes (the trial's progress).

  Raises:
    SandboxUnavailable: see :func:`check_available`.
  """
  bwrap = check_available(config.bwrap)
  limits = config.limits
  env = sandbox_env(extra=config.extra_env)
  readable = list(readable) + python_paths() + list(config.readable)
  argv = bwrap_argv(bwrap, readable, writable, limits, env)
  argv += [sys.executable, '-m', CHILD_MODULE]
  cgroup = _Cgroup(limits)
  if cgroup.procs_files():  # Join the cgroup before exec, so no child escapes it.
    joins = ' && '.join(f'echo $$ > {shlex_quote(p)}' for p in cgroup.procs_files())
    argv = ['/bin/sh', '-c', f'{joins} && exec "$@"', 'sh'] + argv
  sys_path = [p for p in sys.path if p and os.path.isabs(p)]  # As multiprocessing's spawn.
  sys_path = [p for p in sys.path if p and os.path.isabs(p)]  # As multiprocessing's spawn.
  payload = pickle.dumps({'task': task, 'limits': limits, 'sys_path': sys_path})
  hit: List[str] = []
  try:
    process = subprocess.Popen(
      argv,
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,  # One stream, kept short here and echoed in bounded amounts.
      start_new_session=True,  # Its own process group: killed as one.
    )
    tail = _Tail(process.stdout, sys.stderr if stream_stderr else None)
    try:
      process.stdin.write(payload)
      process.stdin.close()
    except BrokenPipeError:  # It died before reading: its output says why.
      pass
    deadline = None if limits.wall_time_s is None else time.monotonic() + limits.wall_time_s
    try:
      while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
          raise subprocess.TimeoutExpired(argv, limits.wall_time_s)
        try:
          process.wait(timeout=None if remaining is None else min(remaining, 1.0))
          break
        except subprocess.TimeoutExpired:
          continue
    except subprocess.TimeoutExpired:
      hit.append('wall_time')
    except BaseException:  # Ctrl-C: the sandbox goes too.
      _kill_group(process)
      raise
    finally:
      if process.poll() is None:
        _kill_group(process)
      process.wait()
      tail.join()
    hit += cgroup.hit()
  finally:
    cgroup.kill()
    cgroup.close()
  code = process.returncode
  text = tail.text()
  reason = None if code == 0 and not hit else _reason(code, hit, limits, text)
  return Outcome(code, reason, hit, text)


def shlex_quote(text: str) -> str:
  import shlex

  return shlex.quote(text)


class _Tail:
  """Reads the child's output from a thread: keeps its last ``keep`` bytes and echoes at most
  ``echo_limit`` bytes to ``echo`` (a submission must not fill the parent's disk or log)."""

  def __init__(self, source, echo, keep: int = 16384, echo_limit: int = 16 * 1024**2) -> None:
    import threading

    self.buffer = bytearray()
    self.keep, self.echo_left = keep, echo_limit
    self.thread = threading.Thread(target=self._copy, args=(source, echo), daemon=True)
    self.thread.start()

  def _copy(self, source, echo) -> None:
    for chunk in iter(lambda: source.read1(65536), b''):
      self.buffer += chunk
      del self.buffer[: -self.keep]
      if echo is not None and self.echo_left > 0:
        piece = chunk[: self.echo_left]
        self.echo_left -= len(piece)
        try:
          echo.write(piece.decode('utf-8', 'replace'))
          if self.echo_left <= 0:
            echo.write('\n[sandbox: further output of the trial not shown]\n')
          echo.flush()
        except (OSError, ValueError):
          pass

  def join(self) -> None:
    self.thread.join(timeout=10)

  def text(self) -> str:
    return bytes(self.buffer).decode('utf-8', 'replace')


def _kill_group(process: subprocess.Popen) -> None:
  try:
    os.killpg(process.pid, signal.SIGKILL)
  except OSError:
    pass


def _reason(code: int, hit: List[str], limits: Limits, stderr: str) -> str:
  """One line: why the sandboxed run ended badly."""
  if 'wall_time' in hit:
    return f'killed by the sandbox at its wall-time limit ({limits.wall_time_s:g} s)'
  if 'memory' in hit:
    return f'out of memory: the sandbox memory limit ({limits.memory_bytes / GIB:.1f} GiB)'
  if 'pids' in hit:
    return f'the sandbox process limit ({limits.max_processes} processes and threads) was hit'
  last = next((l for l in reversed(stderr.strip().splitlines()) if l.strip()), '')
  if code < 0:
    try:
      name = signal.Signals(-code).name
    except ValueError:
      name = f'signal {-code}'
    why = f'the sandboxed process was killed by {name}'
    if -code in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV) and limits.memory_bytes:
      why += f' (out of memory? the limit is {limits.memory_bytes / GIB:.1f} GiB)'
    if -code == signal.SIGXCPU:
      why += f' (CPU time limit {limits.cpu_time_s:g} s)'
    return why
  return f'the sandboxed process exited with code {code}' + (f': {last[:300]}' if last else '')


# ----- Trials. -----
def trial_paths(job) -> Tuple[List[str], List[str]]:
  """``(readable, writable)`` host paths of a trial job."""
  config = job.config
  from algoperf_like.compat import paths

  folder = os.path.dirname(job.trial.submission_path)
  # The folder, and the directories its own absolute imports reach (compat.paths: a
  # repository's ``algorithms/...`` above the submission's file).
  readable = [folder] + [d for d in paths.anchors(folder).values() if d]
  readable += [p for p in (config.data_dir, config.imagenet_v2_data_dir) if p]
  readable += [m for m in job.workload_modules if os.path.isabs(m)]
  vocab = (job.flags or {}).get('librispeech_tokenizer_vocab_path')
  if vocab:
    readable.append(vocab)
  cache = os.environ.get('JAX_COMPILATION_CACHE_DIR')
  if cache:
    readable.append(cache)  # Read-only: a shared cache must not be poisoned by a trial.
  return readable, [job.trial.log_dir]


def absolute_job(job):
  """The job with every path it carries absolute (the child's home and cwd differ) and real:
  the sandbox shows real paths only (:func:`bwrap_argv`), so a path through a symbolic link
  (``../shared -> /data/shared``) must reach the child resolved."""
  absolute = lambda p: p and os.path.realpath(os.path.expanduser(p))  # noqa: E731
  config = dataclasses.replace(
    job.config,
    data_dir=absolute(job.config.data_dir),
    imagenet_v2_data_dir=absolute(job.config.imagenet_v2_data_dir),
  )
  trial = dataclasses.replace(
    job.trial,
    submission_path=absolute(job.trial.submission_path),
    log_dir=absolute(job.trial.log_dir),
  )
  flags = dict(job.flags or {})
  if flags.get('librispeech_tokenizer_vocab_path'):
    flags['librispeech_tokenizer_vocab_path'] = absolute(flags['librispeech_tokenizer_vocab_path'])
  return dataclasses.replace(job, trial=trial, config=config, flags=flags, sandbox=None)


def prepare_data(workload_name: str, data_dir: Optional[str]) -> None:
  """Generate an offline dataset the trial needs before the sandbox makes the data read-only.

  The CPU workloads' TFDS builders generate their data on first use; inside the sandbox the
  data directory cannot be written, so the parent (trusted code only) does it first.
  """
  if not data_dir:
    return
  from algoperf_like import sweep

  workload = sweep.get_workload(workload_name, data_dir)
  builder_cls = getattr(workload, 'builder_cls', None)
  if builder_cls is None:
    return  # Full-scale data is prepared by `algoperf-like datasets prepare`.
  name, version = getattr(builder_cls, 'name', None), getattr(builder_cls, 'VERSION', None)
  info = os.path.join(data_dir, str(name), str(version), 'dataset_info.json')
  if name and version and os.path.isfile(info):
    return  # Prepared already (what TFDS checks), without importing TensorFlow.
  import tensorflow_datasets as tfds

  tfds.display_progress_bar(False)
  builder = builder_cls(data_dir=data_dir)
  if not builder.is_prepared():
    builder.download_and_prepare()


def run_trial(job, config: Optional[SandboxConfig] = None) -> Dict[str, Any]:
  """Run one :class:`~algoperf_like.sweep.TrialJob` in a sandbox; its summary.

  The parent prepares the trial directory (continue or start over, as unsandboxed) and the
  data, then waits for the child; a child that ends without writing ``trial_summary.json``
  (killed at the wall-time limit, out of memory, crashed) gets a ``failed`` summary with
  the reason.
  """
  from algoperf_like import registry, runner, sweep, trial_logs

  config = config or job.sandbox or SandboxConfig()
  check_available(config.bwrap)
  job = absolute_job(job)
  for module in job.workload_modules:
    registry.import_workload_module(module)
  if config.limits.wall_time_s is None:
    workload = sweep.get_workload(job.trial.workload, job.config.data_dir)
    wall = trial_wall_time(runner.budget_seconds(workload, job.config))
    config = dataclasses.replace(
      config, limits=dataclasses.replace(config.limits, wall_time_s=wall)
    )
  job = sweep.prepare_log_dir(job)
  os.makedirs(job.trial.log_dir, exist_ok=True)
  prepare_data(job.trial.workload, job.config.data_dir)
  readable, writable = trial_paths(job)
  start = time.monotonic()
  outcome = run({'kind': 'trial', 'job': job}, readable, writable, config)
  wall = time.monotonic() - start
  summary = trial_logs.read_summary(job.trial.log_dir)
  if summary is None or outcome.limits_hit:
    reason = outcome.reason or 'the sandboxed trial ended without a trial summary'
    summary = sweep.failed_summary(job.trial, reason)
    if outcome.stderr_tail:
      summary['stderr_tail'] = outcome.stderr_tail[-2000:]
  summary['sandboxed'] = True  # Provenance: a leaderboard can require it.
  # Measured out of the submission's reach (its process writes the rest of the summary): a
  # trial's submission time cannot exceed it.
  summary['sandbox_wall_clock_s'] = wall
  trial_logs.write_json(os.path.join(job.trial.log_dir, trial_logs.SUMMARY_FILE), summary)
  return summary


# ----- Inside the sandbox. -----
def apply_limits(limits: Limits) -> None:
  """Set this process's rlimits (inherited by everything it starts)."""
  pairs = [
    (resource.RLIMIT_DATA, limits.memory_bytes),
    (resource.RLIMIT_NPROC, limits.max_processes),
    (resource.RLIMIT_CPU, None if limits.cpu_time_s is None else int(limits.cpu_time_s + 0.999)),
    (resource.RLIMIT_FSIZE, limits.max_file_bytes),
    (resource.RLIMIT_CORE, 0),
  ]
  for which, value in pairs:
    if value is not None:
      soft, hard = resource.getrlimit(which)
      value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
      resource.setrlimit(which, (value, value))
