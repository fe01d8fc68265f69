"""One command line: absl everywhere, the same flag names, help on stdout, old spellings
with a warning, --flagfile, baselines by name, and workloads registered from outside."""

import json
import os
import subprocess
import sys

import pytest

from algoperf_like import cli, command_line, registry, target_setting
from algoperf_like.checker import _check_flags, check_main
from algoperf_like.cli import run as run_cli
from algoperf_like.cli import set_targets as set_targets_cli
from algoperf_like.cli import suite as suite_cli
from algoperf_like.scoring import cli as scoring_cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_WORKLOAD = os.path.join(REPO, 'tests', 'user_workload.py')
FLAG_SETS = {
  'run': run_cli.define_flags,
  'suite': suite_cli.define_flags,
  'set-targets': set_targets_cli.define_flags,
  'score': scoring_cli.define_flags,
  'check': _check_flags,
}


@pytest.fixture(autouse=True)
def registry_as_it_was(monkeypatch):
  """Each test registers its own workloads: the registry and the imported modules are restored."""
  modules = set(sys.modules)
  monkeypatch.setattr(registry, 'WORKLOADS', dict(registry.WORKLOADS))
  yield
  for name in set(sys.modules) - modules:
    if name.startswith('_algoperf_like_workloads_') or name == 'tests.user_workload':
      del sys.modules[name]


@pytest.mark.parametrize('command', ['run', 'suite', 'score', 'check', 'workloads', 'set-targets'])
def test_help_goes_to_stdout_and_exits_0(command, capsys):
  assert cli.main([command, '--help']) == 0
  out, err = capsys.readouterr()
  assert out.startswith(f'usage: algoperf-like {command} [FLAGS]') and err == ''
  assert '--flagfile' in out


def test_the_same_thing_has_the_same_flag_everywhere():
  old = {'ruleset', 'self_tuning_ruleset', 'trials', 'seeds', 'steps', 'eval_every', 'no_smoke'}
  defined = {name: set(make()) for name, make in FLAG_SETS.items()}
  for name, flags in defined.items():
    assert not flags & old, (name, flags & old)
  for flag in ('tuning_ruleset', 'data_dir', 'workload_module', 'num_tuning_trials'):
    having = [n for n, flags in defined.items() if flag in flags]
    assert len(having) >= 2, flag
    kinds = {
      (type(FLAG_SETS[n]()[flag]).__name__, repr(FLAG_SETS[n]()[flag].default)) for n in having
    }
    if flag != 'num_tuning_trials':  # Its default differs by command (5 trials, 3 points).
      assert len(kinds) == 1, (flag, kinds)
  assert {'submission_path', 'tuning_ruleset'} <= defined['run'] & defined['check']
  assert {'max_global_steps', 'eval_every_steps'} <= defined['run'] & defined['set-targets']


@pytest.mark.parametrize('spelling', ['--dry_run', '--dry_run=true', '--dry_run=True'])
def test_booleans_take_every_spelling(spelling, tmp_path, capsys):
  argv = [
    'run',
    '--workload=mnist1d',
    '--submission_path=nadamw',
    '--tuning_search_space=tuning_search_space.json',
    '--num_studies=1',
    '--num_tuning_trials=1',
    f'--experiment_dir={tmp_path}',
    '--nooverwrite',
    spelling,
  ]
  assert cli.main(argv) == 0
  assert len(capsys.readouterr().out.splitlines()) == 1


def test_flagfile(tmp_path, capsys):
  flagfile = tmp_path / 'flags.txt'
  flagfile.write_text(
    '--workload=mnist1d,mnist1d_gelu\n--submission_path=adamw\n'
    '--tuning_search_space=tuning_search_space.json\n--num_studies=1\n'
  )
  assert cli.main(['run', f'--flagfile={flagfile}', '--num_tuning_trials=2', '--dry_run']) == 0
  trials = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert [t['workload'] for t in trials] == ['mnist1d', 'mnist1d', 'mnist1d_gelu', 'mnist1d_gelu']


def test_old_spellings_work_with_a_one_line_warning():
  fv = set_targets_cli.define_flags()
  parsed = command_line.parse(
    fv,
    ['--trials', '2', '--seeds=4', '--steps=100', '--eval_every=10', '--nocommit'],
    'algoperf-like set-targets',
    renamed=set_targets_cli.RENAMED,
  )
  assert (fv.num_tuning_trials, fv.num_seeds, fv.max_global_steps, fv.eval_every_steps) == (
    2,
    4,
    100,
    10,
  )
  assert len(parsed.warnings) == 4
  assert all(w.startswith('warning: --') and 'deprecated' in w for w in parsed.warnings)
  for argv, expected in [
    (['--self_tuning_ruleset'], ('self', True)),
    (['--self_tuning_ruleset=True'], ('self', True)),
    (['--self_tuning_ruleset=false', '--no_heldout_rule'], ('external', False)),
  ]:
    fv = scoring_cli.define_flags()
    parsed = command_line.parse(fv, argv, 'score', renamed=scoring_cli.RENAMED)
    assert (fv.tuning_ruleset, fv.heldout_rule) == expected
    assert len(parsed.warnings) == len(argv)


