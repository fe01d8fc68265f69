"""``algoperf-like workloads --json``: sizes from jax.eval_shape equal a real initialisation."""

import json
import math
import os

import jax
import pytest

from algoperf_like import cli, registry, workload_info


def test_json_lists_every_workload_with_every_field(capsys):
  assert cli.main(['workloads', '--json']) == 0
  lines = capsys.readouterr().out.splitlines()
  described = [json.loads(line) for line in lines]
  assert [d['name'] for d in described] == registry.workload_names()
  for d in described:
    assert tuple(d) == workload_info.FIELDS
    assert d['num_params'] > 0 and d['num_model_state'] >= 0, d
    assert d['metric_direction'] in ('min', 'max')
    assert d['full_scale'] == (d['name'] in registry.FULL_SCALE)
  # The README's table of the full-scale workloads says what --json says.
  readme = open(os.path.join(os.path.dirname(__file__), '..', 'README.md')).read()
  rows = readme.split('<!-- full-scale-table:')[1].split('\n\n')[0].splitlines()[3:]
  shown = {r.split('|')[1].strip(' `'): [c.strip() for c in r.split('|')[3:5]] for r in rows}
  full = {d['name']: d for d in described if d['full_scale']}
  assert set(shown) == set(full)
  for name, (params, state) in shown.items():
    assert (
      params == f'{full[name]["num_params"]:,}' and state == f'{full[name]["num_model_state"]:,}'
    )


@pytest.mark.parametrize('name', ['mnist1d', 'ogbg_motifs'])
def test_traced_sizes_equal_an_initialised_model(name):
  workload = registry.get_workload(name)
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  count = lambda tree: sum(math.prod(x.shape) for x in jax.tree.leaves(tree))
  assert workload_info.sizes(registry.get_workload(name)) == {
    'num_params': count(params),
    'num_model_state': count(model_state),
  }


def test_the_table_shows_the_json_numbers_and_a_workload_filter(capsys):
  assert cli.main(['workloads', '--workload=mnist1d', '--json']) == 0
  (described,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert cli.main(['workloads', '--workload=mnist1d']) == 0
  (line,) = capsys.readouterr().out.splitlines()
  assert line.startswith('mnist1d: validation/error_rate target')
  assert f'{workload_info.human_count(described["num_params"])} params' in line
  assert f'step hint {described["step_hint"]}' in line
  assert f'base {described["base_workload"]}' in line


def test_unknown_workload_is_one_line(capsys):
  assert cli.main(['workloads', '--workload=nope']) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("algoperf-like workloads: unknown workload 'nope'") and '\n' not in err


def test_human_count():
  assert [workload_info.human_count(n) for n in (0, 999, 1234, 25_557_032, 2 * 10**9)] == [
    '0',
    '999',
    '1.2k',
    '25.6M',
    '2.0B',
  ]
