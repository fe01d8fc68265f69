"""Published AlgoPerf submissions run here unmodified; AlgoPerf's tools read the logs.

The submissions are the test inputs of ``../shared/fixtures/algoperf_submissions/``
(copied byte for byte from mlcommons/submissions_algorithms). Every training run uses a
step budget, so the outcome never rests on the machine's speed.
"""

import csv
import importlib.util
import json
import os
import re
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

from algoperf_like import cli, compat, registry, spec
from algoperf_like.submission import (
  SubmissionError,
  load_submission,
  missing_requirements,
  resolve_batch_size,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(REPO), 'shared', 'fixtures', 'algoperf_submissions')
V06_BASELINE = os.path.join(FIXTURES, 'v06_leaderboard_baseline')
SCHEDULE_FREE = os.path.join(FIXTURES, 'schedule_free_adamw_jax')
needs_fixtures = pytest.mark.skipif(
  not os.path.isdir(FIXTURES), reason='no shared/fixtures/algoperf_submissions'
)

FIVE_FUNCTIONS = textwrap.dedent("""
    def get_batch_size(workload_name):
      if workload_name == 'mnist':
        return 16
      raise ValueError(f'Unsupported workload name: {workload_name}.')
    def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
      return None
    def update_params(workload, current_param_container, current_params_types, model_state,
                      hyperparameters, batch, loss_type, optimizer_state, eval_results,
                      global_step, rng):
      return optimizer_state, current_param_container, model_state
    def data_selection(workload, input_queue, optimizer_state, current_param_container,
                       model_state, hyperparameters, global_step, rng):
      return next(input_queue)
    """)


def _run(argv, capsys):
  rc = cli.main(['run'] + argv)
  out, err = capsys.readouterr()
  return rc, out, err


def _eval_rows(trial_dir):
  with open(os.path.join(trial_dir, 'eval_measurements.csv')) as f:
    return list(csv.DictReader(f))


# ----- Submissions run with no edit. -----
CASES = {
  'v06_leaderboard_baseline': (
    V06_BASELINE,
    ['--tuning_search_space=tuning_search_space.json', '--num_tuning_trials=1'],
    'pmap',
  ),
  'schedule_free_adamw_jax': (SCHEDULE_FREE, ['--tuning_ruleset=self'], 'jit'),
}


@needs_fixtures
@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(CASES))
def test_published_submission_runs_unmodified_on_mnist1d(name, tmp_path, data_dir, capsys):
  folder, extra, api = CASES[name]
  rc, out, err = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={os.path.join(folder, "submission.py")}',
      '--framework=jax',
      '--num_studies=1',
      '--max_global_steps=300',
      '--eval_every_steps=100',
      '--max_runtime_sec=1e9',
      f'--experiment_dir={tmp_path}',
      f'--experiment_name={name}',
      f'--data_dir={data_dir}',
    ]
    + extra,
    capsys,
  )
  assert rc == 0, err[-3000:]
  trial = tmp_path / name / 'study_0' / 'mnist1d_jax' / 'trial_1'
  rows = _eval_rows(trial)
  assert len(rows) >= 2
  losses = [float(r['validation/loss']) for r in rows]
  assert losses[-1] < losses[0], losses
  # get_batch_size raises ValueError for 'mnist1d': the AlgoPerf base workload answered.
  assert "get_batch_size('mnist1d') raised ValueError: used 'mnist': 16" in err
  with open(trial / 'meta_data_0.json') as f:
    meta = json.load(f)
  assert meta['submission_api'] == api
  assert meta['global_batch_size'] == 16 and 'mnist' in meta['batch_size_notice']
  with open(trial / 'trial_summary.json') as f:
    summary = json.load(f)
  # Both define prepare_for_eval: it ran before every evaluation.
  assert summary['prepare_for_eval_calls'] == len(rows)
  with open(trial / 'measurements.csv') as f:
    train_rows = list(csv.DictReader(f))
  assert {'loss', 'grad_norm'} <= set(train_rows[0])  # The submission's metrics_logger rows.
  assert float(train_rows[-1]['score']) > 0  # AlgoPerf's final score row.
  assert 'algoperf' not in sys.modules and 'algorithmic_efficiency' not in sys.modules


@needs_fixtures
def test_api_generation_is_detected():
  assert load_submission(os.path.join(V06_BASELINE, 'submission.py')).api == 'pmap'
  assert load_submission(os.path.join(SCHEDULE_FREE, 'submission.py')).api == 'jit'


