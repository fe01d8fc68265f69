"""Tests of AlgoPerf's ``ogbg`` workloads: data, pipeline, model, loss, metric, training.

The data are a tiny ``ogbg_molpcba:0.1.3`` built by TFDS's own builder from fake OGB raw files
(the CSVs of ``pcba.zip``) written here: ``tfds.testing.mock_data`` draws every feature
independently (``num_nodes`` of random length, edge indices far beyond the node count,
labels in [0, 1) without NaN), which are no graphs. The download is replaced by the folder of
fake files, so ``datasets prepare --dataset=ogbg`` runs end to end with no network.
"""

import dataclasses
import gzip
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_like import datasets, registry, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.ogbg import input_pipeline, metrics

NAMES = ('ogbg', 'ogbg_gelu', 'ogbg_silu', 'ogbg_model_size')
SPLITS = {'train': 48, 'valid': 24, 'test': 24}  # Graphs per split of the fake dataset.
BATCH = 8  # Graphs per batch in the tests.
# AlgoPerf's own counts (its JAX ogbg models initialised by /work/oracle/ogbg/counts.py).
ALGOPERF_NUM_PARAMS = {
  'ogbg': 3_554_176,
  'ogbg_gelu': 3_554_176,
  'ogbg_silu': 3_554_176,
  'ogbg_model_size': 2_571_648,
}
ALGOPERF_NUM_LEAVES = {'ogbg': 66, 'ogbg_gelu': 66, 'ogbg_silu': 66, 'ogbg_model_size': 78}


# ----- A tiny OGB-molpcba in TFDS's format, through the real TFDS builder. -----
def _write_csv(path, rows):
  with gzip.open(path, 'wt') as f:
    for row in rows:
      f.write(','.join('' if v != v else str(v) for v in np.atleast_1d(row)) + '\n')


def write_fake_raw(root, seed=0):
  """The files of OGB's ``pcba.zip`` (``pcba/raw``, ``pcba/split/scaffold``) for a few graphs.

  Molecules of 5-12 atoms: a chain plus up to three extra bonds (local node indices), integer
  atom and bond features, 128 labels of which about 40% are unmeasured (empty in the CSV).
  """
  rng = np.random.default_rng(seed)
  raw = os.path.join(root, 'pcba', 'raw')
  scaffold = os.path.join(root, 'pcba', 'split', 'scaffold')
  os.makedirs(raw)
  os.makedirs(scaffold)
  num_graphs = sum(SPLITS.values())
  edges, num_nodes, num_edges, node_feat, edge_feat, labels = [], [], [], [], [], []
  for _ in range(num_graphs):
    n = int(rng.integers(5, 13))
    bonds = [(i, i + 1) for i in range(n - 1)]
    for _ in range(int(rng.integers(0, 4))):
      a, b = rng.choice(n, 2, replace=False)
      bonds.append((int(a), int(b)))
    feats = rng.integers(0, 6, (n, 9))
    edges += bonds
    num_nodes.append(n)
    num_edges.append(len(bonds))
    node_feat += list(feats)
    edge_feat += list(rng.integers(0, 4, (len(bonds), 3)))
    # Learnable labels: thresholds of the mean first atom feature, shifted per label.
    y = (feats[:, 0].mean() + (np.arange(128) % 7) / 7 > 2.8).astype(np.float64)
    y[rng.random(128) < 0.4] = np.nan
    labels.append(y)
  for name, rows in [
    ('edge.csv.gz', edges),
    ('num-node-list.csv.gz', num_nodes),
    ('num-edge-list.csv.gz', num_edges),
    ('node-feat.csv.gz', node_feat),
    ('edge-feat.csv.gz', edge_feat),
    ('graph-label.csv.gz', labels),
  ]:
    _write_csv(os.path.join(raw, name), rows)
  start = 0
  for split, size in SPLITS.items():
    _write_csv(os.path.join(scaffold, f'{split}.csv.gz'), range(start, start + size))
    start += size
  return root


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """A data_dir prepared by ``datasets prepare --dataset=ogbg`` from the fake raw files."""
  import tensorflow_datasets as tfds
  from etils import epath

  raw = write_fake_raw(str(tmp_path_factory.mktemp('ogbg_raw')))
  path = str(tmp_path_factory.mktemp('ogbg_data'))
  with pytest.MonkeyPatch.context() as mp:
    urls = []

    def download_and_extract(self, url):
      urls.append(url)
      return epath.Path(raw)

    mp.setattr(tfds.download.DownloadManager, 'download_and_extract', download_and_extract)
    summary = datasets.prepare('ogbg', path)
  assert urls == ['https://snap.stanford.edu/ogb/data/graphproppred/csv_mol_download/pcba.zip']
  assert summary.startswith('ogbg_molpcba:0.1.3 prepared in ')
  assert 'train 48' in summary and 'validation 24' in summary and 'test 24' in summary
  return path


