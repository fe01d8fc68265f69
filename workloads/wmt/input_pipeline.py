"""WMT German -> English from ``--data_dir``, as AlgoPerf's WMT input pipeline serves it.

``--data_dir`` holds the TFDS datasets ``wmt17_translate/de-en:1.0.0`` (its ``train`` split:
``train`` and ``eval_train``) and ``wmt14_translate/de-en:1.0.0`` (``validation``, ``test``),
and the SentencePiece model ``wmt_sentencepiece_model`` (``algoperf-like datasets prepare
--dataset=wmt`` makes all three, as AlgoPerf's ``dataset_setup.py`` does).

Every sentence pair (German ``inputs``, English ``targets``) is tokenized with an EOS (id 2)
at the end; pairs longer than 256 tokens on either side are dropped. ``train`` and
``eval_train`` are shuffled with a 1024-example buffer seeded by ``data_rng[0]``.

- ``train`` repeats forever and is *packed*: consecutive chunks of 256 pairs are laid greedily
  into rows of 256 tokens (a row is written out when the next pair no longer fits on either
  side, and at the end of each chunk), with ``*_position`` (index within the sentence) and
  ``*_segmentation`` (1, 2, ... for the sentences of a row, 0 on padding); rows are batched.
- ``eval_train``, ``validation`` and ``test`` are padded to 256 tokens and batched in order
  (the last batch padded with empty examples), taken for ``num_batches`` and, with
  ``repeat_final_dataset``, repeated.

Every batch has ``weights``: 1 on target tokens (``targets > 0``) of real examples.

Reading, tokenization, filtering, shuffling and padded batching run in ``tf.data``; the
packing runs here in numpy on the examples ``tf.data`` yields. The training stream is
deterministic given ``data_rng``, and checkpointable (:class:`PackedBatches`): its state
counts the 256-pair chunks consumed and the rows of the current chunks already served;
restoring skips that many pairs in ``tf.data`` (same order: seeded shuffle) and repacks.

Differences from AlgoPerf's code: tokenization uses the ``sentencepiece`` package directly
(AlgoPerf wraps the same library through ``tensorflow-text``; both give the same ids and
text), and the stream position can be saved and restored (AlgoPerf's cannot).
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from algoperf_like.workloads.common import full_scale

DATASET = 'wmt'
TRAIN_TFDS = 'wmt17_translate/de-en:1.0.0'
EVAL_TFDS = 'wmt14_translate/de-en:1.0.0'
TFDS_NAMES = {
  'train': TRAIN_TFDS,
  'eval_train': TRAIN_TFDS,
  'validation': EVAL_TFDS,
  'test': EVAL_TFDS,
}
TFDS_SPLITS = {'train': 'train', 'eval_train': 'train', 'validation': 'validation', 'test': 'test'}
VOCAB_FILE = 'wmt_sentencepiece_model'
MAX_LENGTH = 256
SHUFFLE_BUFFER = 1024
PACK_CHUNK = 256  # Pairs per packing chunk: AlgoPerf packs chunks of max-length pairs.
EOS_ID = 2
KEYS = ('inputs', 'targets')

Batch = Dict[str, np.ndarray]


def _tfds_dir(data_dir: str, tfds_name: str) -> str:
  """Where TFDS keeps ``name/config:version`` under ``data_dir``."""
  name, version = tfds_name.split(':')
  return os.path.join(data_dir, *name.split('/'), version)


def builder(data_dir: str, split: str):
  """The TFDS builder of ``split``; a one-line error when it is not prepared."""
  import tensorflow_datasets as tfds

  tfds_name = TFDS_NAMES[split]
  full_scale.require_path(
    os.path.join(_tfds_dir(data_dir, tfds_name), 'dataset_info.json'),
    DATASET,
    data_dir,
    f'TFDS {tfds_name}',
  )
  return tfds.builder(tfds_name, data_dir=data_dir)


def vocab_path(data_dir: str) -> str:
  return os.path.join(data_dir, VOCAB_FILE)


def load_tokenizer(data_dir: str):
  """The SentencePiece model of ``data_dir`` (one-line error when missing)."""
  import sentencepiece as spm

  path = full_scale.require_path(vocab_path(data_dir), DATASET, data_dir, 'the SentencePiece model')
  return spm.SentencePieceProcessor(model_file=path)


def sentence_pairs(data_dir: str, split: str):
  """``tf.data`` of ``{'inputs': German bytes, 'targets': English bytes}``, stored order."""
  import tensorflow as tf

  b = builder(data_dir, split)
  source, target = b.info.supervised_keys or ('de', 'en')
  ds = b.as_dataset(split=TFDS_SPLITS[split], shuffle_files=False)
  return ds.map(
    lambda x: {'inputs': x[source], 'targets': x[target]}, num_parallel_calls=tf.data.AUTOTUNE
  )


def train_tokenizer(data_dir: str, vocab_size: int = 32000, max_corpus_chars: int = 10**7) -> str:
  """Train the SentencePiece model on the first pairs of ``train``, as AlgoPerf does.

  Lines (German, then English, of each pair, in stored order) are written until about
  ``max_corpus_chars`` characters; a unigram model of ``vocab_size`` pieces with full
  character coverage is trained on them and saved as ``data_dir/wmt_sentencepiece_model``.
  """
  import tempfile

  import sentencepiece as spm

  with tempfile.TemporaryDirectory(prefix='wmt_vocab') as tmp:
    corpus = os.path.join(tmp, 'corpus.txt')
    chars = 0
    with open(corpus, 'wb') as f:
      for pair in sentence_pairs(data_dir, 'train').as_numpy_iterator():
        for key in KEYS:
          line = pair[key] + b'\n'
          f.write(line)
          chars += len(line)
        if chars >= max_corpus_chars:
          break
    prefix = os.path.join(tmp, 'spm')
    spm.SentencePieceTrainer.Train(
      input=corpus,
      vocab_size=vocab_size,
      character_coverage=1.0,
      model_prefix=prefix,
      model_type='unigram',
    )
    target = vocab_path(data_dir)
    with open(prefix + '.model', 'rb') as src, open(target + '.tmp', 'wb') as dst:
      dst.write(src.read())
    os.replace(target + '.tmp', target)
  return target


def tokenized(data_dir: str, split: str, tokenizer):
  """Pairs as int32 token ids (EOS-terminated), those over 256 tokens dropped."""
  import tensorflow as tf

  def encode(text):
    return np.asarray(tokenizer.encode(text.decode('utf-8'), add_eos=True), np.int32)

  def tokenize(pair):
    out = {}
    for key in KEYS:
      ids = tf.numpy_function(encode, [pair[key]], tf.int32, stateful=False)
      out[key] = tf.ensure_shape(ids, [None])
    return out

  def short_enough(pair):
    longest = tf.maximum(tf.shape(pair['inputs'])[0], tf.shape(pair['targets'])[0])
    return longest <= MAX_LENGTH

  ds = sentence_pairs(data_dir, split).map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.filter(short_enough)


def shuffle_seed(data_rng) -> int:
  """``data_rng[0]``: the first word of the raw key, AlgoPerf's shuffle seed."""
  import jax

  rng = data_rng
  if hasattr(rng, 'dtype') and jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
    rng = jax.random.key_data(rng)
  return int(np.asarray(rng).ravel()[0])