# ----- The compatibility layer. -----
def test_algoperf_resolves_only_while_active():
  assert 'algoperf' not in sys.modules
  with compat.active():
    from algoperf import jax_sharding_utils, param_utils, random_utils
    from algoperf import spec as algoperf_spec
    from algorithmic_efficiency import data_utils

    assert algoperf_spec is spec  # The harness's own contract, not a copy.
    assert callable(jax_sharding_utils.get_replicate_sharding)
    shapes = param_utils.jax_param_shapes({'Dense_0': {'kernel': jnp.zeros((2, 3))}})
    assert shapes['Dense_0']['kernel'] == spec.ShapeTuple((2, 3))
    assert random_utils.PRNGKey(0).shape == (2,)
    assert data_utils.shard_and_maybe_pad_np({'x': jnp.ones((3, 2))})['x'].ndim == 3
  for name in ('algoperf', 'algoperf.spec', 'algorithmic_efficiency'):
    assert name not in sys.modules
  with pytest.raises(ImportError):
    import algoperf  # noqa: F401


def test_v05_mode_alone_restores_removed_jax_names():
  removed = [n for n in ('tree_map', 'tree_leaves', 'tree_flatten') if not hasattr(jax, n)]
  if not removed:
    pytest.skip('this JAX still has the old names')
  with compat.active('0.6'):
    assert not hasattr(jax, removed[0])
  with compat.active('0.5'):
    assert jax.tree_map(lambda x: x + 1, {'a': 1}) == {'a': 2}
  assert not any(hasattr(jax, n) for n in removed)


def test_v05_submission_is_detected_and_sees_jax_tree_map(tmp_path):
  (tmp_path / 'submission.py').write_text(
    'from algorithmic_efficiency import spec\nimport jax\nOLD = jax.tree_map\n' + FIVE_FUNCTIONS
  )
  submission = load_submission(str(tmp_path / 'submission.py'))
  assert submission.algoperf_version == '0.5'


def test_submission_folder_is_a_package(tmp_path):
  """Relative imports, sibling modules and data files of the folder work."""
  (tmp_path / 'helpers.py').write_text('SCALE = 3\n')
  (tmp_path / 'other.py').write_text('OFFSET = 4\n')
  (tmp_path / 'table.json').write_text('{"lr": 0.5}\n')
  (tmp_path / 'submission.py').write_text(
    textwrap.dedent("""
      import json, os
      from algoperf import spec
      from . import helpers
      import other
      with open(os.path.join(os.path.dirname(__file__), 'table.json')) as f:
        TABLE = json.load(f)
      """)
    + FIVE_FUNCTIONS
  )
  module = load_submission(str(tmp_path / 'submission.py')).module
  assert (module.helpers.SCALE, module.other.OFFSET, module.TABLE['lr']) == (3, 4, 0.5)
  assert str(tmp_path) not in sys.path


def test_requirements_txt_names_what_is_missing(tmp_path):
  (tmp_path / 'submission.py').write_text(FIVE_FUNCTIONS)
  (tmp_path / 'requirements.txt').write_text(
    '# comment\nnumpy\nno-such-package-xyz>=1\noptax>=99\n'
    '-e git+https://example.org/x.git@abc#egg=no_such_checkout\n'
  )
  missing = missing_requirements(str(tmp_path / 'submission.py'))
  assert missing[0] == 'no-such-package-xyz>=1'
  assert missing[1].startswith('optax>=99 (installed: ')
  assert missing[2] == 'git+https://example.org/x.git@abc#egg=no_such_checkout'
  assert len(missing) == 3


