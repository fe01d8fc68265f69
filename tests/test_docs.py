"""The README's targets table says what workloads/targets.json says, for every workload."""

import json
import os

from algoperf_like.workloads import targets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _targets_table():
  with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
    lines = f.read().split('<!-- targets-table')[1].splitlines()[1:]
  rows = {}
  for line in lines[2:]:
    if not line.startswith('|'):
      break
    cells = [c.strip() for c in line.strip('|').split('|')]
    rows[cells[0].strip('`')] = cells
  return rows


def test_readme_targets_table_matches_targets_json():
  rows = _targets_table()
  committed = targets.load_targets()['workloads']
  assert set(rows) == set(committed)
  for name, entry in committed.items():
    cells = rows[name]
    arrow = '↓' if entry['metric_direction'] == 'min' else '↑'
    assert cells[1] == f'{entry["target_metric_name"]} {arrow}', name
    assert float(cells[2]) == entry['validation_target_value'], name
    assert float(cells[3]) == entry['test_target_value'], name
    assert float(cells[4]) == entry['max_allowed_runtime_sec'], name
    assert int(cells[5]) == entry['step_hint'], name
    assert float(cells[6]) == entry['eval_period_time_sec'], name
    with open(os.path.join(REPO, 'workloads', 'target_setting', f'{name}.json')) as f:
      record = json.load(f)
    assert cells[7] == record['best']['algorithm'], name
    stability = record['stability']
    assert cells[8].startswith(
      f'{stability["converged_seed_runs"]}/{stability["seed_runs"]} '
      f'(candidate {stability["candidate_rank"]})'
    ), name