def test_check_takes_old_and_new_spellings(capsys):
  folder = os.path.join(REPO, 'submissions', 'nadamw_self_tuning')
  assert check_main([folder, '--ruleset', 'self', '--no_smoke']) == 0
  captured = capsys.readouterr()
  assert captured.out.rstrip().endswith('Verdict: PASS')
  assert len(captured.err.splitlines()) == 3 and 'deprecated' in captured.err
  argv = ['--submission_path=nadamw_self_tuning', '--tuning_ruleset=self', '--nosmoke']
  assert check_main(argv) == 0
  assert cli.main(['check', '--submission_path=nadamw', '--smoke=false']) == 0
  captured = capsys.readouterr()
  assert 'Verdict: PASS' in captured.out and captured.err == ''


def test_baseline_by_name_from_another_directory(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  argv = [
    'run',
    '--workload=mnist1d',
    '--submission_path=nadamw',
    '--tuning_search_space=mnist1d_demo_point.json',  # A file in the baseline's folder.
    '--num_studies=1',
    '--num_tuning_trials=1',
    '--dry_run',
  ]
  assert cli.main(argv) == 0
  (trial,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert trial['submission_path'] == registry.submission_path('nadamw')
  with open(os.path.join(registry.submission_folder('nadamw'), 'mnist1d_demo_point.json')) as f:
    assert trial['hyperparameters'] == json.load(f)[0]
  assert trial['log_dir'].startswith(os.path.join('experiments', 'nadamw', 'study_0'))
  assert os.listdir(tmp_path) == []


def test_python_m_algoperf_like(tmp_path):
  proc = subprocess.run(
    [sys.executable, '-m', 'algoperf_like', 'workloads'],
    cwd=tmp_path,
    capture_output=True,
    text=True,
    check=True,
  )
  assert 'mnist1d: validation/error_rate target' in proc.stdout
  assert 'baselines (--submission_path=NAME): adamw' in proc.stdout


def test_set_targets_commits_to_the_output_dir(tmp_path):
  help_text = command_line.help_text(set_targets_cli.define_flags(), 'set-targets')
  assert 'Where --commit writes (default: ./workloads' in ' '.join(help_text.split())
  record = {
    'workload': 'mnist1d',
    'targets': {'target_metric_name': 'error_rate', 'validation_target_value': 0.5},
  }
  target_setting.commit(record, str(tmp_path / 'out'))
  written = json.loads((tmp_path / 'out' / 'target_setting' / 'mnist1d.json').read_text())
  assert written == record
  targets = json.loads((tmp_path / 'out' / 'targets.json').read_text())['workloads']
  assert targets['mnist1d']['validation_target_value'] == 0.5
  assert 'ogbg_motifs' in targets  # The other entries: from the committed targets.
  # A second commit keeps what the first one wrote.
  target_setting.commit(dict(record, workload='ogbg_motifs'), str(tmp_path / 'out'))
  targets = json.loads((tmp_path / 'out' / 'targets.json').read_text())['workloads']
  assert targets['mnist1d']['validation_target_value'] == 0.5


@pytest.mark.parametrize('module', [USER_WORKLOAD, 'tests.user_workload'])
def test_a_workload_registered_from_outside_the_package(module, tmp_path, capsys):
  argv = [
    'run',
    f'--workload_module={module}',
    '--workload=user_quadratic',
    '--submission_path=template',
    '--tuning_search_space=tuning_search_space.json',
    '--num_studies=1',
    '--num_tuning_trials=1',
    '--max_global_steps=40',
    '--eval_every_steps=20',
    f'--experiment_dir={tmp_path}',
  ]
  assert cli.main(argv) == 0, capsys.readouterr().err
  trial = tmp_path / 'template' / 'study_0' / 'user_quadratic_jax' / 'trial_1'
  summary = json.loads((trial / 'trial_summary.json').read_text())
  assert summary['status'] in ('target_reached', 'max_steps')
  assert (trial / 'eval_measurements.csv').is_file()
  assert cli.main(['workloads', f'--workload_module={module}']) == 0
  assert 'user_quadratic: validation/loss target 0.05 (min)' in capsys.readouterr().out


@pytest.mark.slow
def test_a_registered_workload_reaches_child_processes(tmp_path, capsys):
  argv = [
    'run',
    f'--workload_module={os.path.relpath(USER_WORKLOAD)}',
    '--workload=user_quadratic',
    '--submission_path=template',
    '--tuning_search_space=tuning_search_space.json',
    '--num_studies=1',
    '--num_tuning_trials=1',
    '--max_global_steps=40',
    '--eval_every_steps=20',
    '--executor=processes',
    f'--experiment_dir={tmp_path}',
  ]
  assert cli.main(argv) == 0, capsys.readouterr().err
  trial = tmp_path / 'template' / 'study_0' / 'user_quadratic_jax' / 'trial_1'
  assert json.loads((trial / 'trial_summary.json').read_text())['status'] != 'failed'


def test_a_bad_workload_module_is_one_line(tmp_path, capsys):
  bad = tmp_path / 'bad.py'
  bad.write_text('raise RuntimeError("no")\n')
  assert cli.main(['workloads', f'--workload_module={bad}']) == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and 'RuntimeError: no' in err


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
  """`algoperf-like workloads | grep -q ...` (the reader closes the pipe) exits 0, quietly."""
  proc = subprocess.run(
    f'{sys.executable} -m algoperf_like workloads | head -n 1',
    shell=True,
    cwd=tmp_path,
    capture_output=True,
    text=True,
    executable='/bin/bash',
  )
  assert proc.stdout.count('\n') == 1
  assert 'Traceback' not in proc.stderr and 'BrokenPipe' not in proc.stderr, proc.stderr