def test_get_batch_size_falls_back_to_the_base_workload_then_the_default(tmp_path):
  (tmp_path / 'submission.py').write_text(FIVE_FUNCTIONS)
  submission = load_submission(str(tmp_path / 'submission.py'))
  mnist1d = registry.get_workload('mnist1d')
  assert mnist1d.algoperf_base_workload == 'mnist'
  assert resolve_batch_size(submission, mnist1d) == (
    16,
    "get_batch_size('mnist1d') raised ValueError: used 'mnist': 16",
  )
  fastmri = registry.get_workload('fastmri1d')
  size, notice = resolve_batch_size(submission, fastmri)
  assert size == fastmri.default_batch_size
  assert 'workload default batch size' in notice and '\n' not in notice
  # A dict lookup of the name (AlgoPerf's development algorithms) falls back the same way.
  (tmp_path / 'table.py').write_text(
    FIVE_FUNCTIONS.replace(
      "  if workload_name == 'mnist':\n    return 16\n", "  return {'mnist': 24}[workload_name]\n"
    )
  )
  assert resolve_batch_size(load_submission(str(tmp_path / 'table.py')), mnist1d) == (
    24,
    "get_batch_size('mnist1d') raised KeyError: used 'mnist': 24",
  )
  (tmp_path / 'bad.py').write_text(FIVE_FUNCTIONS.replace('raise ValueError', 'raise TypeError'))
  with pytest.raises(SubmissionError, match='TypeError'):
    resolve_batch_size(load_submission(str(tmp_path / 'bad.py')), fastmri)


@pytest.mark.parametrize('name', registry.expand_workloads('cpu_qualification'))
def test_loss_fn_takes_traced_label_smoothing_under_jit(name, data_dir):
  """AlgoPerf's workload API where submissions touch it, called from inside ``jit``."""
  workload = registry.get_workload(name, data_dir)
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  assert all(isinstance(s, spec.ShapeTuple) for s in jax.tree.leaves(workload.param_shapes))
  assert jax.tree.structure(workload.model_params_types) == jax.tree.structure(params)
  assert any(workload.is_output_params(k) for k in params)
  batch = next(workload._build_input_queue(jax.random.PRNGKey(1), 'train', None, 8))

  @jax.jit
  def loss(params, batch, label_smoothing):
    logits, _ = workload.model_fn(
      params, batch, model_state, spec.ForwardPassMode.TRAIN, jax.random.PRNGKey(2), True
    )
    out = workload.loss_fn(
      label_batch=batch['targets'],
      logits_batch=logits,
      mask_batch=batch.get('weights'),
      label_smoothing=label_smoothing,
    )
    return out['summed'] / out['n_valid_examples']

  assert jnp.isfinite(loss(params, batch, 0.1))
  logits, _ = workload.model_fn(
    params, batch, model_state, spec.ForwardPassMode.EVAL, jax.random.PRNGKey(2), False
  )
  predictions = jax.jit(workload.output_activation_fn, static_argnums=1)(logits, 'jax')
  assert jax.tree.structure(predictions) == jax.tree.structure(logits)


# ----- The command line. -----
_HAS_WANDB = importlib.util.find_spec('wandb') is not None

ALGOPERF_FLAGS = [
  '--framework=jax',
  '--imagenet_v2_data_dir=/x',
  '--librispeech_tokenizer_vocab_path=/x',
  '--save_checkpoints=false',
  '--save_intermediate_checkpoints',
  '--resume_last_run=false',
  '--append_timestamp',
  '--use_wandb',
  '--profile',
  '--capture_jax_trace',
  '--max_global_steps=5',
  '--overwrite',
  '--hparam_start_index=1',
  '--hparam_end_index=3',
  '--rng_seed=7',
  '--skip_evals',
  '--torch_compile',
  '--pytorch_eval_num_workers=2',
]


def test_algoperf_flags_are_accepted(tmp_path, capsys):
  nadamw = os.path.join(REPO, 'submissions', 'nadamw')
  rc, out, err = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={nadamw}',
      '--tuning_search_space=tuning_search_space.json',
      '--num_studies=1',
      '--num_tuning_trials=5',
      '--dry_run',
      f'--experiment_dir={tmp_path}',
      '--experiment_name=x',
    ]
    + [f for f in ALGOPERF_FLAGS if f != '--use_wandb' or _HAS_WANDB],
    capsys,
  )
  assert rc == 0, err
  trials = [json.loads(line) for line in out.splitlines()]
  assert [t['trial'] for t in trials] == [2, 3]  # 0-based hparam indices 1 and 2.
  assert all(re.search(r'/x-\d{4}(-\d{2}){5}/', t['log_dir']) for t in trials)
  assert '--torch_compile: accepted, ignored' in err
  for flag in ('profile', 'skip_evals', 'save_intermediate_checkpoints'):  # They act.
    assert f'--{flag}: accepted, ignored' not in err


