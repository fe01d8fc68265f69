"""``algoperf-like noise`` end to end on a tiny setting, and its plan."""

from __future__ import annotations

import json
import os

from algoperf_like import cli, noise, registry, search_space, suite, trial_logs


def test_plan_is_seeds_by_repeats_of_the_quick_point(tmp_path):
  plan = noise.plan_noise(['mnist1d'], ['nadamw', 'adamw'], 2, 3, str(tmp_path))
  assert len(plan) == 2 * 2 * 3
  quick = suite.plan_suite(['mnist1d'], ['nadamw'], str(tmp_path), True, 1, 0, num_studies=2)
  for s in (0, 1):
    same_seed = [t for t in plan if t.study == s and 'nadamw' in t.log_dir]
    assert [t.trial for t in same_seed] == [1, 2, 3]
    # Every repeat of study s has the seed and the point suite --quick gives study s.
    assert {t.rng_seed for t in same_seed} == {quick[s].rng_seed}
    assert all(t.hyperparameters == quick[s].hyperparameters for t in same_seed)
  assert plan[0].study == 0 and plan[-1].study == 1  # Seeds outermost.
  assert len({t.log_dir for t in plan}) == len(plan)
  space = search_space.load_search_space(registry.search_space_path('adamw'))
  assert plan[3].hyperparameters == suite.quick_point('mnist1d', 'adamw', space)


def test_noise_command_runs_resumes_and_reports(tmp_path, data_dir, capsys):
  exp, report = tmp_path / 'exp', tmp_path / 'report'
  argv = [
    'noise',
    '--workloads=mnist1d',
    '--submissions=nadamw',
    '--seeds=2',
    '--repeats=2',
    '--max_global_steps=5',
    f'--data_dir={data_dir}',
    f'--experiment_dir={exp}',
    f'--report_dir={report}',
    '--bootstrap_samples=50',
    '--max_studies=2',
    '--calibrate_repeats=2',
  ]
  assert cli.main(argv) == 0
  dirs = sorted(
    os.path.relpath(os.path.join(r), exp)
    for r, _, files in os.walk(exp)
    if trial_logs.SUMMARY_FILE in files
  )
  assert dirs == [
    f'nadamw/study_{s}/mnist1d_jax/trial_{r}' for s in (0, 1) for r in (1, 2)
  ]  # AlgoPerf's layout: a study per seed, a trial per repeat.
  seeds = {}
  for d in dirs:
    summary = trial_logs.read_summary(str(exp / d))
    assert summary['status'] == 'max_steps'
    assert summary['compile_time']['submission_compile_s'] >= 0
    meta = json.load(open(exp / d / 'meta_data_0.json'))
    assert meta['hardware_class']
    assert json.load(open(exp / d / 'calibration.json'))['seconds'] > 0
    seeds.setdefault(d.split('/')[1], set()).add(meta['rng_seed'])
  assert all(len(s) == 1 for s in seeds.values()) and len(set.union(*seeds.values())) == 2
  conditions = [json.loads(x) for x in open(exp / noise.CONDITIONS_FILE)]
  assert len(conditions) == 4 and all('load_1m' in c for c in conditions)
  text = open(report / 'README.md').read()
  assert 'algoperf-like noise --workloads=mnist1d' in text and 'Load: 1-minute load' in text
  assert 'Calibration (per trial' in text
  capsys.readouterr()
  # Again: every trial is finished, so nothing runs; the report is rewritten.
  assert cli.main(argv) == 0
  err = capsys.readouterr().err
  assert err.count('finished earlier: skipped') == 4
  assert len(open(exp / noise.CONDITIONS_FILE).readlines()) == 4


def test_calibrate_writes_a_record(tmp_path, capsys):
  out = tmp_path / 'cal' / 'calibration.json'
  assert cli.main(['calibrate', f'--output={out}', '--steps=3', '--repeats=2']) == 0
  record = json.load(open(out))
  assert record['seconds'] > 0 and len(record['repeats_s']) == 2 and record['hardware_class']
  assert str(out) in capsys.readouterr().out
  assert cli.main(['calibrate', '--steps=0']) == 2
