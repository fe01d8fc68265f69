"""Tests for algoperf_like.trial_plan."""

import collections
import json
import os
import pathlib

import pytest

from algoperf_like import search_space as ss
from algoperf_like import trial_plan as tp

DATA = pathlib.Path(__file__).parent / 'data' / 'search_spaces'
NADAMW = DATA / 'nadamw_paper_baseline.json'
FIXED = DATA / 'fixed_points.json'


def _canon(point):
  return tuple(sorted((k, repr(v)) for k, v in point.items()))


def _plan(workloads=('mnist1d',), space=NADAMW, ruleset='external', **kw):
  if isinstance(space, pathlib.Path):
    space = ss.load_search_space(space)
  kw.setdefault('experiment_dir', '/exp')
  kw.setdefault('experiment_name', 'run')
  return tp.plan_trials(list(workloads), 'submissions/nadamw.py', space, ruleset, **kw)


def _by_study(plan, workload):
  out = collections.defaultdict(list)
  for t in plan:
    if t.workload == workload:
      out[t.study].append(t)
  return out


# --------------------------------------------------------------------------
# External tuning, documented rule.
# --------------------------------------------------------------------------


def test_documented_3x5_uses_same_points_as_1x15():
  p35 = _plan(num_studies=3, num_tuning_trials=5)
  p115 = _plan(num_studies=1, num_tuning_trials=15)
  set35 = {_canon(t.hyperparameters) for t in p35}
  set115 = {_canon(t.hyperparameters) for t in p115}
  assert len(set35) == 15
  assert set35 == set115
  # ... and it is AlgoPerf's draw of 15 points.
  expected = {_canon(p) for p in ss.quasirandom_points(ss.load_search_space(NADAMW), 15)}
  assert set35 == expected


def test_documented_partition_shape_and_assignment():
  plan = _plan(('mnist1d', 'wmt'), num_studies=3, num_tuning_trials=5, rng_seed=11)
  assert len(plan) == 2 * 3 * 5
  a, b = _by_study(plan, 'mnist1d'), _by_study(plan, 'wmt')
  for k in range(3):
    assert [t.trial for t in a[k]] == [1, 2, 3, 4, 5]
    assert len({_canon(t.hyperparameters) for t in a[k]}) == 5
    # Workload-agnostic: same point for the same (study, trial).
    assert [t.hyperparameters for t in a[k]] == [t.hyperparameters for t in b[k]]
  # Studies are disjoint and cover the 15 drawn points.
  idx = [t.point_index for k in range(3) for t in a[k]]
  assert sorted(idx) == list(range(15))
  # Recorded order reproduces the assignment.
  draw = plan.info['draw']
  assert idx == draw['order']
  pts = draw['points_halton_order']
  assert [t.hyperparameters for k in range(3) for t in a[k]] == [pts[i] for i in draw['order']]
  assert draw['halton_indices'] == [101 + i for i in draw['order']]


def test_documented_partition_deterministic_and_seed_dependent():
  a = _plan(num_studies=3, num_tuning_trials=5, rng_seed=5)
  b = _plan(num_studies=3, num_tuning_trials=5, rng_seed=5)
  c = _plan(num_studies=3, num_tuning_trials=5, rng_seed=6)
  assert list(a) == list(b)
  assert [t.point_index for t in a] != [t.point_index for t in c]
  assert {_canon(t.hyperparameters) for t in a} == {_canon(t.hyperparameters) for t in c}


def test_hyperparameters_tuple_for_submission():
  t = _plan()[0]
  hp = t.hyperparameters_tuple()
  assert hp.learning_rate == t.hyperparameters['learning_rate']
  assert hp._fields[:2] == ('learning_rate', 'one_minus_beta1')
  assert hp._asdict() == t.hyperparameters


# --------------------------------------------------------------------------
# official_per_study_draw: what AlgoPerf's run_workloads.py does.
# --------------------------------------------------------------------------