def test_prepare_reports_a_prepared_dataset_without_downloading(data_dir, monkeypatch):
  import tensorflow_datasets as tfds

  def no_download(self, url):
    raise AssertionError(f'downloaded {url}')

  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract', no_download)
  summary = datasets.prepare('ogbg', data_dir)
  assert summary.startswith('ogbg_molpcba:0.1.3 already prepared in ') and '\n' not in summary


def test_missing_dataset_is_one_line_naming_the_command(tmp_path):
  workload = registry.get_workload('ogbg', str(tmp_path))
  with pytest.raises(full_scale.DatasetMissingError) as error:
    workload._build_input_queue(jax.random.PRNGKey(0), 'train', str(tmp_path), BATCH)
  message = str(error.value)
  assert '\n' not in message and 'ogbg_molpcba:0.1.3' in message
  assert f'algoperf-like datasets prepare --dataset=ogbg --data_dir={tmp_path}' in message
  with pytest.raises(full_scale.DatasetMissingError, match='pass --data_dir'):
    registry.get_workload('ogbg')._build_input_queue(jax.random.PRNGKey(0), 'train', None, 8)


def test_prepared_examples_are_graphs(data_dir):
  import tensorflow_datasets as tfds

  examples = list(tfds.as_numpy(input_pipeline.examples(data_dir, 'validation')))
  assert len(examples) == SPLITS['valid']
  for ex in examples:
    n = int(ex['num_nodes'][0])
    assert ex['node_feat'].shape == (n, 9) and ex['edge_feat'].shape == (len(ex['edge_index']), 3)
    assert 0 <= ex['edge_index'].min() and ex['edge_index'].max() < n
    assert ex['labels'].shape == (128,) and np.isnan(ex['labels']).any()
    graph = input_pipeline.to_graph(ex)
    assert int(graph.n_edge[0]) == 2 * len(ex['edge_index'])  # Both directions of every bond.
    assert set(zip(graph.senders, graph.receivers)) == set(zip(graph.receivers, graph.senders))


# ----- Batches: padding, weights, sharding layout, determinism, checkpointed position. -----
def _leaves_equal(a, b):
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_batches_are_padded_weighted_and_split_per_device(data_dir):
  stream = input_pipeline.batches(data_dir, 'validation', BATCH, num_shards=2)
  per = BATCH // 2
  batch = next(stream)
  graph = batch['inputs']
  num_graphs, num_nodes, num_edges = 2 * (per + 1), 2 * (26 * per + 1), 2 * 56 * per
  assert graph.n_node.shape == (num_graphs,) and graph.nodes.shape == (num_nodes, 9)
  assert graph.edges.shape == (num_edges, 3) and graph.senders.shape == (num_edges,)
  assert graph.globals == {}
  assert batch['targets'].shape == batch['weights'].shape == (num_graphs, 128)
  # Each device's half of every array is one padded sub-batch: its edges stay inside it.
  for shard in range(2):
    nodes = slice(shard * (26 * per + 1), (shard + 1) * (26 * per + 1))
    edges = slice(shard * 56 * per, (shard + 1) * 56 * per)
    graphs = slice(shard * (per + 1), (shard + 1) * (per + 1))
    assert graph.n_node[graphs].sum() == 26 * per + 1 and graph.n_edge[graphs].sum() == 56 * per
    for index in (graph.senders[edges], graph.receivers[edges]):
      assert (index >= nodes.start).all() and (index < nodes.stop).all()
    # The last graph of each sub-batch is padding: no weight.
    assert (batch['weights'][graphs][-1] == 0).all()
  real = batch['weights'].any(axis=1)
  assert real.sum() == BATCH  # These small graphs always fill the graph budget.
  # Unmeasured labels: target 0, weight 0; measured ones keep their 0/1 value.
  examples = [input_pipeline.to_graph(e) for e in _validation_examples(data_dir)[:per]]
  first = np.stack([g.globals[0] for g in examples])
  np.testing.assert_array_equal(batch['weights'][:per], (~np.isnan(first)).astype(np.float32))
  np.testing.assert_array_equal(batch['targets'][:per], np.nan_to_num(first))
  # Validation: 24 graphs in 4-graph sub-batches, pairs of them: 3 batches, then the end.
  assert len(list(stream)) == 2