def pack_chunk(pairs: List[Dict[str, np.ndarray]], length: int = MAX_LENGTH) -> Batch:
  """Greedily lay ``pairs`` into rows of ``length`` tokens (both sides at once).

  A row is closed when the next pair would overflow it on either side; the last row is
  closed at the end. Each sentence is cut at its first 0 token count (AlgoPerf treats 0 as
  padding) and to ``length``.

  Returns:
    ``{key, key_position, key_segmentation}`` for ``inputs`` and ``targets``, ``[rows, length]``.
  """
  rows: List[Dict[str, List[np.ndarray]]] = []
  current: Dict[str, List[np.ndarray]] = {k: [] for k in KEYS}
  used = {k: 0 for k in KEYS}
  for pair in pairs:
    seqs = {}
    for k in KEYS:
      seq = np.asarray(pair[k])
      seqs[k] = seq[: int(np.count_nonzero(seq))][:length]
    if any(used[k] + len(seqs[k]) > length for k in KEYS):
      rows.append(current)
      current, used = {k: [] for k in KEYS}, {k: 0 for k in KEYS}
    for k in KEYS:
      current[k].append(seqs[k])
      used[k] += len(seqs[k])
  rows.append(current)
  out: Batch = {}
  for k in KEYS:
    tokens = np.zeros((len(rows), length), np.int32)
    position = np.zeros((len(rows), length), np.int32)
    for r, row in enumerate(rows):
      at = 0
      for seq in row[k]:
        tokens[r, at : at + len(seq)] = seq
        position[r, at : at + len(seq)] = np.arange(len(seq))
        at += len(seq)
    starts = np.cumsum(position == 0, axis=1, dtype=np.int32)
    out[k] = tokens
    out[f'{k}_position'] = position
    out[f'{k}_segmentation'] = starts * (tokens != 0)
  return out


def with_weights(batch: Batch) -> Batch:
  """``weights``: 1 on target tokens (and 0 on padded examples, when marked already)."""
  weights = (batch['targets'] > 0).astype(np.float32)
  if 'weights' in batch:
    weights = weights * (batch['weights'] > 0)
  batch['weights'] = weights
  return batch