@pytest.mark.skipif(_HAS_WANDB, reason='wandb is installed')
def test_use_wandb_without_wandb_is_one_line_naming_the_extra(tmp_path, capsys):
  rc, _, err = _run(
    [
      '--workload=mnist1d',
      '--submission_path=nadamw_self_tuning',
      '--tuning_ruleset=self',
      '--num_studies=1',
      '--use_wandb',
      f'--experiment_dir={tmp_path}',
    ],
    capsys,
  )
  assert rc == 2 and len(err.strip().splitlines()) == 1, err
  assert 'algoperf-like[wandb]' in err


@pytest.mark.parametrize(
  'flags, ok',
  [
    (['--submission_api=pmap', '--algoperf_version=0.5'], True),
    (['--submission_api=jit', '--algoperf_version=0.6'], True),
    (['--submission_api=vmap'], False),
    (['--algoperf_version=0.4'], False),
  ],
)
def test_api_and_version_flags_parse(flags, ok, tmp_path, capsys):
  rc, _, err = _run(
    [
      '--workload=mnist1d',
      '--submission_path=nadamw_self_tuning',
      '--tuning_ruleset=self',
      '--num_studies=1',
      '--dry_run',
      f'--experiment_dir={tmp_path}',
    ]
    + flags,
    capsys,
  )
  assert (rc == 0) == ok, err


def test_framework_pytorch_is_one_line_error(tmp_path, capsys):
  rc, _, err = _run(['--framework=pytorch', '--workload=mnist1d', '--tuning_ruleset=self'], capsys)
  assert rc == 2 and len(err.strip().splitlines()) == 1 and 'JAX submissions only' in err


# ----- Logs AlgoPerf's tools read. -----
def _walk_like_algoperf(submission_directory):
  """What AlgoPerf's ``score_submissions`` + ``scoring_utils.get_experiment_df`` list:
  every entry of the submission directory is an experiment; every entry of that is a
  study directory; directories in a study are workload directories; trial folders
  match ``trial_\\d+``. Returns ``[(experiment, study, workload, trial, eval rows)]``."""
  found = []
  for experiment in os.listdir(submission_directory):
    experiment_dir = os.path.join(submission_directory, experiment)
    for study in os.listdir(experiment_dir):  # NotADirectoryError on a file.
      study_dir = os.path.join(experiment_dir, study)
      workloads = [w for w in os.listdir(study_dir) if os.path.isdir(os.path.join(study_dir, w))]
      for workload in workloads:
        for trial in os.listdir(os.path.join(study_dir, workload)):
          if not re.match(r'trial_(\d+)', trial):
            continue
          path = os.path.join(study_dir, workload, trial, 'eval_measurements.csv')
          if os.path.exists(path):
            with open(path) as f:
              found.append((experiment, study, workload, trial, list(csv.DictReader(f))))
  return found


@pytest.mark.slow
def test_algoperf_reader_walks_a_tree_written_by_run(tmp_path, data_dir, capsys):
  nadamw = os.path.join(REPO, 'submissions', 'nadamw')
  argv = [
    '--workload=mnist1d',
    f'--submission_path={nadamw}',
    '--tuning_search_space=tuning_search_space.json',
    '--num_studies=2',
    '--num_tuning_trials=1',
    '--max_global_steps=20',
    '--eval_every_steps=10',
    '--max_runtime_sec=1e9',
    f'--experiment_dir={tmp_path}',
    f'--data_dir={data_dir}',
    '--capture_jax_trace',
  ]
  rc, _, err = _run(argv, capsys)
  assert rc == 0, err[-2000:]
  assert sorted(os.listdir(tmp_path / 'nadamw')) == ['study_0', 'study_1']
  trace = tmp_path / 'nadamw' / 'study_0' / 'mnist1d_jax' / 'trial_1' / 'jax_trace'
  assert any(name.endswith('.xplane.pb') for _, _, files in os.walk(trace) for name in files)
  assert (tmp_path / 'nadamw' / 'study_0' / 'plan.json').is_file()
  found = _walk_like_algoperf(str(tmp_path))
  assert sorted((e, s, w, t) for e, s, w, t, _ in found) == [
    ('nadamw', 'study_0', 'mnist1d_jax', 'trial_1'),
    ('nadamw', 'study_1', 'mnist1d_jax', 'trial_1'),
  ]
  assert all(len(rows) == 2 and 'score' in rows[0] for *_, rows in found)
  # The baselines log loss and grad_norm through metrics_logger; AlgoPerf's score row ends it.
  with open(trace.parent / 'measurements.csv') as f:
    rows = list(csv.DictReader(f))
  assert rows[0]['global_step'] == '0' and float(rows[0]['loss']) > 0
  assert float(rows[0]['grad_norm']) > 0 and float(rows[-1]['score']) > 0
  assert any(n.startswith('events.out.tfevents') for n in os.listdir(trace.parent / 'tensorboard'))
  # A tree of an earlier version (plan.json beside the studies) is moved out of the way.
  os.replace(tmp_path / 'nadamw' / 'study_0' / 'plan.json', tmp_path / 'nadamw' / 'plan.json')
  rc, _, err = _run(argv, capsys)
  assert rc == 0 and 'same plan as before' in err, err[-2000:]
  assert sorted(os.listdir(tmp_path / 'nadamw')) == ['study_0', 'study_1']