def test_official_per_study_draw_reuses_first_points_each_study():
  plan = _plan(
    ('mnist1d', 'wmt'), num_studies=3, num_tuning_trials=5, official_per_study_draw=True, rng_seed=2
  )
  first5 = {_canon(p) for p in ss.quasirandom_points(ss.load_search_space(NADAMW), 5)}
  for w in ('mnist1d', 'wmt'):
    studies = _by_study(plan, w)
    for k in range(3):
      assert {_canon(t.hyperparameters) for t in studies[k]} == first5
      assert sorted(t.point_index for t in studies[k]) == [0, 1, 2, 3, 4]
  assert len({_canon(t.hyperparameters) for t in plan}) == 5
  # Only the order differs between studies; it is seeded and recorded.
  orders = plan.info['draw']['per_study_order']['mnist1d']
  assert len({tuple(v) for v in orders.values()}) > 1
  assert [t.point_index for t in _by_study(plan, 'mnist1d')[1]] == orders['1']
  assert plan.info['assignment'] == 'official_per_study_draw'


def test_official_vs_documented_distinct_point_count():
  doc = _plan(num_studies=3, num_tuning_trials=5)
  off = _plan(num_studies=3, num_tuning_trials=5, official_per_study_draw=True)
  assert len({_canon(t.hyperparameters) for t in doc}) == 15
  assert len({_canon(t.hyperparameters) for t in off}) == 5


# --------------------------------------------------------------------------
# Fixed lists of points.
# --------------------------------------------------------------------------


def test_fixed_list_sampled_without_replacement_per_study():
  space = ss.load_search_space(FIXED)  # 7 points
  plan = _plan(('mnist1d', 'wmt'), space=space, num_studies=4, num_tuning_trials=5, rng_seed=3)
  sel = plan.info['draw']['per_study_indices']
  a, b = _by_study(plan, 'mnist1d'), _by_study(plan, 'wmt')
  for k in range(4):
    idx = [t.point_index for t in a[k]]
    assert len(set(idx)) == 5 and all(0 <= i < 7 for i in idx)
    assert idx == sel[str(k)]
    assert [t.hyperparameters for t in a[k]] == [space.fixed_points[i] for i in idx]
    assert [t.point_index for t in b[k]] == idx  # shared across workloads
  # Studies draw independently (not all identical selections).
  assert len({tuple(v) for v in sel.values()}) > 1
  again = _plan(('mnist1d', 'wmt'), space=space, num_studies=4, num_tuning_trials=5, rng_seed=3)
  assert list(again) == list(plan)


def test_fixed_list_too_short_is_an_error():
  with pytest.raises(
    ValueError,
    match=r'has 7 point\(s\) but '
    r'num_tuning_trials=8',
  ):
    _plan(space=ss.load_search_space(FIXED), num_tuning_trials=8)
  with pytest.raises(ValueError, match='num_tuning_trials=8'):
    _plan(space=ss.load_search_space(FIXED), num_tuning_trials=8, official_per_study_draw=True)


def test_fixed_list_official_takes_first_points_in_file_order():
  space = ss.load_search_space(FIXED)
  plan = _plan(space=space, num_studies=2, num_tuning_trials=3, official_per_study_draw=True)
  for _k, trials in _by_study(plan, 'mnist1d').items():
    assert [t.hyperparameters['learning_rate'] for t in trials] == [1e-3, 2e-3, 4e-3]
    assert [t.point_index for t in trials] == [0, 1, 2]


# --------------------------------------------------------------------------
# Self-tuning.
# --------------------------------------------------------------------------


def test_self_tuning_plan_shape():
  plan = _plan(('mnist1d', 'wmt'), space=None, ruleset='self', num_studies=3, num_tuning_trials=5)
  assert len(plan) == 6
  assert [(t.study, t.workload, t.trial) for t in plan] == [
    (0, 'mnist1d', 1),
    (0, 'wmt', 1),
    (1, 'mnist1d', 1),
    (1, 'wmt', 1),
    (2, 'mnist1d', 1),
    (2, 'wmt', 1),
  ]
  assert all(t.hyperparameters is None and t.point_index is None for t in plan)
  assert all(t.hyperparameters_tuple() is None for t in plan)
  assert all(t.tuning_ruleset == 'self' for t in plan)
  assert plan[1].log_dir == os.path.join('/exp', 'run', 'study_0', 'wmt_jax', 'trial_1')
  assert plan.info['num_tuning_trials'] == 1