def _validation_examples(data_dir):
  import tensorflow_datasets as tfds

  return list(tfds.as_numpy(input_pipeline.examples(data_dir, 'validation')))


def test_training_stream_is_deterministic_and_resumes_from_its_state(data_dir):
  rng = jax.random.PRNGKey(3)
  make = lambda: input_pipeline.batches(data_dir, 'train', BATCH, rng, num_shards=1)  # noqa: E731
  stream = make()
  run = [next(stream) for _ in range(9)]  # More than an epoch (48 graphs): it repeats.
  again = make()
  assert all(_leaves_equal(batch, next(again)) for batch in run)
  other = next(input_pipeline.batches(data_dir, 'train', BATCH, jax.random.PRNGKey(4), 1))
  assert not _leaves_equal(run[0], other)
  stream = make()
  for _ in range(5):
    next(stream)
  state = stream.get_state()
  assert state == {'batches_produced': 5, 'graphs_consumed': 5 * BATCH}
  resumed = make()
  resumed.set_state(state)
  assert all(_leaves_equal(next(resumed), run[i]) for i in range(5, 9))


# ----- Loss and metric. -----
def test_loss_is_algoperfs_masked_and_smoothed_cross_entropy():
  logits = jnp.array([[2.0, -1.0, 0.5], [-3.0, 0.0, 4.0]])
  labels = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
  mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])

  def expected(alpha, m):
    y = np.where(m, labels, -1.0) * (1 - alpha) + alpha / 3
    p = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
    return np.where(m, -(y * np.log(p) + (1 - y) * np.log(1 - p)), 0.0)

  loss = jax.jit(metrics.masked_sigmoid_cross_entropy)(labels, logits, mask, 0.2)  # Traced.
  np.testing.assert_allclose(loss['per_example'], expected(0.2, mask), rtol=1e-5, atol=1e-6)
  assert float(loss['n_valid_examples']) == 4.0
  assert float(loss['summed']) == pytest.approx(expected(0.2, mask).sum(), rel=1e-5)
  plain = metrics.masked_sigmoid_cross_entropy(labels, logits)  # No mask: every label counts.
  np.testing.assert_allclose(plain['per_example'], expected(0.0, np.ones((2, 3))), rtol=1e-5)
  assert plain['n_valid_examples'] == 2  # AlgoPerf's count without a mask: the graphs.
  with pytest.raises(ValueError, match='equal'):
    metrics.masked_sigmoid_cross_entropy(labels, logits, mask[:, :2])


def test_mean_average_precision_follows_algoperfs_rules():
  labels = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
  logits = np.array([[3, 1, 2, 0], [2, 0, -1, 0], [1, 2, 5, 0], [0, 3, 0, 9]], np.float32)
  mask = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 0, 1, 1]], np.float32)
  # Label 0: positives ranked 1st and 3rd of 4 -> (1 + 2/3) / 2. Label 1: the one positive
  # ranked 3rd of the 3 weighted rows -> 1/3. Label 2: positives 2nd and 4th -> (1/2 + 2/4) / 2.
  # Label 3: one positive, ranked first -> 1.
  ap = [(1 + 2 / 3) / 2, 1 / 3, 1 / 2, 1.0]
  expected = np.mean(ap)
  assert metrics.mean_average_precision(labels, logits, mask) == pytest.approx(expected)
  # A column without positives does not count; one whose weighted rows hold no positive
  # scores 0 (a positive outside the weights still makes it count).
  labels[:, 3] = 0
  assert metrics.mean_average_precision(labels, logits, mask) == pytest.approx(np.mean(ap[:3]))
  labels[:, 1], mask[:, 1] = [0, 0, 0, 1], [1, 1, 1, 0]
  got = metrics.mean_average_precision(labels, logits, mask)
  assert got == pytest.approx(np.mean([ap[0], 0.0, ap[2]]))
  assert np.isnan(
    metrics.mean_average_precision(np.zeros((3, 2)), np.zeros((3, 2)), np.ones((3, 2)))
  )


