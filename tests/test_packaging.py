"""One import name: the source imports only ``algoperf_like``, and the wheel installs only it."""

import ast
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repository's product folders, installed as algoperf_like.<folder> (see setup.py).
FOLDERS = ('workloads', 'submissions', 'scoring')


def _source_files():
  listed = subprocess.run(
    ['git', 'ls-files', '-co', '--exclude-standard', '*.py'],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
  ).stdout.split()
  return [os.path.join(REPO, f) for f in listed if os.path.exists(os.path.join(REPO, f))]


def test_nothing_imports_a_folder_by_its_repository_name():
  """``import workloads`` works at the repository root only: a wheel has no such name."""
  stale = []
  for path in _source_files():
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), filename=path)
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0:
        modules = [node.module or '']
      else:
        continue
      for module in modules:
        if module.split('.')[0] in FOLDERS:
          stale.append(f'{os.path.relpath(path, REPO)}:{node.lineno}: {module}')
  assert not stale, stale


def test_every_name_imported_from_the_package_exists():
  """``from algoperf_like.x import y`` everywhere (benchmarks and test data too) resolves."""
  import importlib

  wanted = set()
  for path in _source_files():
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), filename=path)
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module.split('.')[0] == 'algoperf_like':
          wanted |= {(node.module, a.name, os.path.relpath(path, REPO)) for a in node.names}
      elif isinstance(node, ast.Import):
        wanted |= {(a.name, None, os.path.relpath(path, REPO)) for a in node.names}
  missing = []
  for module, name, where in sorted(wanted, key=str):
    if module.split('.')[0] != 'algoperf_like':
      continue
    try:
      imported = importlib.import_module(module)
      if name is not None and not hasattr(imported, name):
        importlib.import_module(f'{module}.{name}')
    except ImportError as e:
      missing.append(f'{where}: {module} {name}: {e}')
  assert not missing, missing


def _copy_tree(dest):
  """The files a fresh clone of this working tree has (tracked and untracked, not ignored)."""
  listed = subprocess.run(
    ['git', 'ls-files', '-co', '--exclude-standard'],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
  ).stdout.split()
  for name in listed:
    source = os.path.join(REPO, name)
    if os.path.isfile(source):
      os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
      shutil.copy2(source, os.path.join(dest, name))


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
  source = tmp_path_factory.mktemp('source')
  _copy_tree(source)
  out = tmp_path_factory.mktemp('wheel')
  subprocess.run(
    [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--quiet', '-w', str(out), str(source)],
    check=True,
    capture_output=True,
  )
  (path,) = out.glob('*.whl')
  with zipfile.ZipFile(path) as z:
    return z.namelist()


@pytest.mark.slow
def test_wheel_installs_one_top_level_name(wheel):
  top = {name.split('/')[0] for name in wheel if not name.split('/')[0].endswith('.dist-info')}
  assert top == {'algoperf_like'}
  for folder in FOLDERS:
    assert f'algoperf_like/{folder}/__init__.py' in wheel


@pytest.mark.slow
def test_wheel_carries_the_package_data(wheel):
  expected = ['algoperf_like/workloads/targets.json', 'algoperf_like/scoring/official_budgets.json']
  expected += [
    f'algoperf_like/workloads/target_setting/{name}'
    for name in os.listdir(os.path.join(REPO, 'workloads', 'target_setting'))
  ]
  for folder, _, names in os.walk(os.path.join(REPO, 'submissions')):
    relative = os.path.relpath(folder, REPO)
    expected += [f'algoperf_like/{relative}/{n}' for n in names if n.endswith('.json')]
  missing = [name for name in expected if name not in wheel]
  assert not missing, missing


def _dependencies():
  import tomllib

  from packaging.requirements import Requirement

  with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
    project = tomllib.load(f)['project']
  return [Requirement(r) for r in project['dependencies']], project['optional-dependencies']


@pytest.mark.parametrize(
  'platform,machine,expected',
  [
    ('linux', 'x86_64', 'tensorflow-cpu'),
    ('win32', 'AMD64', 'tensorflow-cpu'),
    ('linux', 'aarch64', 'tensorflow'),  # GH200 and other ARM hosts.
    ('darwin', 'arm64', 'tensorflow'),  # Apple silicon.
  ],
)
def test_exactly_one_tensorflow_wherever_jax_installs(platform, machine, expected):
  requirements, _ = _dependencies()
  environment = {'sys_platform': platform, 'platform_machine': machine}
  chosen = [
    r.name
    for r in requirements
    if r.name.startswith('tensorflow') and r.name != 'tensorflow-datasets'
    if r.marker is None or r.marker.evaluate(environment)
  ]
  assert chosen == [expected]


def test_slurm_is_an_extra_and_algoperf_submissions_find_their_imports():
  requirements, extras = _dependencies()
  names = {r.name for r in requirements}
  assert 'submitit' not in names and any(e.startswith('submitit') for e in extras['slurm'])
  assert {'chex', 'jraph'} <= names


def test_scoring_with_the_default_targets_imports_no_workload_code(tmp_path):
  """Reading this project's targets (package data) runs no workload module and no JAX."""
  code = (
    'import sys; from algoperf_like import scoring; t = scoring.load_targets(); '
    "assert 'mnist1d' in t.workloads; "
    "bad = [m for m in ('jax', 'tensorflow', 'flax') if m in sys.modules]; "
    'assert not bad, bad; '
    "below = [m for m in sys.modules if m.startswith('algoperf_like.workloads.')]; "
    'assert not below, below'
  )
  subprocess.run([sys.executable, '-c', code], cwd=tmp_path, check=True)
