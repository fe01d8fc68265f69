"""Planning the (workload, study, trial) runs of a benchmark, AlgoPerf-style.

Vocabulary (MLCommons AlgoPerf, ``docs/DOCUMENTATION.md``, "Tuning"):

* **External tuning ruleset.**  For every workload the submission is tuned
  with ``O = num_tuning_trials`` trials, and tuning is repeated for
  ``S = num_studies`` independent studies.  The documented rule: the working
  group draws ``S * O`` hyperparameter settings from the submission's
  workload-agnostic search space with (quasi)random search and *randomly
  partitions* them into ``S`` studies of ``O`` trials each.  A submission may
  instead supply a fixed list of points, which is then "sampled without
  replacement".
* **Self-tuning ruleset.**  No user hyperparameters; each study is one run.

On disk, AlgoPerf's orchestration produces
``{experiment_dir}/{experiment_name}/study_{k}/{workload}_{framework}/trial_{m}``
with ``k`` 0-based and ``m`` 1-based (self-tuning runs use ``trial_1``).

How the plan is built here
--------------------------

*Order*: **study-major** -- study 0 for every workload (in the given order),
then study 1, ...; within a (study, workload) trials run ``1..O``.  This is the
order of AlgoPerf's ``scoring/utils/run_workloads.py`` (``for study: for
workload:``), and it means an interrupted run has complete studies for all
workloads rather than all studies of some workloads.

*Hyperparameters (external, dict space, default)* -- the documented rule:
the first ``N = S * O`` points of AlgoPerf's Halton sequence are drawn
(exactly the set ``halton.generate_search(space, N)`` draws), shuffled by a
``numpy.random.Generator`` seeded from ``rng_seed`` (recorded as a
permutation), and study ``k`` gets shuffled positions ``k*O .. k*O+O-1`` as
trials ``1..O``.  Hence ``S=3, O=5`` uses exactly the 15 points that
``S=1, O=15`` uses.  The partition depends only on ``rng_seed`` and the space,
not on the workload: every workload sees the same hyperparameters for the
same (study, trial), and adding a workload changes nothing else.

*Hyperparameters (external, dict space, ``official_per_study_draw=True``)* --
what AlgoPerf's scripts actually do.  ``run_workloads.py`` starts
``submission_runner.py`` once per (study, workload) with the same
``--tuning_search_space`` and ``--num_tuning_trials O``, and each process calls
``halton.generate_search(space, O)``.  The Halton sequence is deterministic
(scrambling is seeded by the prime bases) and only the first ``O`` points are
taken, so **every study re-uses the same O points**; only their order (hence
which one is ``trial_m``) differs, because each process shuffles with numpy's
unseeded global RNG.  Here that order is a seeded permutation per
(workload, study).  Consequently the ``S`` studies are not independent draws:
there are only ``O`` distinct settings in total instead of ``S * O``.

*Fixed list of points* -- default: each study independently selects ``O``
distinct points (``Generator.choice(len, O, replace=False)`` seeded from
``(rng_seed, study)``; shared by all workloads); error if the list has fewer
than ``O`` points.  With ``official_per_study_draw=True``: AlgoPerf's
``generate_search`` returns the first ``O`` points in file order (no
shuffling), for every study; here too, but a list shorter than ``O`` is an
error (AlgoPerf silently lowers ``num_tuning_trials``).

*Seeds*: every trial gets its own seed, a uint32 (the range of AlgoPerf's
``--rng_seed``)::

    SeedSequence(entropy=rng_seed,
                 spawn_key=(0, workload_key(workload), study, trial, salt)
                 ).generate_state(1, uint32)[0]

``workload_key`` is the first 8 bytes of ``sha256(workload name)`` (Python's
``hash()`` -- which AlgoPerf's ``run_workloads.py`` folds into its seeds -- is
salted per process and not reproducible).  A seed therefore depends only on
``(rng_seed, workload, study, trial)``: adding or removing workloads does not
change the other trials' seeds.  ``salt`` is 0 unless two trials of the plan
would collide (probability ~ n^2 / 2^33); the later trial in plan order then
gets the smallest salt making it unique, and the plan record lists it.
In AlgoPerf, ``run_workloads.py`` passes one ``--rng_seed`` per (study,
workload) and the ``submission_runner.py`` versions that accept it only draw
an ``os.urandom`` seed when none was given, so all trials of a (study,
workload) share one seed; older runners draw a fresh ``os.urandom`` seed per
trial (not reproducible).

This module depends only on numpy and the standard library.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from algoperf_like import search_space as search_space_lib
from algoperf_like.search_space import SearchSpace

__all__ = [
  'TUNING_RULESETS',
  'PLAN_FORMAT',
  'TrialSpec',
  'TrialPlan',
  'workload_key',
  'derive_trial_seed',
  'trial_log_dir',
  'plan_trials',
  'plan_record',
  'trials_from_record',
]

TUNING_RULESETS = ('external', 'self')
PLAN_FORMAT = 'algoperf_like.trial_plan/1'
_UINT32_MAX = 2**32 - 1

# First element of every SeedSequence spawn key: keeps the random streams used
# for different purposes disjoint.
_STREAM_TRIAL_SEED = 0
_STREAM_PARTITION_SHUFFLE = 1
_STREAM_PER_STUDY_SHUFFLE = 2
_STREAM_FIXED_SELECTION = 3


@dataclasses.dataclass(frozen=True)
class TrialSpec:
  """One training run.

  Attributes:
    workload: workload name, e.g. ``"mnist1d"``.
    submission_path: path of the submission module.
    study: 0-based study index (directory ``study_{study}``).
    trial: 1-based trial index within the study (directory ``trial_{trial}``).
    rng_seed: uint32 seed of this run.
    hyperparameters: ``{name: value}`` (file order) or ``None`` (self-tuning).
      Use :meth:`hyperparameters_tuple` for the object handed to submissions.
    log_dir: ``{experiment_dir}/{experiment_name}/study_{k}/{workload}_{framework}/trial_{m}``.
    tuning_ruleset: ``"external"`` or ``"self"``.
    point_index: where the hyperparameters come from: for a quasirandom space
      the 0-based position in Halton order (Halton sequence index
      ``point_index + 101``); for a fixed list, the index in the list;
      ``None`` for self-tuning.
  """

  workload: str
  submission_path: str
  study: int
  trial: int
  rng_seed: int
  hyperparameters: dict[str, Any] | None
  log_dir: str
  tuning_ruleset: str
  point_index: int | None = None

  def hyperparameters_tuple(self) -> tuple | None:
    """The namedtuple AlgoPerf passes to submissions (``None`` if self-tuning)."""
    if self.hyperparameters is None:
      return None
    return search_space_lib.make_hyperparameters(self.hyperparameters)

  def to_json(self) -> dict[str, Any]:
    return {
      'workload': self.workload,
      'submission_path': self.submission_path,
      'study': self.study,
      'trial': self.trial,
      'rng_seed': self.rng_seed,
      'hyperparameters': copy.deepcopy(self.hyperparameters),
      'log_dir': self.log_dir,
      'tuning_ruleset': self.tuning_ruleset,
      'point_index': self.point_index,
    }

  @classmethod
  def from_json(cls, obj: Mapping[str, Any]) -> 'TrialSpec':
    return cls(
      workload=obj['workload'],
      submission_path=obj['submission_path'],
      study=int(obj['study']),
      trial=int(obj['trial']),
      rng_seed=int(obj['rng_seed']),
      hyperparameters=copy.deepcopy(obj['hyperparameters']),
      log_dir=obj['log_dir'],
      tuning_ruleset=obj['tuning_ruleset'],
      point_index=obj.get('point_index'),
    )


class TrialPlan(list):
  """A ``list[TrialSpec]`` that also carries how it was derived (``.info``).

  ``.info`` is a JSON-serialisable dict (settings, the drawn points and the
  recorded shuffles, the seed derivation); :func:`plan_record` writes it out.
  """

  def __init__(self, trials: Iterable[TrialSpec] = (), info: Mapping[str, Any] | None = None):
    super().__init__(trials)
    self.info = dict(info or {})


def workload_key(workload: str) -> int:
  """Stable 64-bit key of a workload name: sha256(utf-8 name)[:8], big-endian."""
  return int.from_bytes(hashlib.sha256(workload.encode('utf-8')).digest()[:8], 'big')


def derive_trial_seed(rng_seed: int, workload: str, study: int, trial: int, salt: int = 0) -> int:
  """The uint32 seed of one trial (see the module docstring)."""
  _check_seed(rng_seed)
  seq = np.random.SeedSequence(
    entropy=rng_seed, spawn_key=(_STREAM_TRIAL_SEED, workload_key(workload), study, trial, salt)
  )
  return int(seq.generate_state(1, dtype=np.uint32)[0])


def trial_log_dir(
  experiment_dir: str,
  experiment_name: str,
  study: int,
  workload: str,
  trial: int,
  framework: str = 'jax',
) -> str:
  """``{experiment_dir}/{experiment_name}/study_{study}/{workload}_{framework}/trial_{trial}``."""
  return os.path.join(
    os.fspath(experiment_dir),
    experiment_name,
    f'study_{study}',
    f'{workload}_{framework}',
    f'trial_{trial}',
  )


def _generator(rng_seed: int, *spawn_key: int) -> np.random.Generator:
  return np.random.default_rng(np.random.SeedSequence(entropy=rng_seed, spawn_key=spawn_key))


def _check_seed(rng_seed: Any) -> None:
  if isinstance(rng_seed, bool) or not isinstance(rng_seed, (int, np.integer)):
    raise TypeError(f'rng_seed must be an int, got {rng_seed!r}')
  if rng_seed < 0:
    raise ValueError(f'rng_seed must be >= 0, got {rng_seed}')


def _check_positive(value: Any, name: str) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f'{name} must be an int, got {value!r}')
  if value < 1:
    raise ValueError(f'{name} must be >= 1, got {value}')
  return int(value)


def _check_workloads(workloads: Sequence[str]) -> list[str]:
  if isinstance(workloads, str):
    raise TypeError('workloads must be a list of names, not a string')
  names = list(workloads)
  if not names:
    raise ValueError('workloads is empty')
  for w in names:
    if not isinstance(w, str) or not w or w != w.strip():
      raise ValueError(f'invalid workload name {w!r}')
    if os.sep in w or (os.altsep and os.altsep in w) or w in ('.', '..'):
      raise ValueError(f'workload name {w!r} cannot be used as a directory')
  dupes = sorted({w for w in names if names.count(w) > 1})
  if dupes:
    raise ValueError(f'duplicate workload(s): {", ".join(dupes)}')
  return names


def plan_trials(
  workloads: Sequence[str],
  submission_path: str | os.PathLike,
  search_space: SearchSpace | Mapping | Sequence | None,
  tuning_ruleset: str,
  *,
  num_studies: int = 3,
  num_tuning_trials: int = 5,
  rng_seed: int = 0,
  experiment_dir: str | os.PathLike,
  experiment_name: str,
  official_per_study_draw: bool = False,
  framework: str = 'jax',
) -> TrialPlan:
  """All trials of a benchmark run, in execution order (study-major).

  Args:
    workloads: workload names, run in this order within each study.
    submission_path: the submission module (recorded in every TrialSpec).
    search_space: a :class:`SearchSpace` (or an object
      :func:`~algoperf_like.search_space.parse_search_space` accepts) for the
      external ruleset; must be ``None`` for self-tuning.
    tuning_ruleset: ``"external"`` or ``"self"``.
    num_studies: ``S``.
    num_tuning_trials: ``O`` (trials per study; ignored for self-tuning,
      which always has one trial per study).
    rng_seed: non-negative int; everything random derives from it.
    experiment_dir, experiment_name: root of the log directories.
    official_per_study_draw: reproduce AlgoPerf's scripts (each study re-draws
      the same first ``O`` points) instead of the documented ``S*O`` partition.
    framework: suffix of the workload directory (``{workload}_{framework}``).

  Returns:
    A :class:`TrialPlan` (a list of :class:`TrialSpec` with ``.info``).

  Raises:
    ValueError / TypeError on invalid arguments (unknown ruleset, missing or
    superfluous search space, fixed list shorter than ``num_tuning_trials``,
    ...); :class:`~algoperf_like.search_space.SearchSpaceError` for an
    invalid space.
  """
  names = _check_workloads(workloads)
  if tuning_ruleset not in TUNING_RULESETS:
    raise ValueError(
      f'unknown tuning_ruleset {tuning_ruleset!r} (expected one of {", ".join(TUNING_RULESETS)})'
    )
  num_studies = _check_positive(num_studies, 'num_studies')
  num_tuning_trials = _check_positive(num_tuning_trials, 'num_tuning_trials')
  _check_seed(rng_seed)
  rng_seed = int(rng_seed)
  if not experiment_name or not isinstance(experiment_name, str):
    raise ValueError(f'invalid experiment_name {experiment_name!r}')
  experiment_dir = os.fspath(experiment_dir)
  if not experiment_dir:
    raise ValueError('experiment_dir is empty')
  submission_path = os.fspath(submission_path)
  S, O = num_studies, num_tuning_trials

  info: dict[str, Any] = {
    'format': PLAN_FORMAT,
    'workloads': names,
    'submission_path': submission_path,
    'tuning_ruleset': tuning_ruleset,
    'num_studies': S,
    'num_tuning_trials': O if tuning_ruleset == 'external' else 1,
    'rng_seed': rng_seed,
    'experiment_dir': experiment_dir,
    'experiment_name': experiment_name,
    'framework': framework,
    'official_per_study_draw': bool(official_per_study_draw),
    'order': 'study-major: for study: for workload: for trial',
  }

  # assign(workload, study, trial) -> (hyperparameters, point_index)
  if tuning_ruleset == 'self':
    if search_space is not None:
      raise ValueError('the self-tuning ruleset takes no search space')
    O = 1
    info['assignment'] = 'self_tuning'
    info['search_space'] = None

    def assign(workload, study, trial):
      del workload, study, trial
      return None, None

  else:
    if search_space is None:
      raise ValueError('the external tuning ruleset needs a search space')
    space = search_space_lib.parse_search_space(search_space)
    info['search_space'] = space.to_json()
    info['search_space_source'] = space.source
    if space.is_fixed:
      fixed = space.fixed_points
      if len(fixed) < O:
        raise ValueError(
          f'the fixed search space{_from(space)} has {len(fixed)} point(s) '
          f'but num_tuning_trials={O}; each study needs {O} distinct points'
        )
      if official_per_study_draw:
        info['assignment'] = 'fixed_first_points'
        info['draw'] = {'indices': list(range(O))}

        def assign(workload, study, trial):
          del workload, study
          return fixed[trial - 1], trial - 1
      else:
        info['assignment'] = 'fixed_sample_without_replacement'
        selections = {
          k: [
            int(i)
            for i in _generator(rng_seed, _STREAM_FIXED_SELECTION, k).choice(
              len(fixed), size=O, replace=False
            )
          ]
          for k in range(S)
        }
        info['draw'] = {
          'selection_spawn_key': [_STREAM_FIXED_SELECTION, '<study>'],
          'per_study_indices': {str(k): v for k, v in selections.items()},
        }

        def assign(workload, study, trial):
          del workload
          idx = selections[study][trial - 1]
          return fixed[idx], idx
    else:
      info['halton'] = {
        'primes': list(search_space_lib.halton_primes(len(space))),
        'skip': search_space_lib.HALTON_SKIP,
      }
      if official_per_study_draw:
        info['assignment'] = 'official_per_study_draw'
        points = search_space_lib.quasirandom_points(space, O)
        orders: dict[str, dict[str, list[int]]] = {}
        for w in names:
          wk = workload_key(w)
          orders[w] = {
            str(k): [
              int(i) for i in _generator(rng_seed, _STREAM_PER_STUDY_SHUFFLE, wk, k).permutation(O)
            ]
            for k in range(S)
          }
        info['draw'] = {
          'points_halton_order': points,
          'shuffle_spawn_key': [_STREAM_PER_STUDY_SHUFFLE, '<workload_key>', '<study>'],
          'per_study_order': orders,
        }

        def assign(workload, study, trial):
          idx = orders[workload][str(study)][trial - 1]
          return points[idx], idx
      else:
        info['assignment'] = 'documented_partition'
        draw = search_space_lib.quasirandom_search(
          space, S * O, _generator(rng_seed, _STREAM_PARTITION_SHUFFLE)
        )
        info['draw'] = {
          'points_halton_order': search_space_lib.quasirandom_points(space, S * O),
          'shuffle_spawn_key': [_STREAM_PARTITION_SHUFFLE],
          'order': list(draw.order),
          'halton_indices': list(draw.halton_indices),
          'partition': 'study k, trial m <- order[k*O + m - 1]',
        }

        def assign(workload, study, trial):
          del workload
          pos = study * O + trial - 1
          return draw.points[pos], draw.order[pos]

  trials = []
  used_seeds: set[int] = set()
  salted = []
  for study in range(S):
    for w in names:
      for trial in range(1, O + 1):
        salt = 0
        seed = derive_trial_seed(rng_seed, w, study, trial, salt)
        while seed in used_seeds:
          salt += 1
          seed = derive_trial_seed(rng_seed, w, study, trial, salt)
        if salt:
          salted.append({'workload': w, 'study': study, 'trial': trial, 'salt': salt})
        used_seeds.add(seed)
        hparams, point_index = assign(w, study, trial)
        trials.append(
          TrialSpec(
            workload=w,
            submission_path=submission_path,
            study=study,
            trial=trial,
            rng_seed=seed,
            hyperparameters=(None if hparams is None else copy.deepcopy(dict(hparams))),
            log_dir=trial_log_dir(experiment_dir, experiment_name, study, w, trial, framework),
            tuning_ruleset=tuning_ruleset,
            point_index=point_index,
          )
        )

  info['seed_derivation'] = {
    'method': (
      'numpy.random.SeedSequence(entropy=rng_seed, spawn_key=(0, '
      'workload_key, study, trial, salt)).generate_state(1, '
      'uint32)[0]'
    ),
    'workload_key': "int.from_bytes(sha256(name.encode('utf-8'))[:8], 'big')",
    'workload_keys': {w: workload_key(w) for w in names},
    'salted': salted,
  }
  return TrialPlan(trials, info)


def _from(space: SearchSpace) -> str:
  return f' ({space.source})' if space.source else ''


def plan_record(plan: Sequence[TrialSpec], **extra: Any) -> dict[str, Any]:
  """A JSON-serialisable record of a plan, to be written next to the results.

  Contains ``format``, the derivation info of a :class:`TrialPlan` under
  ``"plan"`` (settings, search space, drawn points, recorded shuffles /
  selections, seed derivation; ``{}`` for a plain list), any ``extra``
  keyword arguments under ``"extra"``, and ``"trials"``: every
  :meth:`TrialSpec.to_json` in execution order.
  """
  record: dict[str, Any] = {
    'format': PLAN_FORMAT,
    'plan': copy.deepcopy(getattr(plan, 'info', {})),
    'trials': [t.to_json() for t in plan],
  }
  if extra:
    record['extra'] = copy.deepcopy(extra)
  return record


def trials_from_record(record: Mapping[str, Any]) -> list[TrialSpec]:
  """The TrialSpecs of a record written by :func:`plan_record`."""
  fmt = record.get('format')
  if fmt != PLAN_FORMAT:
    raise ValueError(f'not a trial plan record (format {fmt!r}, expected {PLAN_FORMAT!r})')
  return [TrialSpec.from_json(t) for t in record['trials']]
