"""Tests for algoperf_like.search_space."""

import collections
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from algoperf_like import search_space as ss
from algoperf_like.search_space import SearchSpaceError

DATA = pathlib.Path(__file__).parent / 'data' / 'search_spaces'
HALTON_FIXTURE = json.loads((DATA / 'halton_expected.json').read_text())
CASES = {c['name']: c for c in HALTON_FIXTURE['cases']}


def _canon(point):
  """Hashable, type-preserving form of a point (True != 1 here)."""
  return tuple(sorted((k, type(v).__name__, repr(v)) for k, v in point.items()))


def _multiset(points):
  return collections.Counter(_canon(p) for p in points)


def _write(tmp_path, obj_or_text, name='space.json'):
  path = tmp_path / name
  text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
  path.write_text(text)
  return path


def _load_error(tmp_path, obj_or_text):
  path = _write(tmp_path, obj_or_text)
  with pytest.raises(SearchSpaceError) as info:
    ss.load_search_space(path)
  msg = str(info.value)
  assert '\n' not in msg
  assert msg.startswith(str(path))
  return info.value, msg


# --------------------------------------------------------------------------
# Parsing valid spaces.
# --------------------------------------------------------------------------


def test_load_dict_space_keeps_order_and_types():
  space = ss.load_search_space(DATA / 'nadamw_paper_baseline.json')
  assert space.kind == 'quasirandom'
  assert space.names == (
    'learning_rate',
    'one_minus_beta1',
    'beta2',
    'warmup_factor',
    'weight_decay',
    'label_smoothing',
    'dropout_rate',
  )
  assert space.parameters[0] == ss.RangeParameter('learning_rate', 1e-4, 1e-2, 'log')
  assert space.parameters[5] == ss.DiscreteParameter('label_smoothing', (0.1, 0.2))
  assert space.source == str(DATA / 'nadamw_paper_baseline.json')
  # Round trip.
  assert ss.parse_search_space(space.to_json()).parameters == space.parameters


def test_load_fixed_points():
  space = ss.load_search_space(DATA / 'fixed_points.json')
  assert space.kind == 'fixed'
  assert len(space) == 7
  assert space.names == ('learning_rate', 'one_minus_beta1', 'schedule')
  assert space.fixed_points[2] == {
    'learning_rate': 4e-3,
    'one_minus_beta1': 0.02,
    'schedule': 'linear',
  }


def test_fixed_points_key_order_normalised_to_first_point():
  space = ss.parse_search_space([{'a': 1, 'b': 2}, {'b': 3, 'a': 4}])
  assert list(space.fixed_points[1]) == ['a', 'b']
  assert space.fixed_points[1] == {'a': 4, 'b': 3}


def test_int_bounds_are_kept_as_given():
  space = ss.parse_search_space({'warmup': {'min': 0, 'max': 1, 'scaling': 'linear'}})
  assert space.parameters[0].min == 0 and isinstance(space.parameters[0].min, int)
  assert space.parameters[0].scaling == 'linear'


# --------------------------------------------------------------------------
# Validation errors: one per kind, each names the file and the key.
# --------------------------------------------------------------------------


def test_error_bad_json_names_file_and_line(tmp_path):
  text = '{\n  "learning_rate": {"min": 1e-3, "max": 1e-2,}\n}\n'
  err, msg = _load_error(tmp_path, text)
  assert msg.startswith(f'{tmp_path / "space.json"}:2:')
  assert 'line 2' in msg and 'invalid JSON' in msg


def test_error_unknown_scaling(tmp_path):
  err, msg = _load_error(tmp_path, {'lr': {'min': 1e-3, 'max': 1e-2, 'scaling': 'exp'}})
  assert err.key == 'lr'
  assert "'lr'" in msg and "unknown scaling 'exp'" in msg


def test_error_min_greater_than_max(tmp_path):
  err, msg = _load_error(tmp_path, {'beta1': {'min': 0.99, 'max': 0.9, 'scaling': 'linear'}})
  assert "'beta1'" in msg and 'min (0.99) > max (0.9)' in msg


