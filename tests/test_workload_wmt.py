"""AlgoPerf's WMT workloads: tiny TFDS WMT14/17 on disk, a tiny SentencePiece model, tiny models.

The data are written by TFDS itself (the real builders, with their splits generated from a
few hand-made sentence pairs), so the input pipeline reads the on-disk format that
``datasets prepare --dataset=wmt`` leaves; ``prepare`` then trains the vocabulary that is
missing. The real configurations are checked with ``jax.eval_shape`` against the parameter
counts of AlgoPerf's own JAX models (run outside the project as an oracle).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_like import registry, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.wmt import decode, input_pipeline, prepare
from algoperf_like.workloads.wmt import workload as wmt

VOCAB = 48
DE = 'der die das haus katze hund baum auto stadt fluss berg klein gross alt neu rot blau'.split()
EN = 'the the the house cat dog tree car city river mountain small big old new red blue'.split()

# AlgoPerf's JAX models under jax.eval_shape (oracle run outside the project).
ALGOPERF_PARAM_COUNTS = {
  'wmt': 133_521_408,
  'wmt_post_ln': 133_517_312,
  'wmt_attention_temp': 133_521_408,
  'wmt_glu_tanh': 146_116_608,
}
CLASSES = {
  'wmt': wmt.WmtWorkload,
  'wmt_post_ln': wmt.WmtWorkloadPostLN,
  'wmt_attention_temp': wmt.WmtWorkloadAttentionTemp,
  'wmt_glu_tanh': wmt.WmtWorkloadGLUTanH,
}


def _pairs(split: str, n: int):
  rng = np.random.default_rng({'train': 0, 'validation': 1, 'test': 2}[split])
  for i in range(n):
    words = rng.integers(0, len(DE), rng.integers(2, 7))
    yield i, {'de': ' '.join(DE[w] for w in words), 'en': ' '.join(EN[w] for w in words)}


def _write_tfds(data_dir: str) -> None:
  import tensorflow_datasets as tfds
  from tensorflow_datasets.translate import wmt14, wmt17

  tfds.display_progress_bar(False)
  sizes = {'train': 80, 'validation': 5, 'test': 7}
  for base in (wmt14.Wmt14Translate, wmt17.Wmt17Translate):

    class Tiny(base, skip_registration=True):
      name = base.name

      def _split_generators(self, dl_manager):
        return {s: _pairs(s, n) for s, n in sizes.items()}

    Tiny(config='de-en', data_dir=data_dir).download_and_prepare()


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('wmt'))
  _write_tfds(path)
  with pytest.MonkeyPatch.context() as mp:  # A vocabulary the tiny corpus can fill.
    mp.setattr(prepare, 'VOCAB_SIZE', VOCAB)
    summary = prepare.prepare(path, raw_dir=path + '/raw', overwrite=False)
  assert 'already prepared' in summary and 'trained' in summary
  return path


def _tiny(cls):
  sizes = dict(vocab_size=VOCAB, emb_dim=32, num_heads=2, num_layers=1, qkv_dim=32, mlp_dim=32)
  Tiny = type(f'Tiny{cls.__name__}', (cls,), dict(sizes, max_predict_length=8))

  def __init__(self, data_dir=None):
    cls.__init__(self, data_dir)
    self.constants = dataclasses.replace(
      self.constants, num_eval_train_examples=6, num_validation_examples=5, num_test_examples=7
    )

  Tiny.__init__ = __init__
  return Tiny


def test_prepare_trains_missing_vocab_and_registry(data_dir):
  tokenizer = input_pipeline.load_tokenizer(data_dir)
  assert tokenizer.get_piece_size() == VOCAB and tokenizer.eos_id() == decode.EOS_ID
  ids = tokenizer.encode('der hund', add_eos=True)
  assert ids[-1] == decode.EOS_ID and tokenizer.decode(ids) == 'der hund'
  summary = prepare.prepare(data_dir, raw_dir=data_dir, overwrite=False)
  assert 'kept' in summary  # Present now: not trained again.
  assert registry.DATASETS['wmt'].endswith('wmt.prepare:prepare')
  assert registry.dataset_workloads('wmt') == sorted(CLASSES)
  for name, cls in CLASSES.items():
    assert registry.FULL_SCALE[name].endswith(cls.__name__) and cls.name == name


def test_missing_data_and_vocab_are_one_line_errors(tmp_path, data_dir):
  wl = _tiny(wmt.WmtWorkload)()
  with pytest.raises(full_scale.DatasetMissingError, match='datasets prepare --dataset=wmt') as e:
    wl._build_input_queue(jax.random.PRNGKey(0), 'train', str(tmp_path), 4)
  assert '\n' not in str(e.value)
  import shutil

  no_vocab = tmp_path / 'no_vocab'
  shutil.copytree(data_dir, no_vocab, ignore=shutil.ignore_patterns(input_pipeline.VOCAB_FILE))
  with pytest.raises(full_scale.DatasetMissingError, match='SentencePiece model'):
    wl._build_input_queue(jax.random.PRNGKey(0), 'validation', str(no_vocab), 4)


def test_pack_chunk_layout():
  pairs = [
    {'inputs': np.array([5, 6, 2]), 'targets': np.array([7, 2])},
    {'inputs': np.array([8, 2]), 'targets': np.array([9, 9, 9, 2])},
    {'inputs': np.array([4, 4, 4, 2]), 'targets': np.array([3, 2])},
  ]
  out = input_pipeline.pack_chunk(pairs, length=6)
  np.testing.assert_array_equal(out['inputs'], [[5, 6, 2, 8, 2, 0], [4, 4, 4, 2, 0, 0]])
  np.testing.assert_array_equal(out['inputs_position'], [[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 0, 0]])
  np.testing.assert_array_equal(
    out['inputs_segmentation'], [[1, 1, 1, 2, 2, 0], [1, 1, 1, 1, 0, 0]]
  )
  np.testing.assert_array_equal(out['targets'], [[7, 2, 9, 9, 9, 2], [3, 2, 0, 0, 0, 0]])
  np.testing.assert_array_equal(
    out['targets_segmentation'], [[1, 1, 2, 2, 2, 2], [1, 1, 0, 0, 0, 0]]
  )


def test_train_stream_keys_determinism_and_resume(data_dir):
  wl = _tiny(wmt.WmtWorkload)()
  rng, other_rng = jax.random.split(jax.random.PRNGKey(3))  # AlgoPerf seeds by data_rng[0].
  stream = wl._build_input_queue(rng, 'train', data_dir, 8)
  first = [next(stream) for _ in range(3)]
  keys = {'inputs', 'targets', 'weights'}
  keys |= {f'{k}_{s}' for k in ('inputs', 'targets') for s in ('position', 'segmentation')}
  assert set(first[0]) == keys
  for key in keys:
    assert first[0][key].shape == (8, input_pipeline.MAX_LENGTH)
  b = first[0]
  np.testing.assert_array_equal(b['weights'], b['targets'] > 0)
  assert (b['targets'] == decode.EOS_ID).sum() == (b['targets_position'] == 0).sum() - (
    b['targets'] == 0
  ).sum()  # Every packed sentence ends with EOS.
  state = stream.get_state()
  assert state['chunks_done'] >= 1  # The restore below skips packed chunks in tf.data.
  after = [next(stream) for _ in range(2)]
  again = wl._build_input_queue(rng, 'train', data_dir, 8)
  np.testing.assert_array_equal(next(again)['inputs'], first[0]['inputs'])
  again.set_state(state)
  for expected in after:
    got = next(again)
    for key in keys:
      np.testing.assert_array_equal(got[key], expected[key])
  other = next(wl._build_input_queue(other_rng, 'train', data_dir, 8))
  assert not np.array_equal(other['inputs'], first[0]['inputs'])


def test_eval_stream_is_padded_and_masked(data_dir):
  wl = _tiny(wmt.WmtWorkload)()
  batches = wl._build_input_queue(jax.random.PRNGKey(0), 'test', data_dir, 4, num_batches=2)
  got = list(batches)
  assert len(got) == 2 and got[1]['inputs'].shape == (4, input_pipeline.MAX_LENGTH)
  assert got[1]['weights'][:, 0].tolist() == [1, 1, 1, 0]  # 7 test examples.
  assert not got[1]['targets'][3].any()


def test_beam_search_finds_the_likely_sentence():
  # A fixed next-token table: after token t the model prefers t + 1, and EOS after 5.
  vocab = 8
  table = np.full((vocab, vocab), -5.0, np.float32)
  for t in range(vocab - 1):
    table[t, t + 1] = 3.0
  table[5, :] = -5.0
  table[5, decode.EOS_ID] = 3.0
  table[0, :] = -5.0
  table[0, 3] = 3.0
  table = jnp.asarray(table)

  def step_logits(tokens, cache):
    return table[tokens[:, 0]], cache

  seqs, scores = decode.beam_search(2, {'dummy': jnp.zeros((2, 1))}, step_logits, max_decode_len=8)
  np.testing.assert_array_equal(np.asarray(seqs[:, -1, 1:]), [[3, 4, 5, 2, 0, 0, 0]] * 2)
  assert bool(jnp.all(scores[:, -1] >= scores[:, 0]))


def test_bleu_path_pieces(data_dir):
  tokenizer = input_pipeline.load_tokenizer(data_dir)
  ids = tokenizer.encode('the red car', add_eos=True)
  assert wmt.decode_tokens(tokenizer, np.array(ids + [0, 0])) == 'the red car'
  assert wmt.decode_tokens(tokenizer, np.array(ids[:-1])) == tokenizer.decode(ids[:1])
  assert wmt.corpus_bleu(['the red car is old'], ['the red car is old']) == pytest.approx(100.0)
  assert wmt.corpus_bleu(['a b c d'], ['e f g h']) == pytest.approx(0.0)


@pytest.mark.parametrize('name', sorted(CLASSES))
def test_workload_trains_and_evaluates(name, data_dir):
  wl = _tiny(CLASSES[name])(data_dir)
  params, state = wl.init_model_fn(jax.random.PRNGKey(0))
  assert state is None
  batch = next(wl._build_input_queue(jax.random.PRNGKey(1), 'train', data_dir, 4))
  opt = optax.adam(3e-3)

  @jax.jit
  def step(params, opt_state, batch, rng, smoothing):
    def loss(p):
      logits, _ = wl.model_fn(
        p, batch, None, spec.ForwardPassMode.TRAIN, rng, True, dropout_rate=0.0
      )
      out = wl.loss_fn(batch['targets'], logits, batch['weights'], label_smoothing=smoothing)
      return out['summed'] / out['n_valid_examples']

    value, grads = jax.value_and_grad(loss)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value

  opt_state = opt.init(params)
  losses = []
  for i in range(6):
    params, opt_state, value = step(
      params, opt_state, batch, jax.random.PRNGKey(i), jnp.float32(0.1)
    )
    losses.append(float(value))
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0] - 0.1, losses

  results = wl.eval_model(4, params, None, jax.random.PRNGKey(2), data_dir, None, 0)
  expected = {
    f'{s}/{m}' for s in ('train', 'validation', 'test') for m in ('loss', 'accuracy', 'bleu')
  }
  assert set(results) == expected | {'validation/num_examples', 'test/num_examples'}
  assert results['test/num_examples'] == 7
  for key in expected:
    assert np.isfinite(results[key]), key
  assert 0.0 <= results['validation/bleu'] <= 100.0
  assert 0.0 <= results['validation/accuracy'] <= 1.0
  synthetic = wl.synthetic_batch(2)
  assert set(synthetic) == set(batch) and synthetic['inputs'].shape == (2, 256)


@pytest.mark.parametrize('name', sorted(CLASSES))
def test_real_config_matches_algoperf_param_count(name):
  wl = CLASSES[name]()
  params, _ = jax.eval_shape(wl.init_model_fn, jax.random.PRNGKey(0))
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
  assert count == ALGOPERF_PARAM_COUNTS[name]
  assert wl.default_batch_size == 128 and wl.is_output_params('shared_embedding')
  assert params['shared_embedding']['embedding'].shape == (32000, 1024)
  attention = params['encoder']['encoderblock_5']['MultiHeadDotProductAttention_0']
  assert attention['query']['kernel'].shape == (1024, 16, 64) and 'bias' not in attention['query']
  mlp = params['decoder']['encoderdecoderblock_0']['MlpBlock_0']
  assert set(mlp) == ({'Dense_0', 'Dense_1', 'Dense_2'} if wl.glu else {'Dense_0', 'Dense_1'})
  assert ('encoder_layernorm' in params['encoder']) == wl.pre_ln
  types = wl.model_params_types
  assert types['shared_embedding']['embedding'] == spec.ParameterType.EMBEDDING
  block = types['decoder']['encoderdecoderblock_0']
  assert (
    block['MultiHeadDotProductAttention_1']['value']['kernel'] == spec.ParameterType.ATTENTION_V
  )
  assert block['LayerNorm_2']['scale'] == spec.ParameterType.LAYER_NORM_SCALE
  assert block['MlpBlock_0']['Dense_0']['bias'] == spec.ParameterType.BIAS