def test_self_tuning_rejects_search_space():
  with pytest.raises(ValueError, match='self-tuning ruleset takes no search'):
    _plan(ruleset='self')


def test_external_requires_search_space():
  with pytest.raises(ValueError, match='needs a search space'):
    _plan(space=None)


# --------------------------------------------------------------------------
# Seeds.
# --------------------------------------------------------------------------


def test_seeds_distinct_uint32_and_deterministic():
  plan = _plan(('mnist1d', 'wmt', 'ogbg'), num_studies=5, num_tuning_trials=5, rng_seed=123)
  seeds = [t.rng_seed for t in plan]
  assert len(seeds) == 75 and len(set(seeds)) == 75
  assert all(0 <= s <= 2**32 - 1 and isinstance(s, int) for s in seeds)
  again = _plan(('mnist1d', 'wmt', 'ogbg'), num_studies=5, num_tuning_trials=5, rng_seed=123)
  assert [t.rng_seed for t in again] == seeds
  other = _plan(('mnist1d', 'wmt', 'ogbg'), num_studies=5, num_tuning_trials=5, rng_seed=124)
  assert not set(seeds) & {t.rng_seed for t in other}
  for t in plan:
    assert t.rng_seed == tp.derive_trial_seed(123, t.workload, t.study, t.trial)


def test_seeds_do_not_depend_on_other_workloads():
  alone = _plan(('wmt',), num_studies=2, num_tuning_trials=3, rng_seed=9)
  mixed = _plan(('mnist1d', 'wmt', 'ogbg'), num_studies=2, num_tuning_trials=3, rng_seed=9)
  key = lambda t: (t.study, t.trial)
  assert {key(t): t.rng_seed for t in alone} == {
    key(t): t.rng_seed for t in mixed if t.workload == 'wmt'
  }
  # Hyperparameters as well.
  assert {key(t): t.hyperparameters for t in alone} == {
    key(t): t.hyperparameters for t in mixed if t.workload == 'wmt'
  }


def test_seed_derivation_pinned_values():
  # Regression pins: changing the derivation silently would change every
  # recorded run.  Values from SeedSequence(0, spawn_key=(0, key, 0, 1, 0)).
  assert tp.workload_key('mnist1d') == 5570872941429015929
  assert tp.derive_trial_seed(0, 'mnist1d', 0, 1) == 123091419
  assert tp.derive_trial_seed(0, 'mnist1d', 1, 1) == 3638245680


def test_seed_collisions_are_salted(monkeypatch):
  real = tp.derive_trial_seed

  def colliding(rng_seed, workload, study, trial, salt=0):
    return 42 if salt == 0 else real(rng_seed, workload, study, trial, salt)

  monkeypatch.setattr(tp, 'derive_trial_seed', colliding)
  plan = _plan(num_studies=1, num_tuning_trials=3)
  seeds = [t.rng_seed for t in plan]
  assert seeds[0] == 42 and len(set(seeds)) == 3
  assert seeds[1] == real(0, 'mnist1d', 0, 2, 1)
  assert plan.info['seed_derivation']['salted'] == [
    {'workload': 'mnist1d', 'study': 0, 'trial': 2, 'salt': 1},
    {'workload': 'mnist1d', 'study': 0, 'trial': 3, 'salt': 1},
  ]


# --------------------------------------------------------------------------
# Layout, order, record, argument checks.
# --------------------------------------------------------------------------


