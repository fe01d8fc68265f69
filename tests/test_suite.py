"""The suite command: its plans, and its errors."""

import json
import os

from algoperf_like import cli, registry, search_space, suite, target_setting


def test_full_plan_tunes_each_baseline_on_each_workload(tmp_path):
  plan = suite.plan_suite(
    ['mnist1d', 'mnist1d_gelu'],
    ['adamw', 'momentum'],
    str(tmp_path),
    quick=False,
    num_tuning_trials=3,
    rng_seed=0,
  )
  assert len(plan) == 2 * 2 * 3
  assert {t.log_dir.split(os.sep)[-4] for t in plan} == {'adamw', 'momentum'}
  assert all(t.study == 0 and t.hyperparameters for t in plan)


def test_quick_plan_uses_each_baselines_best_target_setting_point(tmp_path, monkeypatch):
  record = {
    'targets': {'metric_direction': 'min'},
    'tuning_runs': [
      {'algorithm': 'adamw', 'best_validation': 0.3, 'hyperparameters': {'learning_rate': 1}},
      {'algorithm': 'adamw', 'best_validation': 0.1, 'hyperparameters': {'learning_rate': 2}},
      {'algorithm': 'nadamw', 'best_validation': 0.05, 'hyperparameters': {'learning_rate': 3}},
    ],
  }
  path = tmp_path / 'record.json'
  path.write_text(json.dumps(record))
  monkeypatch.setattr(target_setting, 'provenance_path', lambda name: str(path))
  plan = suite.plan_suite(
    ['mnist1d'], ['adamw'], str(tmp_path), quick=True, num_tuning_trials=5, rng_seed=0
  )
  assert [t.hyperparameters for t in plan] == [{'learning_rate': 2}]
  # No converging point of momentum: its first search-space point instead.
  plan = suite.plan_suite(
    ['mnist1d'], ['momentum'], str(tmp_path), quick=True, num_tuning_trials=5, rng_seed=0
  )
  first = search_space.quasirandom_points(
    search_space.load_search_space(registry.search_space_path('momentum')),
    1,
  )
  assert [t.hyperparameters for t in plan] == first


def test_unknown_submission_is_a_one_line_error(capsys):
  assert cli.main(['suite', '--submissions=nope', '--quick']) == 2
  err = capsys.readouterr().err
  assert err.strip() == 'algoperf-like suite: --submissions: no submissions/nope/submission.py'


def test_quick_base_lends_its_shared_hyperparameters(tmp_path, monkeypatch):
  """A selection method without target-setting runs borrows NAdamW's update-rule point."""
  best = {
    'learning_rate': 0.004,
    'one_minus_beta1': 0.05,
    'beta2': 0.999,
    'warmup_factor': 0.05,
    'weight_decay': 0.001,
    'label_smoothing': 0.0,
  }
  record = {
    'targets': {'metric_direction': 'min'},
    'tuning_runs': [{'algorithm': 'nadamw', 'best_validation': 0.05, 'hyperparameters': best}],
  }
  path = tmp_path / 'record.json'
  path.write_text(json.dumps(record))
  monkeypatch.setattr(target_setting, 'provenance_path', lambda name: str(path))
  plan = suite.plan_suite(
    ['mnist1d'],
    ['rs2'],
    str(tmp_path),
    quick=True,
    num_tuning_trials=5,
    rng_seed=0,
    quick_base='nadamw',
  )
  first = search_space.quasirandom_points(
    search_space.load_search_space(registry.search_space_path('rs2')),
    1,
  )[0]
  assert plan[0].hyperparameters == {**best, 'selection_fraction': first['selection_fraction']}


def test_a_suite_of_some_base_workloads_is_scored_over_those(tmp_path):
  """make demo runs three of the six base workloads: the other three are not 'not reached'."""
  from algoperf_like.cli import suite as suite_cli
  from algoperf_like.scoring import targets as scoring_targets
  from algoperf_like.workloads import targets

  demo = registry.expand_workloads('demo')
  assert set(demo) < set(targets.load_targets()['base_workloads'])
  path = suite_cli._targets_for_subset(demo, str(tmp_path / 'scores'))
  loaded = scoring_targets.load_targets(path)
  assert list(loaded.base) == [w for w in targets.load_targets()['base_workloads'] if w in demo]
  for name in demo:
    assert loaded.workloads[name].value == targets.workload_targets(name)['validation_target_value']
  # All the base workloads, or more (the data-selection study): the committed file scores.
  assert suite_cli._targets_for_subset(registry.expand_workloads('cpu_qualification'), '') is None
  both = registry.expand_workloads('cpu_qualification,data_selection')
  assert suite_cli._targets_for_subset(both, '') is None