@pytest.mark.parametrize('lo', [0, -1e-3])
def test_error_log_scaling_non_positive_bound(tmp_path, lo):
  err, msg = _load_error(tmp_path, {'weight_decay': {'min': lo, 'max': 1.0, 'scaling': 'log'}})
  assert "'weight_decay'" in msg and 'log scaling needs positive bounds' in msg


def test_error_empty_feasible_points(tmp_path):
  err, msg = _load_error(tmp_path, {'dropout_rate': {'feasible_points': []}})
  assert "'dropout_rate'" in msg and "'feasible_points' is empty" in msg


def test_error_feasible_points_not_a_list(tmp_path):
  err, msg = _load_error(tmp_path, {'dropout_rate': {'feasible_points': 0.1}})
  assert "'dropout_rate'" in msg and 'must be a list' in msg


def test_error_fixed_points_with_different_keys(tmp_path):
  err, msg = _load_error(tmp_path, [{'lr': 1e-3, 'wd': 0.1}, {'lr': 1e-2, 'warmup': 0.05}])
  assert err.key == 'wd'
  assert 'fixed point #1' in msg and "missing 'wd'" in msg
  assert "extra 'warmup'" in msg


def test_error_fixed_point_not_an_object(tmp_path):
  err, msg = _load_error(tmp_path, [{'lr': 1e-3}, 0.01])
  assert 'fixed point #1 must be an object' in msg


def test_error_fixed_point_empty(tmp_path):
  err, msg = _load_error(tmp_path, [{}])
  assert 'fixed point #0 is empty' in msg


@pytest.mark.parametrize('bound', ['1e-3', None, True, [1e-3]])
def test_error_non_numeric_bound(tmp_path, bound):
  err, msg = _load_error(tmp_path, {'lr': {'min': bound, 'max': 1e-2, 'scaling': 'log'}})
  assert "'lr'" in msg and "'min' must be a number" in msg


def test_error_non_finite_bound(tmp_path):
  err, msg = _load_error(tmp_path, '{"lr": {"min": 1e-4, "max": Infinity, "scaling": "log"}}')
  assert "'lr'" in msg and "'max' must be finite" in msg


def test_error_unknown_entry_key(tmp_path):
  err, msg = _load_error(tmp_path, {'lr': {'min': 1e-4, 'max': 1e-2, 'scaling': 'log', 'step': 2}})
  assert "'lr'" in msg and "unknown entry key(s) 'step'" in msg


def test_error_missing_entry_key(tmp_path):
  err, msg = _load_error(tmp_path, {'lr': {'min': 1e-4, 'max': 1e-2}})
  assert "'lr'" in msg and "missing key(s) 'scaling'" in msg


def test_error_feasible_points_mixed_with_range(tmp_path):
  err, msg = _load_error(tmp_path, {'lr': {'feasible_points': [1e-3], 'min': 1e-4}})
  assert "'lr'" in msg and "cannot be combined with 'min'" in msg


def test_error_entry_not_an_object(tmp_path):
  err, msg = _load_error(tmp_path, {'lr': 1e-3})
  assert "'lr'" in msg and 'entry must be an object' in msg


@pytest.mark.parametrize('obj', [{}, []])
def test_error_empty_space(tmp_path, obj):
  err, msg = _load_error(tmp_path, obj)
  assert 'search space is empty' in msg


def test_error_top_level_wrong_type(tmp_path):
  err, msg = _load_error(tmp_path, '0.001')
  assert 'must be a JSON object' in msg and 'got float' in msg


@pytest.mark.parametrize('name', ['learning-rate', 'class', '_private', '1lr'])
def test_error_name_not_an_identifier(tmp_path, name):
  err, msg = _load_error(tmp_path, {name: {'feasible_points': [1]}})
  assert err.key == name
  assert repr(name) in msg and 'Python identifier' in msg


def test_error_duplicate_key(tmp_path):
  text = '{"lr": {"min": 1e-4, "max": 1e-2, "scaling": "log"},\n "lr": {"feasible_points": [0.1]}}'
  err, msg = _load_error(tmp_path, text)
  assert "'lr'" in msg and 'duplicate key' in msg


def test_error_missing_file(tmp_path):
  path = tmp_path / 'nope.json'
  with pytest.raises(SearchSpaceError, match='cannot read search space file'):
    ss.load_search_space(path)