def test_metrics_logger_writes_train_rows_only_when_flushed(tmp_path):
  from algoperf_like.trial_logs import MetricLogger

  logger = MetricLogger(str(tmp_path))
  logger.append_scalar_metrics({'loss': jnp.float32(1.5)}, 0)
  assert not (tmp_path / 'measurements.csv').exists()  # No device sync in the timed loop.
  logger.flush()
  with open(tmp_path / 'measurements.csv') as f:
    assert list(csv.DictReader(f)) == [{'global_step': '0', 'loss': '1.5'}]
  # TensorBoard's event format: TFRecords of Event protos, one scalar per number.
  import tensorflow as tf
  from tensorflow.core.util import event_pb2

  (events,) = os.listdir(tmp_path / 'tensorboard')
  records = tf.data.TFRecordDataset(str(tmp_path / 'tensorboard' / events))
  parsed = [event_pb2.Event.FromString(r.numpy()) for r in records]
  assert parsed[0].file_version == 'brain.Event:2'
  assert [(v.tag, v.simple_value) for v in parsed[1].summary.value] == [('loss', 1.5)]


def test_targets_export_in_algoperf_format(tmp_path, capsys):
  path = tmp_path / 'targets.json'
  assert cli.main(['workloads', f'--algoperf_targets={path}']) == 0
  with open(path) as f:
    exported = json.load(f)
  assert 'mnist1d' in exported['workloads']
  for entry in exported['workloads'].values():
    assert set(entry) == {'target_metric_name', 'validation_target_value', 'step_hint'}
    assert isinstance(entry['step_hint'], int)


@needs_fixtures
@pytest.mark.slow
def test_pmap_submission_resumes_from_its_checkpoint(tmp_path, data_dir):
  """Checkpoints and resume work the same for the pmap-era API: stopping at step 200 and
  resuming to 300 logs what one uninterrupted 300-step run logs."""
  import collections

  from algoperf_like.runner import RunConfig, train_once

  with open(os.path.join(V06_BASELINE, 'tuning_search_space.json')) as f:
    point = json.load(f)[0]
  hparams = collections.namedtuple('Hyperparameters', sorted(point))(**point)
  workload = registry.get_workload('mnist1d', data_dir)
  submission = load_submission(os.path.join(V06_BASELINE, 'submission.py'))

  def run(name, steps, resume=False):
    config = RunConfig(
      data_dir=data_dir,
      max_global_steps=steps,
      eval_every_steps=100,
      max_runtime_sec=1e9,
      stop_at_target=False,
      resume=resume,
    )
    return train_once(workload, submission, hparams, 5, str(tmp_path / name), config)

  whole = run('whole', 300)
  run('cut', 200)
  resumed = run('cut', 300, resume=True)
  assert [r['global_step'] for r in resumed.eval_results] == [300]

  def metrics(rows):
    return [{k: v for k, v in r.items() if k.startswith('validation/')} for r in rows]

  assert metrics(_eval_rows(tmp_path / 'cut')) == metrics(_eval_rows(tmp_path / 'whole'))
  assert len(whole.eval_results) == 3


def test_check_shows_the_detected_api(capsys):
  if not os.path.isdir(FIXTURES):
    pytest.skip('no shared/fixtures/algoperf_submissions')
  rc = cli.main(['check', f'--submission_path={V06_BASELINE}', '--nosmoke'])
  out = capsys.readouterr().out
  assert rc == 0 and 'pmap API, detected' in out


