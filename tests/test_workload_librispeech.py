"""The LibriSpeech workloads (Conformer, DeepSpeech and their variants) on tiny real-format data.

Synthesized FLAC files (sine waves) in the layout of OpenSLR's LibriSpeech archives go
through ``datasets prepare`` into a data_dir with a tiny SentencePiece model trained
here; every workload, shrunk by a test subclass, trains on a batch of that data and
evaluates; the real configurations are checked with ``jax.eval_shape`` against the
parameter counts of AlgoPerf's own JAX models.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import tarfile

import jax
import numpy as np
import optax
import pytest

from algoperf_like import datasets, registry, spec
from algoperf_like.workloads.librispeech import frontend, input_pipeline, metrics, prepare

soundfile = pytest.importorskip('soundfile')
sentencepiece = pytest.importorskip('sentencepiece')

WORDS = 'THE CAT SAT ON A MAT WITH HER DOG AND HIS OLD RED HAT'.split()
# utterances per split (one speaker, one chapter each)
UTTERANCES = {s: 2 for s in prepare.SPLITS} | {'train-clean-100': 4}
NUM_SAMPLES = 12800  # 0.8 s: 78 feature frames, 20 after subsampling.
TINY_AUDIO = 14400
TINY_TARGETS = 16

# AlgoPerf's parameter counts, from its JAX models (jax.eval_shape of models.Conformer /
# models.Deepspeech with the workloads' configs, run outside the project).
ALGOPERF_PARAM_COUNTS = {
  'librispeech_conformer': 32_321_792,
  'librispeech_conformer_attention_temperature': 32_321_792,
  'librispeech_conformer_layernorm': 32_317_696,
  'librispeech_conformer_gelu': 32_321_792,
  'librispeech_deepspeech': 18_381_312,
  'librispeech_deepspeech_tanh': 18_381_312,
  'librispeech_deepspeech_no_resnet': 18_381_312,
  'librispeech_deepspeech_norm_and_spec_aug': 18_380_288,
}
WORKLOADS = list(ALGOPERF_PARAM_COUNTS)


def _transcript(rng) -> str:
  return ' '.join(rng.choice(WORDS, size=rng.integers(1, 4)))


def _sine(rng) -> np.ndarray:
  t = np.arange(NUM_SAMPLES) / 16000.0
  tone = np.sin(2 * np.pi * rng.uniform(200, 2000) * t) * rng.uniform(3000, 12000)
  return tone.astype(np.int16)


def _write_raw(raw_dir: str):
  """``<split>.tar.gz`` archives as OpenSLR has them; returns {utterance: (samples, text)}."""
  rng = np.random.default_rng(0)
  truth = {}
  os.makedirs(raw_dir)
  for index, split in enumerate(prepare.SPLITS):
    speaker, chapter = str(100 + index), str(7000 + index)
    with tarfile.open(os.path.join(raw_dir, f'{split}.tar.gz'), 'w:gz') as tar:

      def add(name, data: bytes):
        info = tarfile.TarInfo(f'LibriSpeech/{split}/{speaker}/{chapter}/{name}')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

      lines = []
      for u in range(UTTERANCES[split]):
        utterance = f'{speaker}-{chapter}-{u:04d}'
        samples, text = _sine(rng), _transcript(rng)
        flac = io.BytesIO()
        soundfile.write(flac, samples, 16000, format='FLAC', subtype='PCM_16')
        add(f'{utterance}.flac', flac.getvalue())
        lines.append(f'{utterance} {text}\n')
        truth[utterance] = (samples, text)
      add(f'{speaker}-{chapter}.trans.txt', ''.join(lines).encode())
  return truth


def _train_tiny_tokenizer(path: str, texts) -> None:
  corpus = os.path.join(os.path.dirname(path), 'corpus.txt')
  with open(corpus, 'w') as f:
    f.write('\n'.join(texts * 4) + '\n')
  sentencepiece.SentencePieceTrainer.train(
    input=corpus,
    model_prefix=path[: -len('.model')],
    vocab_size=24,
    model_type='unigram',
    character_coverage=1.0,
    minloglevel=2,
  )


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
  root = tmp_path_factory.mktemp('librispeech')
  raw_dir, data_dir = str(root / 'raw'), str(root / 'data')
  truth = _write_raw(raw_dir)
  os.makedirs(data_dir)
  model = os.path.join(str(root), 'tiny.model')
  _train_tiny_tokenizer(model, [text for _, text in truth.values()])
  os.replace(model, os.path.join(data_dir, input_pipeline.TOKENIZER_FILE))
  summary = datasets.prepare('librispeech', data_dir, raw_dir)
  return data_dir, truth, summary


def test_prepare_writes_algoperf_layout(prepared):
  data_dir, truth, summary = prepared
  assert 'train-clean-100 4 (skipped 0)' in summary and 'given' in summary
  tokenizer = metrics.load_tokenizer(os.path.join(data_dir, input_pipeline.TOKENIZER_FILE))
  for split in prepare.SPLITS:
    with open(os.path.join(data_dir, f'{split}.csv'), newline='') as f:
      rows = list(csv.reader(f))
    assert (
      rows[0] == ['', 'id']
      and [r[0] for r in rows[1:]] == ['0', '1', '2', '3'][: UTTERANCES[split]]
    )
    for _, utterance in rows[1:]:
      audio, targets = input_pipeline.load_example(data_dir, f'{split}/{utterance}')
      samples, text = truth[utterance]
      assert audio.dtype == np.int64 and np.array_equal(audio, samples)
      assert targets.dtype == np.int32 and targets[-1] == tokenizer.eos_id()
      assert metrics.detokenize(tokenizer, targets) == text
  assert not os.path.exists(os.path.join(data_dir, 'tmp_extracted'))
  assert 'already prepared' in datasets.prepare('librispeech', data_dir, data_dir)


def test_prepare_names_every_missing_archive(tmp_path):
  with pytest.raises(datasets.MissingRawFileError) as e:
    datasets.prepare('librispeech', str(tmp_path / 'data'), str(tmp_path / 'raw'))
  message = str(e.value)
  assert len(message.splitlines()) == 1
  for archive in prepare.ARCHIVES:
    assert f'missing {archive}: download it from {prepare.SOURCE}/{archive}' in message


def test_tokenizer_training_as_algoperf(tmp_path):
  split = tmp_path / 'LibriSpeech' / 'train-clean-100' / '1' / '2'
  split.mkdir(parents=True)
  rng = np.random.default_rng(1)
  lines = [f'1-2-{i:04d} {_transcript(rng)}' for i in range(40)]
  (split / '1-2.trans.txt').write_text('\n'.join(lines) + '\n')
  path = prepare.train_tokenizer(
    str(tmp_path / 'LibriSpeech'), str(tmp_path / 'spm_model.vocab'), vocab_size=20
  )
  sp = sentencepiece.SentencePieceProcessor(model_file=path)
  assert sp.get_piece_size() == 20 and sp.eos_id() == 2 and sp.unk_id() == 0
  ids = metrics.tokenize(sp, 'THE CAT SAT')
  assert ids[-1] == sp.eos_id() and metrics.detokenize(sp, ids) == 'THE CAT SAT'


def test_train_stream_is_deterministic_and_resumes(prepared):
  data_dir = prepared[0]
  ids = input_pipeline.read_split_ids(data_dir, input_pipeline.SPLITS['train'])
  assert len(ids) == 4 + 2 + 2 and ids[0].startswith('train-clean-100/')
  loader = input_pipeline.Loader(data_dir, ids, TINY_AUDIO, TINY_TARGETS)
  stream = input_pipeline.train_batches(loader, 7, 3)
  first = [next(stream) for _ in range(5)]
  state = stream.get_state()
  later = [next(stream) for _ in range(2)]
  resumed = input_pipeline.train_batches(loader, 7, 3)
  resumed.set_state(state)
  for a, b in zip(later, [next(resumed) for _ in range(2)]):
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  (audio, audio_pad), (targets, target_pad) = first[0]['inputs'], first[0]['targets']
  assert audio.shape == audio_pad.shape == (3, TINY_AUDIO) and audio.dtype == np.float32
  assert targets.shape == target_pad.shape == (3, TINY_TARGETS) and targets.dtype == np.int32
  assert np.all(audio_pad[:, :NUM_SAMPLES] == 0) and np.all(audio_pad[:, NUM_SAMPLES:] == 1)
  assert np.all(audio[audio_pad > 0] == 0) and 'weights' not in first[0]


def test_greedy_decoding_and_wer(prepared):
  tokenizer = metrics.load_tokenizer(os.path.join(prepared[0], input_pipeline.TOKENIZER_FILE))
  ref = metrics.tokenize(tokenizer, 'THE CAT SAT ON A MAT')
  hyp = metrics.tokenize(tokenizer, 'THE DOG SAT ON MAT')[:-1]
  vocab = tokenizer.get_piece_size()
  # Frames: each label twice (merged), then a blank; padded frames say label 5 (ignored).
  frames = [x for label in hyp for x in (label, label, metrics.BLANK_ID)]
  t = len(frames) + 3
  logits = np.full((2, t, vocab), -5.0, np.float32)
  logits[0, np.arange(len(frames)), frames] = 5.0
  logits[0, len(frames) :, 5] = 5.0
  logits[1, :, metrics.BLANK_ID] = 5.0
  paddings = np.zeros((2, t), np.float32)
  paddings[0, len(frames) :] = 1.0
  decoded, decoded_paddings = jax.device_get(metrics.greedy_decode(logits, paddings))
  assert decoded[0, : len(hyp)].tolist() == hyp.tolist() and np.all(decoded[0, len(hyp) :] == 0)
  targets = np.zeros((2, 32), np.int32)
  target_paddings = np.ones((2, 32), np.float32)
  targets[:, : len(ref)], target_paddings[:, : len(ref)] = ref, 0.0
  args = (decoded, decoded_paddings, targets, target_paddings)
  # The padded example is ignored; CAT -> DOG and A deleted; the second utterance decodes
  # to nothing (6 deletions). AlgoPerf's text has 2 more words each (algoperf_text).
  assert metrics.word_errors(*args, np.array([1.0, 0.0]), tokenizer, False) == (2.0, 6.0)
  assert metrics.word_errors(*args, np.array([1.0, 1.0]), tokenizer, False) == (8.0, 12.0)
  assert metrics.word_errors(*args, np.array([1.0, 0.0]), tokenizer) == (2.0, 8.0)
  assert metrics.word_errors(*args, np.array([1.0, 1.0]), tokenizer) == (8.0, 16.0)


def test_wer_text_is_algoperf_s():
  """What ``str(tf.constant(text))`` gives, the text AlgoPerf's WER compares."""
  assert metrics.algoperf_text('THE CAT') == "tf.Tensor(b'THE CAT', shape=(), dtype=string)"
  assert metrics.algoperf_text("DON'T") == 'tf.Tensor(b"DON\'T", shape=(), dtype=string)'
  assert metrics.algoperf_text('') == "tf.Tensor(b'', shape=(), dtype=string)"