def test_log_dir_layout_and_study_major_order():
  plan = _plan(
    ('mnist1d', 'wmt'),
    num_studies=2,
    num_tuning_trials=2,
    experiment_dir='/data/exps',
    experiment_name='nadamw_v1',
  )
  assert [(t.study, t.workload, t.trial) for t in plan] == [
    (0, 'mnist1d', 1),
    (0, 'mnist1d', 2),
    (0, 'wmt', 1),
    (0, 'wmt', 2),
    (1, 'mnist1d', 1),
    (1, 'mnist1d', 2),
    (1, 'wmt', 1),
    (1, 'wmt', 2),
  ]
  assert plan[3].log_dir == '/data/exps/nadamw_v1/study_0/wmt_jax/trial_2'
  assert plan[4].log_dir == '/data/exps/nadamw_v1/study_1/mnist1d_jax/trial_1'
  assert tp.trial_log_dir('/e', 'n', 2, 'ogbg', 5) == '/e/n/study_2/ogbg_jax/trial_5'
  assert all(t.submission_path == 'submissions/nadamw.py' for t in plan)


def test_to_json_fields():
  t = _plan(rng_seed=1)[0]
  j = t.to_json()
  for k in (
    'workload',
    'study',
    'trial',
    'rng_seed',
    'hyperparameters',
    'log_dir',
    'tuning_ruleset',
  ):
    assert k in j
  assert j['study'] == 0 and j['trial'] == 1 and j['workload'] == 'mnist1d'
  assert j['hyperparameters'] == t.hyperparameters
  assert j['hyperparameters'] is not t.hyperparameters
  assert tp.TrialSpec.from_json(j) == t


def test_plan_record_is_json_and_round_trips(tmp_path):
  plan = _plan(('mnist1d', 'wmt'), num_studies=3, num_tuning_trials=5, rng_seed=77)
  rec = tp.plan_record(plan, started='2025-01-01T00:00:00')
  path = tmp_path / 'plan.json'
  path.write_text(json.dumps(rec))
  back = json.loads(path.read_text())
  assert back['format'] == tp.PLAN_FORMAT
  assert back['extra'] == {'started': '2025-01-01T00:00:00'}
  assert back['plan']['rng_seed'] == 77
  assert back['plan']['assignment'] == 'documented_partition'
  assert back['plan']['halton'] == {'primes': [947, 953, 967, 971, 977, 983, 991], 'skip': 100}
  assert back['plan']['search_space']['learning_rate'] == {
    'min': 1e-4,
    'max': 1e-2,
    'scaling': 'log',
  }
  assert sorted(back['plan']['draw']['order']) == list(range(15))
  assert tp.trials_from_record(back) == list(plan)
  # A plain list (no .info) still gives a usable record.
  plain = tp.plan_record(list(plan))
  assert plain['plan'] == {} and len(plain['trials']) == 30


def test_self_tuning_record():
  rec = tp.plan_record(_plan(space=None, ruleset='self'))
  json.dumps(rec)
  assert rec['plan']['assignment'] == 'self_tuning'
  assert all(t['hyperparameters'] is None for t in rec['trials'])


@pytest.mark.parametrize(
  'kwargs, exc, match',
  [
    (dict(ruleset='internal'), ValueError, 'unknown tuning_ruleset'),
    (dict(workloads=()), ValueError, 'workloads is empty'),
    (dict(workloads=('a', 'a')), ValueError, 'duplicate workload'),
    (dict(workloads=('a/b',)), ValueError, 'cannot be used as a directory'),
    (dict(num_studies=0), ValueError, 'num_studies must be >= 1'),
    (dict(num_tuning_trials=0), ValueError, 'num_tuning_trials must be >= 1'),
    (dict(rng_seed=-1), ValueError, 'rng_seed must be >= 0'),
    (dict(experiment_name=''), ValueError, 'invalid experiment_name'),
  ],
)
def test_argument_errors(kwargs, exc, match):
  with pytest.raises(exc, match=match):
    _plan(**kwargs)


def test_invalid_space_object_raises_search_space_error():
  with pytest.raises(ss.SearchSpaceError, match="'lr'"):
    _plan(space={'lr': {'min': 1, 'max': 0, 'scaling': 'linear'}})