@pytest.mark.slow
def test_use_wandb_offline_logs_each_trial_without_network(tmp_path, data_dir, capsys):
  pytest.importorskip('wandb')
  rc, _, err = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={os.path.join(REPO, "submissions", "nadamw")}',
      '--tuning_search_space=tuning_search_space.json',
      '--num_studies=1',
      '--num_tuning_trials=1',
      '--max_global_steps=20',
      '--eval_every_steps=10',
      '--max_runtime_sec=1e9',
      '--use_wandb',
      f'--experiment_dir={tmp_path}',
      f'--data_dir={data_dir}',
    ],
    capsys,
  )
  assert rc == 0, err[-2000:]
  runs = tmp_path / 'nadamw' / 'study_0' / 'mnist1d_jax' / 'trial_1' / 'wandb'
  assert any(d.startswith('offline-run-') for d in os.listdir(runs))


V05_PMAP_SUBMISSION = textwrap.dedent("""
    import functools

    import jax
    import jax.numpy as jnp
    import optax
    from flax import jax_utils

    from algorithmic_efficiency import spec

    from . import lr


    def get_batch_size(workload_name):
      if workload_name != 'mnist':
        raise ValueError(f'Unsupported workload name: {workload_name}.')
      return 32


    def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
      tx = optax.sgd(lr.LEARNING_RATE, momentum=0.9)
      zeros = jax.tree_map(lambda s: jnp.zeros(s.shape_tuple), workload.param_shapes)
      return jax_utils.replicate(tx.init(zeros)), tx.update


    @functools.partial(jax.pmap, axis_name='batch', in_axes=(None, None, 0, 0, 0, 0),
                       static_broadcasted_argnums=(0, 1))
    def _step(workload, update, opt_state, params, model_state, batch):
      def loss_of(p):
        logits, _ = workload.model_fn(p, batch, model_state, spec.ForwardPassMode.TRAIN,
                                      None, update_batch_norm=True)
        out = workload.loss_fn(batch['targets'], logits, batch.get('weights'), 0.1)
        return out['summed'] / out['n_valid_examples']

      grads = jax.lax.pmean(jax.grad(loss_of)(params), axis_name='batch')
      updates, opt_state = update(grads, opt_state, params)
      return opt_state, optax.apply_updates(params, updates)


    def update_params(workload, current_param_container, current_params_types, model_state,
                      hyperparameters, batch, loss_type, optimizer_state, eval_results,
                      global_step, rng):
      opt_state, update = optimizer_state
      opt_state, params = _step(workload, update, opt_state, current_param_container,
                                model_state, batch)
      jax.tree_map(lambda x: x, params)  # v0.5-era name, called while training.
      return (opt_state, update), params, model_state


    def data_selection(workload, input_queue, optimizer_state, current_param_container,
                       model_state, hyperparameters, global_step, rng):
      return next(input_queue)
    """)


@pytest.mark.slow
def test_v05_pmap_submission_with_a_sibling_module_trains(tmp_path, data_dir):
  """A submission written for AlgoPerf v0.5 (``algorithmic_efficiency``, ``jax.tree_map``,
  pmap, a relative import) trains: the v0.5 mode and the pmap adapter are on while it runs."""
  from algoperf_like.runner import RunConfig, train_once

  folder = tmp_path / 'v05'
  folder.mkdir()
  (folder / 'lr.py').write_text('LEARNING_RATE = 0.05\n')
  (folder / 'submission.py').write_text(V05_PMAP_SUBMISSION)
  submission = load_submission(str(folder / 'submission.py'))
  assert (submission.api, submission.algoperf_version) == ('pmap', '0.5')
  workload = registry.get_workload('mnist1d', data_dir)
  config = RunConfig(
    data_dir=data_dir,
    max_global_steps=60,
    eval_every_steps=30,
    max_runtime_sec=1e9,
    stop_at_target=False,
  )
  had_tree_map = hasattr(jax, 'tree_map')
  result = train_once(workload, submission, None, 0, str(tmp_path / 'trial'), config)
  assert result.status == 'max_steps', result.error
  losses = [r['validation/loss'] for r in result.eval_results]
  assert len(losses) == 2 and losses[1] < losses[0]
  assert hasattr(jax, 'tree_map') == had_tree_map  # Restored after the run.
  with open(tmp_path / 'trial' / 'meta_data_0.json') as f:
    meta = json.load(f)
  assert (meta['submission_api'], meta['algoperf_version']) == ('pmap', '0.5')
  assert meta['global_batch_size'] == 32