class PackedBatches:
  """The endless, packed training stream, checkpointable by position.

  The position is ``chunks_done`` (256-pair chunks whose rows were all served) and
  ``rows_served`` (rows of the next chunk already served): restoring starts the pairs after
  ``chunks_done * 256`` and repacks from there.

  Args:
    pairs_from: ``skip -> iterator`` over the shuffled, repeated tokenized pairs, starting
      after ``skip`` pairs.
    batch_size: packed rows per batch.
    num_batches: stop after this many batches (None: never).
    place: applied to each batch before it is returned (sharding).
  """

  def __init__(
    self,
    pairs_from: Callable[[int], Iterator[Dict[str, np.ndarray]]],
    batch_size: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable[[Batch], Batch]] = None,
  ) -> None:
    self.pairs_from, self.batch_size = pairs_from, batch_size
    self.num_batches, self.place = num_batches, place
    self.set_state({'batches_produced': 0, 'chunks_done': 0, 'rows_served': 0})

  def get_state(self) -> dict:
    return {
      'batches_produced': self.produced,
      'chunks_done': self.chunks_done,
      'rows_served': self.rows_served,
    }

  def set_state(self, state: dict) -> None:
    self.produced = int(state['batches_produced'])
    self.chunks_done = int(state['chunks_done'])
    self.rows_served = int(state['rows_served'])
    self._pairs: Optional[Iterator] = None
    self._chunks: List[Batch] = []  # Packed chunks from chunks_done on.

  def _pack_next_chunk(self) -> None:
    if self._pairs is None:
      self._pairs = self.pairs_from(self.chunks_done * PACK_CHUNK)
    self._chunks.append(pack_chunk([next(self._pairs) for _ in range(PACK_CHUNK)]))

  def __iter__(self) -> 'PackedBatches':
    return self

  def __next__(self) -> Batch:
    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    while sum(len(c['inputs']) for c in self._chunks) - self.rows_served < self.batch_size:
      self._pack_next_chunk()
    rows = {k: np.concatenate([c[k] for c in self._chunks]) for k in self._chunks[0]}
    stop = self.rows_served + self.batch_size
    batch = with_weights({k: v[self.rows_served : stop] for k, v in rows.items()})
    self.rows_served = stop
    while self._chunks and self.rows_served >= len(self._chunks[0]['inputs']):
      self.rows_served -= len(self._chunks.pop(0)['inputs'])
      self.chunks_done += 1
    self.produced += 1
    return self.place(batch) if self.place else batch


def train_stream(
  data_dir: str,
  data_rng,
  batch_size: int,
  num_batches: Optional[int] = None,
  place: Optional[Callable[[Batch], Batch]] = None,
) -> Tuple[PackedBatches, object]:
  """The packed ``train`` batches and the tokenizer."""
  tokenizer = load_tokenizer(data_dir)
  seed = shuffle_seed(data_rng)

  def pairs_from(skip: int):
    ds = tokenized(data_dir, 'train', tokenizer)
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed).repeat()
    return ds.skip(skip).as_numpy_iterator()

  return PackedBatches(pairs_from, batch_size, num_batches, place), tokenizer


def eval_stream(
  data_dir: str,
  split: str,
  data_rng,
  batch_size: int,
  num_batches: Optional[int] = None,
  repeat_final_dataset: bool = False,
  place: Optional[Callable[[Batch], Batch]] = None,
) -> Tuple[Iterator[Batch], object]:
  """Padded batches of ``eval_train`` (shuffled), ``validation`` or ``test``, and the tokenizer."""
  tokenizer = load_tokenizer(data_dir)
  ds = tokenized(data_dir, split, tokenizer)
  if split == 'eval_train':
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=shuffle_seed(data_rng))
  ds = ds.padded_batch(
    batch_size, padded_shapes={k: MAX_LENGTH for k in KEYS}, drop_remainder=False
  )
  if num_batches:
    ds = ds.take(num_batches)
  if repeat_final_dataset:
    ds = ds.repeat()

  def batches():
    for raw in ds.as_numpy_iterator():
      batch = {k: np.asarray(v) for k, v in raw.items()}
      real = len(batch['inputs'])
      if real < batch_size:  # Pad the last batch with empty examples, weighted 0.
        pad = batch_size - real
        batch = {k: np.pad(v, ((0, pad), (0, 0))) for k, v in batch.items()}
        batch['weights'] = np.repeat((np.arange(batch_size) < real)[:, None], MAX_LENGTH, 1)
      batch = with_weights(batch)
      yield place(batch) if place else batch

  return batches(), tokenizer