def test_error_without_source_has_no_file_prefix():
  with pytest.raises(SearchSpaceError) as info:
    ss.parse_search_space({'lr': {'min': 2, 'max': 1, 'scaling': 'log'}})
  assert str(info.value) == "hyperparameter 'lr': min (2) > max (1)"
  assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------
# Halton sequence: exactness against AlgoPerf (numbers in the fixture).
# --------------------------------------------------------------------------


@pytest.mark.parametrize('name', sorted(CASES))
def test_quasirandom_points_equal_algoperf_in_halton_order(name):
  case = CASES[name]
  got = ss.quasirandom_points(case['space'], case['num_trials'])
  expected = case['expected_halton_order']
  assert len(got) == len(expected) == case['num_trials']
  for g, e in zip(got, expected):
    assert list(g) == list(e)  # same keys, same order
    for k in e:
      assert g[k] == e[k], (name, k)  # bit-exact
      assert type(g[k]) is type(e[k]), (name, k)


@pytest.mark.parametrize('name', sorted(CASES))
def test_quasirandom_search_draws_algoperf_set(name):
  case = CASES[name]
  draw = ss.quasirandom_search(case['space'], case['num_trials'], rng=7)
  assert _multiset(draw.points) == _multiset(case['expected_algoperf_shuffled'])
  # Namedtuple variant as well.
  hps = ss.generate_search(case['space'], case['num_trials'], rng=7)
  assert [h._asdict() for h in hps] == list(draw.points)


def test_halton_primes_match_algoperf():
  for n, primes in HALTON_FIXTURE['primes'].items():
    assert ss.halton_primes(int(n)) == tuple(primes)
  for n, (first, last, count) in HALTON_FIXTURE['primes_first_last_count'].items():
    primes = ss.halton_primes(int(n))
    assert (primes[0], primes[-1], len(primes)) == (first, last, count)
  assert ss.halton_primes(3) == (977, 983, 991)


def test_spot_values_from_fixture():
  # Halton point 101 of the nadamw baseline space, as AlgoPerf draws it.
  space = ss.load_search_space(DATA / 'nadamw_paper_baseline.json')
  first = ss.quasirandom_points(space, 1)[0]
  assert first['learning_rate'] == 0.0019814680146414726
  assert first['one_minus_beta1'] == 0.045677535963609565
  assert first['weight_decay'] == 0.010340635370188849
  assert first['label_smoothing'] == 0.1 and first['dropout_rate'] == 0.0


def test_prefix_property():
  space = CASES['nadamw_paper_baseline']['space']
  assert ss.quasirandom_points(space, 5) == ss.quasirandom_points(space, 15)[:5]
  assert ss.halton_sequence(3, 4) == ss.halton_sequence(10, 4)[:3]


def test_halton_skip_offsets_sequence():
  assert ss.halton_sequence(5, 2, skip=0)[3:] == ss.halton_sequence(2, 2, skip=3)


def test_scrambled_radical_inverse_identity_digits():
  ident2 = [0, 1]
  assert ss.scrambled_radical_inverse(6, 2, ident2) == 0.375  # 110b -> .011b
  assert ss.scrambled_radical_inverse(1, 2, ident2) == 0.5
  ident3 = [0, 1, 2]
  # 5 = 12 (base 3) -> 0.21 (base 3) = 2/3 + 1/9
  assert ss.scrambled_radical_inverse(5, 3, ident3) == pytest.approx(7 / 9)
  # A digit permutation swaps 1 and 2: 0.12 (base 3) = 1/3 + 2/9.
  assert ss.scrambled_radical_inverse(5, 3, [0, 2, 1]) == pytest.approx(5 / 9)


def test_halton_values_structure():
  seq = np.array(ss.halton_sequence(200, 3))
  assert seq.shape == (200, 3)
  assert seq.min() >= 0.0 and seq.max() < 1.0
  # Indices 101..300 are below every base (977, 983, 991), so each
  # coordinate is frac(sigma(i) / b + u): shifting back by u and scaling by b
  # gives the permuted digits sigma(i), which are distinct integers in 1..b-1.
  for d, base in enumerate(ss.halton_primes(3)):
    sigma, shift = ss._scramble(base)
    digits = np.mod(seq[:, d] - shift, 1.0) * base
    assert np.allclose(digits, np.round(digits), atol=1e-6)
    expected = [sigma[i] for i in range(101, 301)]
    assert [int(x) for x in np.round(digits)] == expected
    assert len(set(expected)) == 200 and min(expected) >= 1