# ----- What published submissions import, beyond spec. -----
def _write_tree(root, files):
  for rel, text in files.items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_absolute_imports_of_the_submissions_own_files_resolve(tmp_path):
  """AlgoPerf imports a submission by its dotted path from the repository root, so
  submissions import their own files that way (``algorithms.target_setting_algorithms.
  jax_submission_base``; a leaderboard's ``submissions.<team>.<name>.helper``)."""
  _write_tree(
    tmp_path / 'repo',
    {
      'algorithms/__init__.py': '',
      'algorithms/shared/base.py': 'import jax\nSTEP = jax.pmap(lambda x: x)\n' + FIVE_FUNCTIONS,
      'algorithms/shared/opt/submission.py': """
        from algoperf import spec
        from algorithms.shared.base import (get_batch_size, init_optimizer_state,
                                            update_params, data_selection)
        from submissions.v05.team_7.opt.helper import SCALE
        """,
      'algorithms/shared/opt/helper.py': 'SCALE = 5\n',
    },
  )
  path = tmp_path / 'repo' / 'algorithms' / 'shared' / 'opt' / 'submission.py'
  submission = load_submission(str(path))
  assert submission.module.SCALE == 5
  assert submission.update_params.__module__ == 'algorithms.shared.base'
  assert submission.api == 'pmap'  # Detected in the file that defines update_params.
  # Served only while the submission is active, and back when it is again.
  assert 'algorithms' not in sys.modules and 'submissions' not in sys.modules
  with compat.active('0.6', str(path)):
    assert sys.modules['algorithms.shared.base'].init_optimizer_state is (
      submission.init_optimizer_state
    )
  with pytest.raises(ImportError):
    import algorithms  # noqa: F401


def test_two_submissions_with_a_utils_module_each_see_their_own(tmp_path):
  for name, value in (('a', 1), ('b', 2)):
    _write_tree(
      tmp_path / name,
      {'utils.py': f'VALUE = {value}\n', 'submission.py': 'import utils\n' + FIVE_FUNCTIONS},
    )
  a = load_submission(str(tmp_path / 'a' / 'submission.py'))
  b = load_submission(str(tmp_path / 'b' / 'submission.py'))
  assert (a.module.utils.VALUE, b.module.utils.VALUE) == (1, 2)
  assert 'utils' not in sys.modules
  with compat.active('0.6', a.path):
    import utils

    assert utils.VALUE == 1  # A lazy import while it trains finds its own.


def test_algoperf_utility_modules_offer_the_names_submissions_import():
  with compat.active():
    from algoperf import checkpoint_utils, halton, jax_utils, logger_utils, profiler, pytorch_utils
    from algoperf import random_utils as ru
    from algoperf.workloads import workloads
    from algorithmic_efficiency.data_utils import cycle

    use_ddp, rank, _, n_devices = pytorch_utils.pytorch_setup()
    assert (use_ddp, rank, n_devices) == (False, 0, jax.local_device_count())
    assert workloads.get_base_workload_name('mnist1d') == 'mnist'
    assert workloads.get_base_workload_name('imagenet_resnet_gelu') == 'imagenet_resnet'
    assert ru.PRNGKey(-1).shape == (2,)  # Signed int32 seeds, as AlgoPerf draws them.
    assert len(halton.generate_search({'lr': {'min': 0.1, 'max': 1.0, 'scaling': 'log'}}, 3)) == 3
    assert list(zip(range(3), cycle([(1, 2)])))[2][1] == {'inputs': 1, 'targets': 2}
    with pytest.raises(NotImplementedError, match='runner checkpoints'):
      checkpoint_utils.save_checkpoint()
    assert callable(logger_utils.write_hparams)
    prof = profiler.Profiler()
    with prof.profile('step'):
      pass
    assert prof.report()[0]['calls'] == 1 and 'step' in prof.summary()
    # Dropout with a traced rate, as AlgoPerf's JAX models call it.
    layer = jax_utils.Dropout(rate=0.5, deterministic=False)
    x = jnp.ones((4, 8))
    out = jax.jit(lambda r: layer.apply({}, x, rate=r, rngs={'dropout': jax.random.PRNGKey(0)}))(
      0.5
    )
    assert set(jnp.unique(out).tolist()) <= {0.0, 2.0}
    # jnp.clip's a_min/a_max, which AlgoPerf v0.6's pinned JAX still took.
    assert jnp.clip(jnp.arange(4.0), a_min=1.0, a_max=2.0).tolist() == [1.0, 1.0, 2.0, 2.0]