def _compiled(fn, *args):
  """``fn`` jitted for ``args``, with XLA's cheaper CPU passes (compiles twice as fast)."""
  options = {'xla_backend_optimization_level': 0, 'xla_llvm_disable_expensive_passes': True}
  return jax.jit(fn).lower(*args).compile(options)


def _tiny(name: str, vocab_size: int):
  """A test subclass of workload ``name``: tiny widths, depths and lengths."""
  base = type(registry.get_workload(name))
  attrs = dict(
    vocab_size=vocab_size,
    encoder_dim=16,
    num_attention_heads=2,
    num_encoder_layers=1,
    num_lstm_layers=1,
    num_ffn_layers=1,
    max_audio_length=TINY_AUDIO,
    max_target_length=TINY_TARGETS,
  )
  return type(f'Tiny{base.__name__}', (base,), attrs)


@pytest.mark.parametrize('name', WORKLOADS)
def test_workload_trains_and_evaluates(prepared, name):
  data_dir = prepared[0]
  tokenizer = metrics.load_tokenizer(os.path.join(data_dir, input_pipeline.TOKENIZER_FILE))
  workload = _tiny(name, tokenizer.get_piece_size())(data_dir=data_dir)
  assert workload.workload_name == name and workload.loss_type == spec.LossType.CTC_LOSS
  # rbg keys and cheap XLA passes: this test's compilations are most of its time.
  key = functools.partial(jax.random.key, impl='rbg')
  params, model_state = _compiled(workload.init_model_fn, key(0))(key(0))
  assert ('batch_stats' in model_state) == (name != 'librispeech_deepspeech_norm_and_spec_aug')
  assert workload.is_output_params('Dense_0') and 'Dense_0' in params
  assert jax.tree.structure(workload.param_shapes) == jax.tree.structure(
    jax.tree.map(lambda x: 0, params)
  )
  batch = next(workload._build_input_queue(key(1), 'train', data_dir, 4))
  tx = optax.adam(3e-3)
  opt_state = tx.init(params)
  rng = key(2)  # Fixed: the same SpecAugment masks at every step.

  def step(params, model_state, opt_state, batch):
    def loss(p):
      logits, new_state = workload.model_fn(
        p, batch, model_state, spec.ForwardPassMode.TRAIN, rng, True, dropout_rate=0.0
      )
      out = workload.loss_fn(batch['targets'], logits)
      return out['summed'] / out['n_valid_examples'], new_state

    (value, new_state), grads = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_state, opt_state, value

  step = _compiled(step, params, model_state, opt_state, batch)
  losses = []
  for _ in range(6):
    params, model_state, opt_state, value = step(params, model_state, opt_state, batch)
    losses.append(float(value))
  assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0], losses
  results = workload.eval_model(3, params, model_state, rng, data_dir, None, 0)
  expected = {f'{s}/{m}' for s in ('train', 'validation', 'test') for m in ('ctc_loss', 'wer')}
  assert set(results) == expected | {'validation/num_examples', 'test/num_examples'}
  assert all(math.isfinite(v) and v >= 0 for v in results.values())
  assert results['validation/num_examples'] == workload.num_validation_examples


