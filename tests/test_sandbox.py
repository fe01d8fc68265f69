"""The bubblewrap sandbox: what a malicious submission tries inside it is stopped.

The submissions here build the names they misuse at run time (``'so' + 'cket'``), so the
static rules do not see them: only the sandbox stands in the way. Most trials train the
tests' least-squares workload (``tests/user_workload.py``: no dataset, seconds); one runs a
baseline on mnist1d through ``run --sandbox``, and ``check`` (sandboxed by default) runs on
a baseline and a published AlgoPerf submission.
"""

import csv
import dataclasses
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import uuid

import pytest

from algoperf_like import checker, cli, runner, sandbox, sweep, trial_logs
from algoperf_like.trial_plan import TrialSpec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_WORKLOAD = os.path.join(REPO, 'tests', 'user_workload.py')
INSTALL_SCRIPT = os.path.join(REPO, 'scripts', 'install_system_deps.sh')
FIXTURES = os.path.join(os.path.dirname(REPO), 'shared', 'fixtures', 'algoperf_submissions')
V06_BASELINE = os.path.join(FIXTURES, 'v06_leaderboard_baseline')

SUBMISSION = """
import dataclasses
import os
import sys
import time


def _attack(workload):
{attack}


def get_batch_size(workload_name):
  return 32


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  return None


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng):
  if global_step == 1:
    _attack(workload)
  return optimizer_state, current_param_container, model_state


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
  return next(input_queue)
"""


@pytest.fixture(scope='module', autouse=True)
def bubblewrap():
  """bwrap, installed by the project's script where missing (CI on a fresh machine)."""
  if shutil.which('bwrap') is None:
    subprocess.run(['bash', INSTALL_SCRIPT], check=True)
  sandbox.check_available()


def _submission(tmp_path, attack: str) -> str:
  folder = tmp_path / f'submission_{uuid.uuid4().hex[:8]}'
  folder.mkdir()
  body = textwrap.indent(textwrap.dedent(attack).strip() or 'pass', '  ')
  (folder / 'submission.py').write_text(SUBMISSION.format(attack=body))
  return str(folder / 'submission.py')


def _job(tmp_path, attack: str, limits=None, steps: int = 4):
  """A job: the attacking submission on user_quadratic, in a sandbox."""
  path = _submission(tmp_path, attack)
  log_dir = str(tmp_path / 'experiment' / 'attack' / 'study_0' / 'user_quadratic_jax' / 'trial_1')
  trial = TrialSpec(
    workload='user_quadratic',
    submission_path=path,
    study=0,
    trial=1,
    rng_seed=0,
    hyperparameters={'learning_rate': 0.1},
    log_dir=log_dir,
    tuning_ruleset='external',
    point_index=0,
  )
  config = runner.RunConfig(max_global_steps=steps, eval_every_steps=2, max_runtime_sec=1e6)
  limits = limits or sandbox.Limits(
    wall_time_s=600, memory_bytes=8 * sandbox.GIB, max_processes=512
  )
  return sweep.TrialJob(trial, config, {}, (USER_WORKLOAD,), sandbox.SandboxConfig(limits=limits))


def _trial(tmp_path, attack: str, limits=None, steps: int = 4):
  """Run the job of :func:`_job` here; (summary, trial dir)."""
  job = _job(tmp_path, attack, limits, steps)
  summary = sweep.run_trial(job)
  assert trial_logs.read_summary(job.trial.log_dir) == summary
  return summary, job.trial.log_dir


def _files(root):
  return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def test_a_clean_submission_trains_in_the_sandbox_from_the_processes_executor(tmp_path):
  from algoperf_like.executors import make_executor

  job = _job(tmp_path, '')
  reported = []
  make_executor('processes').run([job], lambda j, s: reported.append(s))
  (summary,) = reported
  assert summary['status'] == 'max_steps', summary
  assert summary['global_step'] == 4 and summary['sandboxed']
  assert summary['sandbox_wall_clock_s'] >= summary['accumulated_submission_time']
  assert os.path.isfile(os.path.join(job.trial.log_dir, trial_logs.EVAL_FILE))