# ----- AlgoPerf's flags that act: --profile, --save_intermediate_checkpoints, --skip_evals. -----
def _noop_run(tmp_path, data_dir, capsys, name, extra):
  folder = tmp_path / 'noop'
  folder.mkdir(exist_ok=True)
  (folder / 'submission.py').write_text(FIVE_FUNCTIONS)
  rc, _, err = _run(
    [
      '--workload=mnist1d',
      f'--submission_path={folder / "submission.py"}',
      '--tuning_ruleset=self',
      '--num_studies=1',
      '--max_global_steps=6',
      '--eval_every_steps=2',
      '--max_runtime_sec=1e9',
      f'--experiment_dir={tmp_path}',
      f'--experiment_name={name}',
      f'--data_dir={data_dir}',
    ]
    + extra,
    capsys,
  )
  assert rc == 0, err[-2000:]
  return tmp_path / name / 'study_0' / 'mnist1d_jax' / 'trial_1', err


def test_profile_and_intermediate_checkpoints_and_skip_evals_act(tmp_path, data_dir, capsys):
  trial, err = _noop_run(
    tmp_path, data_dir, capsys, 'all', ['--profile', '--save_intermediate_checkpoints']
  )
  assert [r['global_step'] for r in _eval_rows(trial)] == ['2', '4', '6']
  steps = sorted(d for d in os.listdir(trial / 'checkpoints') if d.startswith('step_'))
  assert steps == ['step_2', 'step_4', 'step_6']  # Every checkpoint kept.
  with open(trial / 'profile.json') as f:
    actions = {a['action']: a for a in json.load(f)['actions']}
  assert actions['Update parameters (host, per step)']['calls'] == 6
  assert actions['Data selection (host, per step)']['calls'] == 6
  assert actions['Evaluation (untimed)']['calls'] == 3
  assert actions['Checkpoint (untimed)']['calls'] == 3
  assert 'Profiler report' in (trial / 'profile.txt').read_text() and 'Profiler report' in err

  trial, _ = _noop_run(tmp_path, data_dir, capsys, 'skip', ['--skip_evals'])
  assert [r['global_step'] for r in _eval_rows(trial)] == ['6']  # Only the final evaluation.
  assert not (trial / 'profile.txt').exists()


@pytest.mark.parametrize(
  'keep_all, kept', [(False, ['step_3']), (True, ['step_1', 'step_2', 'step_3'])]
)
def test_intermediate_checkpoints_are_kept_only_when_asked(tmp_path, keep_all, kept):
  from algoperf_like.checkpoints import TrialCheckpointer

  checkpointer = TrialCheckpointer(str(tmp_path), keep_all=keep_all)
  for step in (1, 2, 3):
    checkpointer.save((None, {'w': jnp.full((2,), float(step))}, None), {'global_step': step})
  assert sorted(d for d in os.listdir(tmp_path / 'checkpoints') if d.startswith('step_')) == kept
  (_, params, _), record = checkpointer.restore((None, {'w': jnp.zeros((2,))}, None))
  assert record['global_step'] == 3 and float(params['w'][0]) == 3.0


def test_check_shows_the_api_generation_and_the_requirements(tmp_path, capsys):
  (tmp_path / 'submission.py').write_text(
    'import jax\nfrom algorithmic_efficiency import spec\nSTEP = jax.pmap(lambda x: x)\n'
    + FIVE_FUNCTIONS
  )
  (tmp_path / 'requirements.txt').write_text('numpy\nno-such-package-xyz>=1\n')
  cli.main(['check', f'--submission_path={tmp_path}', '--tuning_ruleset=self', '--nosmoke'])
  out, err = capsys.readouterr()
  assert 'AlgoPerf 0.5 pmap API, detected' in out, out
  assert 'requirements.txt: not installed: no-such-package-xyz>=1' in err
  (tmp_path / 'requirements.txt').write_text('numpy\n')
  cli.main(['check', f'--submission_path={tmp_path}', '--tuning_ruleset=self', '--nosmoke'])
  assert 'every listed requirement is installed' in capsys.readouterr().err