@pytest.mark.parametrize('name', WORKLOADS)
def test_real_config_has_algoperf_parameter_count(name):
  workload = registry.get_workload(name)
  params, model_state = jax.eval_shape(workload.init_model_fn, jax.random.PRNGKey(0))
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
  assert count == ALGOPERF_PARAM_COUNTS[name]
  paths = {'/'.join(k.key for k in p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]}
  assert {'Dense_0/kernel', 'Subsample_0/Conv2dSubsampling_1/kernel'} <= paths
  if 'conformer' in name:
    attention = 'ConformerBlock_3/MultiHeadedSelfAttention_0/MultiHeadDotProductAttention_0'
    assert {f'{attention}/QueryScaler_0/scale', f'{attention}/query/kernel'} <= paths
    assert 'ConformerBlock_0/ConvolutionBlock_0/BatchNorm_0/mean' in {
      '/'.join(k.key for k in p)
      for p, _ in jax.tree_util.tree_flatten_with_path(model_state['batch_stats'])[0]
    }
  else:
    assert 'BatchRNN_5/LSTM_0/LSTM/LSTMSequenceEncoder_1/cell/hf/kernel' in paths
  assert workload.default_batch_size == 256
  assert jax.tree.structure(workload.model_params_types) == jax.tree.structure(params)


def test_features_and_synthetic_batch():
  workload = registry.get_workload('librispeech_conformer')
  batch = workload.synthetic_batch(2)
  (audio, audio_pad), (targets, _) = batch['inputs'], batch['targets']
  assert audio.shape == (2, 320000) and targets.shape == (2, 256) and targets.dtype == np.int32
  features, paddings = jax.eval_shape(frontend.log_mel_features, audio, audio_pad)
  assert features.shape == (2, frontend.num_frames(320000), 80) == (2, 1998, 80)
  assert paddings.shape == (2, 1998)
  weights = frontend.mel_weights()
  assert weights.shape == (257, 80) and np.all(weights[0] == 0) and np.all(weights.sum(0) > 0)
  mean, stddev = frontend.log_mel_stats()
  assert mean.shape == stddev.shape == (80,) and np.all(stddev > 0)
