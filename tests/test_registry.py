"""The registry: one place that names workloads, suites and baselines, and what it resolves."""

import ast
import glob
import os

import pytest

from algoperf_like import registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO, 'algoperf_like')


def test_every_baseline_folder_is_registered():
  folders = sorted(
    os.path.basename(os.path.dirname(p))
    for p in glob.glob(os.path.join(REPO, 'submissions', '*', 'submission.py'))
  )
  assert registry.submission_names() == folders
  for name in folders:
    assert registry.submission_path(name) == os.path.join(
      REPO, 'submissions', name, 'submission.py'
    )


def test_suites_and_groups_name_registered_entries():
  for suite, names in registry.SUITES.items():
    assert names and set(names) <= set(registry.WORKLOADS), suite
  for group, names in registry.SUBMISSION_GROUPS.items():
    assert names and set(names) <= set(registry.SUBMISSIONS), group
  assert registry.DEFAULT_SUITE in registry.SUITES
  assert registry.DEFAULT_SUBMISSIONS in registry.SUBMISSION_GROUPS


def test_every_registered_workload_resolves_to_a_workload_class():
  from algoperf_like import spec

  for name, factory in registry.WORKLOADS.items():
    cls = registry._resolve(factory) if isinstance(factory, str) else factory
    assert issubclass(cls, spec.Workload), name


def _string_constants(path):
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read(), filename=path)
  return [
    (node.lineno, node.value)
    for node in ast.walk(tree)
    if isinstance(node, ast.Constant) and isinstance(node.value, str)
  ]


def test_no_other_harness_module_names_a_workload_suite_or_baseline():
  """Runner, sweep, checker, suite, target setting and CLI reach them through the registry."""
  # Suites and groups are referred to by name (their names are also rule and API names).
  names = set(registry.WORKLOADS) | set(registry.SUBMISSIONS)
  found = []
  for path in glob.glob(os.path.join(HARNESS, '**', '*.py'), recursive=True):
    if os.path.samefile(path, registry.__file__):
      continue
    found += [
      f'{os.path.relpath(path, REPO)}:{line}: {value!r}'
      for line, value in _string_constants(path)
      if value in names
    ]
  assert not found, found


def test_expand_workloads_takes_names_and_suites_once_each():
  assert registry.expand_workloads('mnist1d, smoke,,mnist1d_gelu') == ['mnist1d', 'mnist1d_gelu']
  assert registry.expand_workloads(['data_selection'])[0] == 'mnist1d_label_noise'
  with pytest.raises(registry.UnknownWorkloadError) as e:
    registry.expand_workloads('mnist1d,nope')
  assert "unknown workload 'nope'" in str(e.value) and '\n' not in str(e.value)


def test_expand_submissions_takes_names_and_groups():
  assert registry.expand_submissions('target_setting,adamw') == list(
    registry.SUBMISSION_GROUPS['target_setting']
  )
  with pytest.raises(registry.UnknownSubmissionError) as e:
    registry.expand_submissions('nadamw,nope')
  assert e.value.args[1] == 'nope'


def test_a_submission_is_a_file_a_folder_or_a_baseline(tmp_path, monkeypatch):
  nadamw = registry.submission_path('nadamw')
  assert registry.resolve_submission('nadamw') == nadamw
  assert registry.resolve_submission(os.path.dirname(nadamw)) == nadamw
  assert registry.resolve_submission(nadamw) == nadamw
  # A path that exists wins over a baseline of the same name.
  (tmp_path / 'nadamw').mkdir()
  (tmp_path / 'nadamw' / 'submission.py').write_text('')
  monkeypatch.chdir(tmp_path)
  assert registry.resolve_submission('nadamw') == os.path.join('nadamw', 'submission.py')
  with pytest.raises(FileNotFoundError, match='file not found'):
    registry.resolve_submission('no_such_baseline')


def test_register_refuses_to_shadow_a_workload_or_suite():
  with pytest.raises(ValueError, match='already registered'):
    registry.register_workload('mnist1d', object)
  with pytest.raises(ValueError, match='suite'):
    registry.register_workload('smoke', object)
  with pytest.raises(registry.UnknownWorkloadError):
    registry.register_suite('mine', ['mnist1d', 'nope'])
