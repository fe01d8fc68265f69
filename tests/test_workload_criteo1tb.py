"""Tests of AlgoPerf's ``criteo1tb`` workloads, their TSV pipeline and ``datasets prepare``.

Tiny fake day logs in Criteo's raw format (label, 13 integers, 26 hex ids, tab separated,
empty fields as in the real data) go through ``algoperf-like datasets prepare`` into a
data_dir; every workload, with a reduced embedding table, reads its training batch and
its evaluation splits from there. The real configurations are checked with
``jax.eval_shape`` against AlgoPerf's parameter counts, obtained by running AlgoPerf's
own JAX workloads (``init_model_fn`` under ``jax.eval_shape``) as an oracle.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import random

import jax
import numpy as np
import optax
import pytest

from algoperf_like import cli, registry, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.criteo1tb import input_pipeline, prepare
from algoperf_like.workloads.criteo1tb import workload as criteo

TRAIN_LINES, DAY_23_LINES, LINES_PER_FILE = 4, 72, 2  # day 23: 36 files of 2 lines.
BATCH = 16

# Parameter counts of AlgoPerf's JAX workloads at their real sizes (oracle run of
# algoperf/workloads/criteo1tb/criteo1tb_jax/workload.py, init_model_fn under eval_shape).
ALGOPERF_PARAM_COUNTS = {
  'criteo1tb': 539_267_457,
  'criteo1tb_test': 10_785_153,
  'criteo1tb_layernorm': 539_275_137,
  'criteo1tb_embed_init': 539_267_457,
  'criteo1tb_resnet': 538_121_473,
}
CLASSES = {
  'criteo1tb': criteo.Criteo1TbDlrmSmallWorkload,
  'criteo1tb_test': criteo.Criteo1TbDlrmSmallTestWorkload,
  'criteo1tb_layernorm': criteo.Criteo1TbDlrmSmallLayerNormWorkload,
  'criteo1tb_embed_init': criteo.Criteo1TbDlrmSmallEmbedInitWorkload,
  'criteo1tb_resnet': criteo.Criteo1TbDlrmSmallResNetWorkload,
}

# One line and what AlgoPerf's input pipeline (_parse_example_fn) makes of it: empty
# fields and -1 read as 0 or '00000000', log(x + 1), per-field hashing.
LINE = '\t'.join(
  ['1', '5', '', '-1', '0', '123456', '3', '', '', '', '', '', '', '7', '68fd1e64', '']
  + ['%08x' % (i * 2654435761 % 2**32) for i in range(24)]
)
ALGOPERF_INPUTS = [
  1.7917594909667969, 0.0, 0.0, 0.0, 11.723648071289062, 1.3862943649291992, 0.0, 0.0,
  0.0, 0.0, 0.0, 0.0, 2.079441547393799, 6734129.0, 10351.0, 4188.0, 5835.0, 16798.0,
  0.0, 155.0, 752.0, 32.0, 23535174.0, 1027662.0, 29780.0, 6.0, 465.0, 9771.0, 118.0,
  1.0, 754.0, 12.0, 20184582.0, 15919459.0, 8543057.0, 503952.0, 12892.0, 95.0, 15.0,
]  # fmt: skip


def fake_line(r: random.Random) -> str:
  fields = [str(int(r.random() < 0.3))]
  for _ in range(13):
    u = r.random()
    fields.append('' if u < 0.15 else '-1' if u < 0.2 else str(int(r.expovariate(0.05))))
  for i in range(26):
    fields.append('' if r.random() < 0.1 else '%08x' % r.getrandbits(32 if i % 3 else 8))
  return '\t'.join(fields)


def write_raw_days(raw_dir: str) -> dict:
  """The 24 day logs: gzipped, as Criteo ships them, except day 5, uncompressed."""
  os.makedirs(raw_dir, exist_ok=True)
  r = random.Random(0)
  texts = {}
  for day in range(24):
    n = DAY_23_LINES if day == 23 else TRAIN_LINES
    texts[day] = ''.join(fake_line(r) + '\n' for _ in range(n))
    if day == 5:
      with open(os.path.join(raw_dir, 'day_5'), 'w') as f:
        f.write(texts[day])
    else:
      with gzip.open(os.path.join(raw_dir, f'day_{day}.gz'), 'wt') as f:
        f.write(texts[day])
  return texts


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
  """(data_dir, raw texts, summary printed) after `algoperf-like datasets prepare`."""
  base = tmp_path_factory.mktemp('criteo')
  texts = write_raw_days(str(base / 'raw'))
  data_dir = str(base / 'data')
  saved = prepare.LINES_PER_FILE
  prepare.LINES_PER_FILE = LINES_PER_FILE
  try:
    rc = cli.main(
      ['datasets', 'prepare', '--dataset=criteo1tb', f'--data_dir={data_dir}']
      + [f'--raw_dir={base / "raw"}']
    )
  finally:
    prepare.LINES_PER_FILE = saved
  assert rc == 0
  return data_dir, texts, str(base / 'raw')


def test_prepare_writes_algoperf_layout(prepared, capsys):
  data_dir, texts, raw_dir = prepared
  root = os.path.join(data_dir, 'criteo1tb')
  assert input_pipeline.dataset_root(data_dir) == root
  names = sorted(n for n in os.listdir(root) if not n.startswith('.'))
  expected = [f'day_{d}_{p:02d}' for d in range(23) for p in range(2)]
  expected += [f'day_23_{p:02d}' for p in range(36)]
  assert names == sorted(expected)
  for day in (0, 5, 23):  # The parts, in order, are the day's lines.
    parts = sorted(n for n in names if n.startswith(f'day_{day}_'))
    joined = ''.join(open(os.path.join(root, n)).read() for n in parts)
    assert joined == texts[day]
  assert [len(open(os.path.join(root, f'day_23_{p:02d}')).readlines()) for p in range(36)] == [
    2
  ] * 36
  # Prepared days are kept (no rewrite) unless --overwrite.
  stamp = os.path.getmtime(os.path.join(root, 'day_0_00'))
  assert (
    cli.main(
      ['datasets', 'prepare', '--dataset=criteo1tb', f'--data_dir={data_dir}', '--raw_dir=/nope']
    )
    == 0
  )
  assert os.path.getmtime(os.path.join(root, 'day_0_00')) == stamp
  assert 'test day_23_00 .. day_23_18, validation day_23_19 .. day_23_35' in capsys.readouterr().out


def test_prepare_names_each_missing_raw_file(tmp_path, capsys):
  raw = tmp_path / 'raw'
  raw.mkdir()
  for day in range(24):
    if day not in (3, 17):
      (raw / f'day_{day}.gz').write_bytes(gzip.compress(b'0\t1\n'))
  rc = cli.main(
    ['datasets', 'prepare', '--dataset=criteo1tb', f'--data_dir={tmp_path / "d"}']
    + [f'--raw_dir={raw}']
  )
  err = capsys.readouterr().err.strip()
  assert rc == 2 and len(err.splitlines()) == 1
  assert 'missing day_3.gz, day_17.gz' in err and str(raw) in err


def test_split_day_cuts_at_line_boundaries(tmp_path):
  import io

  data = b''.join(b'%d\tx\n' % i for i in range(11)) + b'last-without-newline'
  parts, lines = prepare.split_day(io.BytesIO(data), str(tmp_path), 4, lines_per_file=3)
  assert (parts, lines) == (4, 12)
  got = [open(tmp_path / f'day_4_{p:02d}', 'rb').read() for p in range(4)]
  assert b''.join(got) == data and [g.count(b'\n') for g in got] == [3, 3, 3, 2]


def test_parsing_matches_algoperf():
  import tensorflow as tf

  parsed = input_pipeline.parse_lines(tf.constant([LINE, LINE]))
  assert parsed['inputs'].dtype == tf.float32 and parsed['inputs'].shape == (2, 39)
  np.testing.assert_allclose(parsed['inputs'].numpy()[0], ALGOPERF_INPUTS, rtol=1e-6)
  np.testing.assert_array_equal(parsed['inputs'].numpy()[0, 13:], ALGOPERF_INPUTS[13:])
  assert parsed['targets'].numpy().tolist() == [1.0, 1.0]


def test_splits_and_stream(prepared):
  data_dir, _, _ = prepared
  files = input_pipeline.split_files(data_dir, 'validation')
  assert [os.path.basename(f) for f in files] == [f'day_23_{p}' for p in range(19, 36)]
  assert len(input_pipeline.split_files(data_dir, 'test')) == 19
  assert len(input_pipeline.split_files(data_dir, 'train')) == 46
  train = input_pipeline.split_files(data_dir, 'train')
  stream = input_pipeline.TrainStream(train, BATCH, seed=3)
  batches = [next(stream) for _ in range(8)]  # 92 lines: 5 batches a pass, then repeats.
  assert {k: (v.shape, v.dtype.name) for k, v in batches[0].items()} == {
    'inputs': ((BATCH, 39), 'float32'),
    'targets': ((BATCH,), 'float32'),
    'weights': ((BATCH,), 'float32'),
  }
  again = input_pipeline.TrainStream(train, BATCH, seed=3)
  np.testing.assert_array_equal(next(again)['inputs'], batches[0]['inputs'])
  other = next(input_pipeline.TrainStream(train, BATCH, seed=4))
  assert not np.array_equal(other['inputs'], batches[0]['inputs'])
  # Resume: a new stream set to the state after 6 batches continues the same stream.
  resumed = input_pipeline.TrainStream(train, BATCH, seed=3)
  resumed.set_state(stream.get_state() | {'batches_produced': 6})
  np.testing.assert_array_equal(next(resumed)['inputs'], batches[6]['inputs'])
  assert resumed.get_state() == {'batches_produced': 7}
  # Evaluation: the split once, the last batch padded and masked.
  val = list(input_pipeline.eval_batches(files, BATCH, 10**9))
  assert [int(b['weights'].sum()) for b in val] == [16, 16, 2]
  assert not val[-1]['inputs'][2:].any() and not val[-1]['targets'][2:].any()


def test_missing_data_names_the_command(tmp_path):
  w = criteo.Criteo1TbDlrmSmallWorkload(str(tmp_path))
  with pytest.raises(full_scale.DatasetMissingError, match='datasets prepare --dataset=criteo1tb'):
    w._build_input_queue(jax.random.PRNGKey(0), 'validation', None, BATCH)
  with pytest.raises(full_scale.DatasetMissingError):
    criteo.Criteo1TbDlrmSmallWorkload()._build_input_queue(
      jax.random.PRNGKey(0), 'train', None, BATCH
    )


def test_registered():
  for name, cls in CLASSES.items():
    assert registry.FULL_SCALE[name].endswith(f':{cls.__name__}')
    assert cls.name == name and cls.algoperf_base_workload == 'criteo1tb'
    assert cls.dataset == 'criteo1tb' and cls.default_batch_size == 262_144
  assert registry.dataset_workloads('criteo1tb') == sorted(CLASSES)


@pytest.mark.parametrize('name', sorted(CLASSES))
def test_real_config_param_count(name):
  w = CLASSES[name]()
  shapes = jax.eval_shape(lambda k: w.init_model_fn(k)[0], jax.random.PRNGKey(0))
  assert (
    sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes)) == (ALGOPERF_PARAM_COUNTS[name])
  )
  assert shapes['embedding_table'].shape == (w.vocab_size, 128)
  assert sorted(k for k in shapes if k.startswith('Dense_')) == [f'Dense_{i}' for i in range(8)]
  assert ('LayerNorm_7' in shapes) == (name == 'criteo1tb_layernorm')
  assert w.param_shapes['Dense_7']['kernel'] == spec.ShapeTuple((256, 1))
  assert w.model_params_types['embedding_table'] == spec.ParameterType.EMBEDDING
  assert w.is_output_params('Dense_7') and not w.is_output_params('Dense_6')
  batch = w.synthetic_batch(4)
  assert batch['inputs'].shape == (4, 39) and batch['targets'].shape == (4,)


@pytest.mark.parametrize('name', sorted(CLASSES))
def test_trains_and_evaluates(prepared, name):
  data_dir, _, _ = prepared

  class Small(CLASSES[name]):
    vocab_size = 512

  w = Small(data_dir)
  w.constants = dataclasses.replace(
    w.constants, num_eval_train_examples=32, num_validation_examples=34, num_test_examples=38
  )
  params, state = w.init_model_fn(jax.random.PRNGKey(0))
  batch = next(w._build_input_queue(jax.random.PRNGKey(1), 'train', None, BATCH))
  opt = optax.adam(3e-3)
  opt_state = opt.init(params)

  @jax.jit
  def step(params, opt_state, rng):
    def loss(p):
      logits, _ = w.model_fn(p, batch, state, spec.ForwardPassMode.TRAIN, rng, True, None, 0.1)
      out = w.loss_fn(batch['targets'], logits, batch['weights'], 0.1)
      return out['summed'] / out['n_valid_examples']

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  losses = []
  for i in range(6):
    params, opt_state, value = step(params, opt_state, jax.random.PRNGKey(i))
    losses.append(float(value))
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
  results = w.eval_model(BATCH, params, state, jax.random.PRNGKey(2), None, None, 6)
  assert set(results) == {
    'train/loss',
    'validation/loss',
    'validation/num_examples',
    'test/loss',
    'test/num_examples',
  }
  assert results['validation/num_examples'] == 34 and results['test/num_examples'] == 38
  assert all(np.isfinite(v) and v > 0 for v in results.values())


def test_prepare_reads_all_days_zip(prepared, tmp_path, monkeypatch):
  """The days inside Criteo's all_days.zip give the same files as the loose days."""
  import zipfile

  data_dir, texts, _ = prepared
  raw = tmp_path / 'raw'
  raw.mkdir()
  with zipfile.ZipFile(raw / 'all_days.zip', 'w') as archive:
    for day, text in texts.items():
      archive.writestr(f'all_days/day_{day}.gz', gzip.compress(text.encode()))
  monkeypatch.setattr(prepare, 'LINES_PER_FILE', LINES_PER_FILE)
  summary = prepare.prepare(str(tmp_path / 'data'), str(raw), overwrite=False)
  assert summary.startswith('criteo1tb: 164 lines of days 0-23 in 82 files')
  ours, theirs = tmp_path / 'data' / 'criteo1tb', os.path.join(data_dir, 'criteo1tb')
  for name in os.listdir(theirs):
    assert (ours / name).read_bytes() == open(os.path.join(theirs, name), 'rb').read()