# ----- Real configurations: AlgoPerf's parameter trees, without allocating them. -----
@pytest.mark.parametrize('name', NAMES)
def test_real_configuration_has_algoperfs_parameter_tree(name):
  workload = registry.get_workload(name)
  params, state = jax.eval_shape(workload.init_model_fn, jax.random.PRNGKey(0))
  assert state is None
  leaves = jax.tree.leaves(params)
  assert sum(int(np.prod(x.shape)) for x in leaves) == ALGOPERF_NUM_PARAMS[name]
  assert len(leaves) == ALGOPERF_NUM_LEAVES[name]
  assert params['node_embedding']['kernel'].shape == (9, workload.latent_dim)
  assert params['edge_embedding']['kernel'].shape == (3, workload.latent_dim)
  last = 'Dense_18' if name == 'ogbg_model_size' else 'Dense_15'  # The decoder.
  assert params[last]['kernel'].shape == (256, 128)
  assert params['Dense_0']['kernel'].shape == (workload.latent_dim * 3 + 128, 256)
  assert workload.model_params_types['LayerNorm_0']['scale'] == spec.ParameterType.LAYER_NORM_SCALE
  assert workload.model_params_types['Dense_0']['kernel'] == spec.ParameterType.WEIGHT
  assert workload.model_params_types['Dense_0']['bias'] == spec.ParameterType.BIAS
  embedding = workload.model_params_types['node_embedding']
  assert embedding == {'kernel': spec.ParameterType.EMBEDDING, 'bias': spec.ParameterType.BIAS}
  assert workload.is_output_params('Dense_17') and not workload.is_output_params(last)
  assert workload.default_batch_size == 512 and workload.eval_batch_size == 32768
  assert workload.target_metric_name == 'mean_average_precision'


# ----- Training and evaluation, reduced widths, every workload. -----
def small(name):
  """The workload ``name`` with narrow layers and one message-passing step (fast to compile)."""
  base = type(registry.get_workload(name))
  hidden = (32, 32) if len(base.hidden_dims) == 2 else (32,)
  attrs = dict(latent_dim=16, hidden_dims=hidden, num_message_passing_steps=1)
  return type(f'Small{base.__name__}', (base,), attrs)


@pytest.mark.parametrize('name', NAMES)
def test_trains_on_a_fixed_batch_and_evaluates(name, data_dir):
  workload = small(name)(data_dir)
  workload.constants = dataclasses.replace(
    workload.constants,
    num_eval_train_examples=16,
    num_validation_examples=24,
    num_test_examples=24,
  )
  params, state = workload.init_model_fn(jax.random.PRNGKey(0))
  queue = workload._build_input_queue(jax.random.PRNGKey(1), 'train', data_dir, BATCH)
  batch = next(queue)
  assert queue.get_state()['batches_produced'] == 1
  optimizer = optax.adam(3e-3)
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, rng):
    def loss(p):
      logits, _ = workload.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, rng, True)
      out = workload.loss_fn(batch['targets'], logits, batch['weights'], 0.1)
      return out['summed'] / out['n_valid_examples']

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, value

  losses = []
  for i in range(8):
    params, opt_state, value = step(params, opt_state, jax.random.PRNGKey(10 + i))
    losses.append(float(value))
  assert all(np.isfinite(losses)) and losses[-1] < losses[0]
  results = workload.eval_model(BATCH, params, state, jax.random.PRNGKey(2), data_dir, None, 0)
  expected = {
    f'{split}/{metric}'
    for split in ('train', 'validation', 'test')
    for metric in ('accuracy', 'loss', 'mean_average_precision')
  } | {'validation/num_examples', 'test/num_examples'}
  assert set(results) == expected
  assert all(np.isfinite(v) for v in results.values())
  assert 0 < results['validation/mean_average_precision'] <= 1
  assert 0 <= results['validation/accuracy'] <= 1


def test_synthetic_batch_has_the_real_shapes():
  batch = registry.get_workload('ogbg').synthetic_batch(512)
  graph = batch['inputs']
  n = jax.local_device_count()
  per = 512 // n
  assert graph.nodes.shape == (n * (26 * per + 1), 9) and graph.edges.shape == (n * 56 * per, 3)
  assert batch['targets'].shape == batch['weights'].shape == (n * (per + 1), 128)
  assert 0 < batch['weights'].mean() < 1