def test_network_connection_fails_and_reaches_no_server(tmp_path):
  server = socket.create_server(('127.0.0.1', 0))
  server.settimeout(0.2)
  port = server.getsockname()[1]
  accepted = []
  done = threading.Event()

  def serve():
    while not done.is_set():
      try:
        accepted.append(server.accept())
      except OSError:
        pass

  thread = threading.Thread(target=serve, daemon=True)
  thread.start()
  try:
    summary, _ = _trial(
      tmp_path,
      f"""
      net = __import__('so' + 'cket')
      connection = getattr(net, 'create_' + 'connection')(('127.0.0.1', {port}), timeout=5)
      connection.sendall(b'exfiltrated')
      """,
    )
  finally:
    done.set()
    thread.join()
    server.close()
  assert summary['status'] == 'failed'
  assert 'unreachable' in summary['error'] or 'refused' in summary['error'], summary['error']
  assert accepted == []


def test_writes_outside_the_trial_directory_do_not_land(tmp_path):
  marker = uuid.uuid4().hex
  outside = tmp_path / f'outside_{marker}.txt'
  shared_tmp = f'/tmp/algoperf_like_sandbox_{marker}'
  in_repo = os.path.join(os.path.dirname(sandbox.__file__), f'planted_{marker}.py')
  sibling = str(tmp_path / 'experiment' / 'attack' / 'study_0' / 'user_quadratic_jax' / 'trial_2')
  summary, log_dir = _trial(
    tmp_path,
    f"""
    writes = []
    for target in ({str(outside)!r}, {shared_tmp!r}, {sibling + '/x'!r}):
      os.makedirs(os.path.dirname(target), exist_ok=True)
      with open(target, 'w') as f:  # Lands in the sandbox's private, throw-away /tmp.
        f.write('x')
      writes.append(target)
    with open({in_repo!r}, 'w') as f:  # The package's folders are read-only.
      f.write('x')
    """,
  )
  try:
    assert summary['status'] == 'failed'
    assert 'Read-only file system' in summary['error'], summary['error']
    assert not outside.exists() and not os.path.exists(shared_tmp)
    assert not os.path.exists(in_repo)
    assert not os.path.exists(sibling)
    assert all(f.startswith(log_dir + os.sep) for f in _files(tmp_path / 'experiment'))
  finally:
    for path in (in_repo, shared_tmp):
      if os.path.exists(path):
        os.remove(path)


# The run-time rules inside the sandbox: each attack builds its names at run time (static
# rules see none of them); the guard or the integrity checks stop it in the sandboxed child.
RUNTIME_ATTACKS = {
  'private_member': (
    "getattr(workload, '_build' + '_input_queue')(None, 'validation', None, 8)",
    'private-member: ',
    'workload._build_input_queue',
  ),
  'clock_patch': (
    "setattr(__import__('ti' + 'me'), 'perf' + '_counter', lambda: 0.0)",
    'clock: ',
    'time.perf_counter was replaced',
  ),
  'lingering_thread': (
    "__import__('thre' + 'ading').Thread(target=time.sleep, args=(600,), name='spin', "
    'daemon=True).start()',
    'threads: ',
    "'spin'",
  ),
}


@pytest.mark.parametrize('attack', sorted(RUNTIME_ATTACKS))
def test_runtime_rules_stop_attacks_inside_the_sandbox(tmp_path, attack):
  code, rule, words = RUNTIME_ATTACKS[attack]
  job = _job(tmp_path, code)
  before = set(_files(tmp_path))  # The submission's file.
  summary, log_dir = sweep.run_trial(job), job.trial.log_dir
  assert summary['status'] == 'rule_violation' and summary['sandboxed'], summary
  assert summary['error'].startswith(rule) and words in summary['error'], summary['error']
  new = set(_files(tmp_path)) - before
  assert new and all(f.startswith(log_dir + os.sep) for f in new), sorted(new)


def test_home_and_root_are_not_readable(tmp_path, monkeypatch):
  marker = uuid.uuid4().hex
  home = tmp_path / 'home'
  home.mkdir()
  (home / '.netrc').write_text(f'machine example.com password {marker}')
  monkeypatch.setenv('HOME', str(home))
  root_secret = f'/root/.algoperf_like_secret_{marker}'
  created = os.access('/root', os.W_OK)
  if created:
    with open(root_secret, 'w') as f:
      f.write(marker)
  try:
    summary, log_dir = _trial(
      tmp_path,
      f"""
      found = []
      for path in ({str(home / '.netrc')!r}, {root_secret!r}):
        try:
          with open(path) as f:
            found.append(f.read())
        except OSError as e:
          found.append(type(e).__name__)
      raise RuntimeError('read: ' + ', '.join(found))
      """,
    )
  finally:
    if created:
      os.remove(root_secret)
  assert summary['status'] == 'failed'
  assert summary['error'].endswith('read: FileNotFoundError, FileNotFoundError'), summary['error']
  assert not any(marker in open(f, errors='replace').read() for f in _files(log_dir))