def test_scale_unit_value():
  log = ss.RangeParameter('lr', 1e-4, 1e-2, 'log')
  assert ss.scale_unit_value(log, 0.0) == 1e-4
  assert ss.scale_unit_value(log, 0.5) == pytest.approx(1e-3)
  lin = ss.RangeParameter('b', 0.8, 1.0, 'linear')
  assert ss.scale_unit_value(lin, 0.25) == pytest.approx(0.85)
  disc = ss.DiscreteParameter('s', ('a', 'b', 'c'))
  assert [ss.scale_unit_value(disc, u) for u in (0.0, 0.33, 0.34, 0.999)] == ['a', 'a', 'b', 'c']
  assert ss.scale_unit_value(disc, math.nextafter(1.0, 0.0)) == 'c'


def test_quasirandom_search_order_is_seeded_and_recorded():
  space = CASES['mnist_development']['space']
  a = ss.quasirandom_search(space, 12, rng=3)
  b = ss.quasirandom_search(space, 12, rng=np.random.default_rng(3))
  c = ss.quasirandom_search(space, 12, rng=4)
  assert a == b
  assert sorted(a.order) == list(range(12))
  assert a.order != c.order
  unshuffled = ss.quasirandom_points(space, 12)
  assert list(a.points) == [unshuffled[k] for k in a.order]
  assert a.halton_indices == tuple(101 + k for k in a.order)
  assert a.to_json()['order'] == list(a.order)


def test_quasirandom_rejects_fixed_list():
  with pytest.raises(ValueError, match='fixed points'):
    ss.quasirandom_points([{'lr': 1}], 1)


def test_generate_search_fixed_list_like_algoperf():
  space = ss.load_search_space(DATA / 'fixed_points.json')
  hps = ss.generate_search(space, 3)
  assert [h.learning_rate for h in hps] == [1e-3, 2e-3, 4e-3]
  assert len(ss.generate_search(space, 50)) == 7


# --------------------------------------------------------------------------
# Hyperparameters object.
# --------------------------------------------------------------------------


def test_make_hyperparameters():
  hp = ss.make_hyperparameters({'learning_rate': 1e-3, 'beta2': 0.999, 'schedule': 'cosine'})
  assert hp.learning_rate == 1e-3 and hp.beta2 == 0.999
  assert hp._fields == ('learning_rate', 'beta2', 'schedule')
  assert hp._asdict() == {'learning_rate': 1e-3, 'beta2': 0.999, 'schedule': 'cosine'}
  assert type(hp).__name__ == 'Hyperparameters'
  with pytest.raises(AttributeError):
    hp.learning_rate = 1.0
  # Same fields -> same class (cached); namedtuple equality by value.
  hp2 = ss.make_hyperparameters(hp._asdict())
  assert type(hp2) is type(hp) and hp2 == hp
  assert ss.make_hyperparameters(hp) == hp


def test_make_hyperparameters_rejects_bad_names():
  with pytest.raises(SearchSpaceError, match="'learning-rate'"):
    ss.make_hyperparameters({'learning-rate': 1e-3})


def test_fixed_point_hyperparameters():
  space = ss.load_search_space(DATA / 'fixed_points.json')
  hp = ss.make_hyperparameters(space.fixed_points[5])
  assert (hp.learning_rate, hp.one_minus_beta1, hp.schedule) == (3.2e-2, 0.02, 'constant')


def test_import_is_pure_numpy():
  code = (
    'import sys, algoperf_like.search_space, algoperf_like.trial_plan; '
    "bad = [m for m in ('jax', 'jaxlib', 'flax', 'tensorflow') "
    'if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)'
  )
  out = subprocess.run(
    [sys.executable, '-c', code],
    capture_output=True,
    text=True,
    cwd=pathlib.Path(__file__).parent.parent,
  )
  assert out.returncode == 0, out.stdout + out.stderr