def test_credentials_in_the_environment_are_not_passed(tmp_path, monkeypatch):
  secret = uuid.uuid4().hex
  for name in ('GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'SSH_AUTH_SOCK', 'JAX_API_TOKEN'):
    monkeypatch.setenv(name, secret)
  monkeypatch.setenv('XLA_FLAGS', '--xla_cpu_enable_fast_math=false')
  summary, log_dir = _trial(
    tmp_path,
    """
    raise RuntimeError('env: ' + ' '.join(f'{k}={v}' for k, v in sorted(os.environ.items())))
    """,
  )
  error = summary['error']
  assert summary['status'] == 'failed' and 'env: ' in error
  assert secret not in error and 'TOKEN' not in error and 'SSH_AUTH_SOCK' not in error
  assert 'XLA_FLAGS=--xla_cpu_enable_fast_math=false' in error  # What the harness sets passes.
  assert 'HOME=/tmp' in error
  assert not any(secret in open(f, errors='replace').read() for f in _files(log_dir))


def _processes_with(marker):
  found = []
  for pid in os.listdir('/proc'):
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        if marker.encode() in f.read():
          found.append(pid)
    except OSError:
      pass
  return found


def test_a_trial_past_its_wall_time_is_killed_with_what_it_started(tmp_path):
  marker = uuid.uuid4().hex
  limits = sandbox.Limits(wall_time_s=30, memory_bytes=8 * sandbox.GIB, max_processes=512)
  summary, log_dir = _trial(
    tmp_path,
    f"""
    import subprocess
    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}],
                     start_new_session=True)
    with open(os.path.join({str(tmp_path / 'experiment')!r}, 'attack', 'study_0',
                           'user_quadratic_jax', 'trial_1', 'looping'), 'w'):
      pass
    while True:
      time.sleep(0.1)
    """,
    limits=limits,
  )
  assert summary['status'] == 'failed'
  assert summary['error'] == 'killed by the sandbox at its wall-time limit (30 s)'
  assert os.path.exists(os.path.join(log_dir, 'looping')), 'the submission never ran'
  assert _processes_with(marker) == []  # The pid namespace went with the sandbox.


def test_a_fork_bomb_is_stopped_at_the_process_limit(tmp_path):
  limits = sandbox.Limits(wall_time_s=300, memory_bytes=8 * sandbox.GIB, max_processes=128)
  summary, _ = _trial(
    tmp_path,
    """
    for _ in range(1000):  # Bounded, should the limit fail.
      if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
    """,
    limits=limits,
  )
  assert summary['status'] == 'failed'
  assert (
    'process limit' in summary['error'] or 'Resource temporarily unavailable' in (summary['error'])
  ), summary['error']


def test_a_memory_hog_is_stopped_at_the_memory_limit(tmp_path):
  limits = sandbox.Limits(wall_time_s=300, memory_bytes=3 * sandbox.GIB, max_processes=512)
  summary, _ = _trial(
    tmp_path,
    """
    import numpy as np
    hog = [np.ones(2 ** 25) for _ in range(24)]  # 6 GiB at most, in 256 MiB pieces.
    """,
    limits=limits,
  )
  assert summary['status'] == 'failed'
  assert 'MemoryError' in summary['error'] or 'out of memory' in summary['error'], summary


def test_sandbox_environment_is_an_allowlist():
  env = sandbox.sandbox_env(
    {'PATH': '/x', 'GITHUB_TOKEN': 't', 'XLA_FLAGS': 'f', 'JAX_SECRET': 's', 'LC_ALL': 'C'}
  )
  assert env['XLA_FLAGS'] == 'f' and env['LC_ALL'] == 'C' and env['HOME'] == '/tmp'
  assert 'GITHUB_TOKEN' not in env and 'JAX_SECRET' not in env and '/x' not in env['PATH']


def test_the_command_line_never_shows_the_whole_file_system_or_a_home(tmp_path):
  argv = sandbox.bwrap_argv(
    'bwrap', [os.path.expanduser('~'), '/', '/tmp', str(tmp_path)], [], sandbox.Limits(), {}
  )
  binds = [argv[i + 1] for i, a in enumerate(argv) if a in ('--ro-bind', '--bind')]
  assert '/' not in binds and '/tmp' not in binds and os.path.expanduser('~') not in binds
  assert str(tmp_path) in binds and '--unshare-all' in argv and '--unshare-user' in argv


def test_a_missing_bwrap_is_one_line_and_exit_code_2(tmp_path, capsys, monkeypatch):
  root = tmp_path / 'experiments'
  rc = cli.main(
    [
      'run',
      '--workload=mnist1d',
      '--submission_path=nadamw',
      '--tuning_search_space=mnist1d_demo_point.json',
      '--num_studies=1',
      '--num_tuning_trials=1',
      f'--experiment_dir={root}',
      '--sandbox',
      '--sandbox_bwrap=/nonexistent/bwrap',
    ]
  )
  err = capsys.readouterr().err
  assert rc == 2 and not root.exists()
  assert err.count('\n') == 1 and 'bubblewrap' in err and 'apt-get install bubblewrap' in err
  monkeypatch.setenv('PATH', str(tmp_path))  # No bwrap on PATH: check (sandboxed by default).
  assert checker.check_main(['--submission_path=nadamw', '--nosmoke']) == 2
  out, err = capsys.readouterr()
  assert out == '' and err.count('\n') == 1 and 'bwrap' in err
  monkeypatch.setenv('PATH', os.defpath)
  with pytest.raises(sandbox.SandboxUnavailable):
    sandbox.check_available('/nonexistent/bwrap')
  rc = cli.main(['suite', '--quick', f'--experiment_dir={root}', '--sandbox_bwrap=/x', '--sandbox'])
  assert rc == 2 and not root.exists() and 'bubblewrap' in capsys.readouterr().err
  # --nosandbox is the explicit opt-out: no bwrap needed.
  assert checker.check_main(['--submission_path=nadamw', '--nosmoke', '--nosandbox']) == 0
  assert 'Verdict: PASS' in capsys.readouterr().out


def test_no_user_namespaces_is_one_line_and_exit_code_2(tmp_path, capsys):
  fake = tmp_path / 'bwrap'  # What bwrap says where user namespaces are off.
  fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
  fake.chmod(0o755)
  with pytest.raises(sandbox.SandboxUnavailable, match='user namespaces'):
    sandbox.check_available(str(fake))
  assert checker.check_main(['--submission_path=nadamw', f'--sandbox_bwrap={fake}']) == 2
  out, err = capsys.readouterr()
  assert out == '' and err.count('\n') == 1 and 'No permissions to creating new namespace' in err


def test_sandboxed_jobs_pickle_for_every_executor(tmp_path, monkeypatch):
  """Slurm and the processes executor ship ``sweep.run_trial`` and pickled jobs: a job with a
  sandbox runs sandboxed wherever it lands (the real Slurm cluster run is in tests/slurm)."""
  import pickle

  trial = TrialSpec('mnist1d', '/x/submission.py', 0, 1, 0, {}, str(tmp_path / 't'), 'external', 0)
  config = sandbox.SandboxConfig(limits=sandbox.Limits(wall_time_s=5))
  (job,) = sweep.jobs_for([trial], runner.RunConfig(), {}, (), config)
  job = pickle.loads(pickle.dumps(job))
  seen = []
  monkeypatch.setattr(sandbox, 'run_trial', lambda j, c: seen.append((j, c)) or {'status': 'x'})
  assert sweep.run_trial(job) == {'status': 'x'} and seen == [(job, config)]


@pytest.mark.slow
def test_run_sandbox_trains_a_baseline_like_unsandboxed(tmp_path, data_dir):
  def run(root, *extra):
    argv = [
      'run',
      '--workload=mnist1d',
      '--submission_path=nadamw',
      '--tuning_search_space=mnist1d_demo_point.json',
      '--num_studies=1',
      '--num_tuning_trials=1',
      '--max_global_steps=20',
      '--eval_every_steps=10',
      '--max_runtime_sec=1e6',
      f'--data_dir={data_dir}',
      f'--experiment_dir={root}',
      *extra,
    ]
    assert cli.main(argv) == 0
    trial_dir = os.path.join(root, 'nadamw', 'study_0', 'mnist1d_jax', 'trial_1')
    with open(os.path.join(trial_dir, trial_logs.EVAL_FILE)) as f:
      rows = [{k: v for k, v in r.items() if '/' in k} for r in csv.DictReader(f)]
    return trial_dir, rows

  sandboxed, rows = run(tmp_path / 'sandboxed', '--sandbox')
  plain, plain_rows = run(tmp_path / 'plain')
  assert rows == plain_rows and len(rows) == 2
  assert sorted(os.listdir(sandboxed)) == sorted(os.listdir(plain))
  assert trial_logs.read_summary(sandboxed)['status'] == 'max_steps'


@pytest.mark.slow
@pytest.mark.parametrize(
  'submission',
  ['nadamw', pytest.param(V06_BASELINE, id='published_v06_baseline')],
)
def test_check_is_sandboxed_and_accepts_baselines_and_published_submissions(
  submission, data_dir, capsys
):
  if not os.path.exists(submission) and submission != 'nadamw':
    pytest.skip('no shared/fixtures/algoperf_submissions')
  rc = checker.check_main([f'--submission_path={submission}', f'--data_dir={data_dir}'])
  out = capsys.readouterr().out
  assert rc == 0, out
  assert 'PASS  api' in out and 'PASS  smoke' in out and 'Verdict: PASS' in out


def test_checks_that_import_the_submission_run_in_the_sandbox(tmp_path):
  """Whatever the static rules miss, importing the submission happens in the sandbox (called
  past the static checks here, as a submission that fools them would get there)."""
  folder = tmp_path / 'sub'
  folder.mkdir()
  marker = uuid.uuid4().hex
  target = f'/root/.algoperf_like_planted_{marker}'
  (folder / 'submission.py').write_text(f"open({target!r}, 'w').write('x')\n")
  args = dict(
    submission_dir=str(folder), ruleset='self', data_dir=str(tmp_path), smoke=False, blocked=False
  )
  results = checker.sandboxed_checks(args, sandbox.SandboxConfig())
  assert [r.rule for r in results] == ['api', 'smoke']
  assert results[0].status == 'FAIL' and 'Read-only file system' in str(results[0].violations[0])
  assert not os.path.exists(target)


def test_paths_through_symbolic_links_reach_the_sandbox(tmp_path):
  """The sandbox shows real paths: a submission folder, data and trial directory reached
  through a link (``../shared -> ...`` as in CI) are resolved before the child sees them."""
  (tmp_path / 'real').mkdir()
  job = _job(tmp_path / 'real', '')
  os.symlink(tmp_path / 'real', tmp_path / 'link')
  linked = lambda p: p.replace(str(tmp_path / 'real'), str(tmp_path / 'link'))  # noqa: E731
  trial = dataclasses.replace(
    job.trial, submission_path=linked(job.trial.submission_path), log_dir=linked(job.trial.log_dir)
  )
  summary = sweep.run_trial(dataclasses.replace(job, trial=trial))
  assert summary['status'] == 'max_steps', summary
  assert os.path.isfile(os.path.join(job.trial.log_dir, trial_logs.EVAL_FILE))
  folder = os.path.dirname(trial.submission_path)  # The api check, through the link.
  args = dict(submission_dir=folder, ruleset='self', data_dir=str(tmp_path), smoke=False)
  (api, _) = checker.sandboxed_checks(dict(args, blocked=False), sandbox.SandboxConfig())
  assert api.status == 'PASS', api


def test_check_takes_an_algoperf_style_file_and_its_search_space(tmp_path):
  """AlgoPerf's layout: ``--submission_path=algorithms/<name>/jax_x.py`` importing its own
  files by their repository path (``algorithms.shared_base``, a folder above it) and
  ``--tuning_search_space`` apart; the sandbox shows the folders those imports reach."""
  repo = tmp_path / 'repo'
  (repo / 'algorithms' / 'mine').mkdir(parents=True)
  baseline = os.path.join(REPO, 'submissions', 'nadamw')
  shutil.copy(os.path.join(baseline, 'submission.py'), repo / 'algorithms' / 'shared_base.py')
  (repo / 'algorithms' / 'mine' / 'jax_mine.py').write_text(
    'from algorithms.shared_base import (\n'
    '  data_selection, get_batch_size, init_optimizer_state, prepare_for_eval, update_params)\n'
  )
  spaces = tmp_path / 'spaces'
  spaces.mkdir()
  shutil.copy(os.path.join(baseline, 'tuning_search_space.json'), spaces / 'mnist1d.json')
  argv = [
    f'--submission_path={repo / "algorithms" / "mine" / "jax_mine.py"}',
    f'--tuning_search_space={spaces / "mnist1d.json"}',
    '--nosmoke',
  ]
  for sandboxed in ([], ['--nosandbox']):
    rc = checker.check_main(argv + sandboxed)
    assert rc == 0, sandboxed
  rc = checker.check_main(argv[:1] + ['--nosmoke', '--nosandbox'])
  assert rc == 1  # No tuning_search_space.json beside the file.
  assert checker.check_main(argv[:1] + [f'--tuning_search_space={tmp_path / "x.json"}']) == 2
