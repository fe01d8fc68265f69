"""``algoperf-like datasets prepare --dataset=librispeech``: LibriSpeech as AlgoPerf lays it out.

The manual path of AlgoPerf's ``dataset_setup.py``: the archives of OpenSLR resource 12
(https://www.openslr.org/12), downloaded by hand into ``raw_dir``, are extracted; a
SentencePiece tokenizer is trained unless ``data_dir/spm_model.vocab`` exists; every
utterance's FLAC audio is decoded and its transcript tokenized, and both are written as
``.npy`` files with one csv per split (the layout in
:mod:`~algoperf_like.workloads.librispeech.input_pipeline`).

As AlgoPerf's ``librispeech_tokenizer.py``: a unigram model of 1024 pieces, character
coverage 1.0, trained on the transcripts of train-clean-100 (at most 1e7 characters, one
transcript a line). As its ``librispeech_preprocess.py``: utterances whose transcript has
more than 256 characters or whose audio has more than 320000 samples are skipped; audio
is stored as int64 samples, targets as int32 ids ending with end-of-sentence.
Differences: speakers and chapters are walked in sorted order (AlgoPerf: ``os.listdir``
order, which only changes the row order of the csv files and the tokenizer's corpus
order); an utterance whose tokens would exceed 256 (possible only for transcripts of
nearly 256 characters) is skipped too, since AlgoPerf's loader could not pad it; FLAC is
decoded with ``soundfile`` (libsndfile) instead of pydub/ffmpeg, giving the same 16-bit
samples; the example counts are reported rather than checked against the full
dataset's (so a partial copy can be prepared).
"""

from __future__ import annotations

import csv
import os
import shutil
import tarfile
import tempfile
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from algoperf_like import datasets
from algoperf_like.workloads.librispeech import input_pipeline, metrics

SOURCE = 'https://www.openslr.org/resources/12'
SPLITS = (
  'train-clean-100',
  'train-clean-360',
  'train-other-500',
  'dev-clean',
  'dev-other',
  'test-clean',
)
ARCHIVES = tuple(f'{s}.tar.gz' for s in SPLITS)
VOCAB_SIZE = 1024
TOKENIZER_MAX_CHARS = int(1e7)
TRANSCRIPT_MAX_CHARS = 256


def check_archives(raw_dir: str) -> None:
  """Raise one :class:`~algoperf_like.datasets.MissingRawFileError` naming every missing archive."""
  missing = [a for a in ARCHIVES if not os.path.isfile(os.path.join(raw_dir, a))]
  if missing:
    raise datasets.MissingRawFileError(
      '; '.join(str(datasets.missing_raw_file(a, raw_dir, f'{SOURCE}/{a}')) for a in missing)
    )


def extract(raw_dir: str, out_dir: str) -> str:
  """Extract every archive into ``out_dir``; returns the ``LibriSpeech`` folder in it."""
  for archive in datasets.progress(ARCHIVES, description='extracting LibriSpeech archives'):
    with tarfile.open(os.path.join(raw_dir, archive)) as tar:
      tar.extractall(out_dir, filter='data')
  return os.path.join(out_dir, 'LibriSpeech')


def transcripts(split_dir: str) -> Iterator[Tuple[str, str, str]]:
  """``(utterance id, transcript, chapter folder)`` of a split, speakers and chapters sorted."""
  for speaker in sorted(os.listdir(split_dir)):
    for chapter in sorted(os.listdir(os.path.join(split_dir, speaker))):
      folder = os.path.join(split_dir, speaker, chapter)
      path = os.path.join(folder, f'{speaker}-{chapter}.trans.txt')
      if not os.path.isfile(path):
        continue
      with open(path, encoding='utf-8') as f:
        for line in f:
          if line.strip():
            utterance, text = line.strip().split(' ', maxsplit=1)
            yield utterance, text, folder


def train_tokenizer(
  librispeech_dir: str,
  model_path: str,
  splits=('train-clean-100',),
  vocab_size: int = VOCAB_SIZE,
  max_chars: int = TOKENIZER_MAX_CHARS,
) -> str:
  """Train AlgoPerf's SentencePiece model on the transcripts; write it at ``model_path``."""
  import sentencepiece

  with tempfile.TemporaryDirectory() as tmp:
    corpus = os.path.join(tmp, 'transcripts.txt')
    count = 0
    with open(corpus, 'w', encoding='utf-8') as out:
      for split in splits:
        for _, text, _ in transcripts(os.path.join(librispeech_dir, split)):
          count += len(text) + 1
          if count > max_chars:
            break
          out.write(text + '\n')
    sentencepiece.SentencePieceTrainer.train(
      input=corpus,
      model_prefix=os.path.join(tmp, 'spm'),
      vocab_size=vocab_size,
      character_coverage=1.0,
      model_type='unigram',
    )
    shutil.copyfile(os.path.join(tmp, 'spm.model'), model_path + '.tmp')
  os.replace(model_path + '.tmp', model_path)
  return model_path


def decode_flac(path: str) -> np.ndarray:
  """int64 samples of a 16-bit FLAC file (what pydub's ``get_array_of_samples`` gives)."""
  import soundfile

  samples, _ = soundfile.read(path, dtype='int16', always_2d=False)
  return np.asarray(samples, np.int64)


def preprocess_split(librispeech_dir: str, data_dir: str, split: str, tokenizer) -> Dict[str, int]:
  """Write one split's ``.npy`` files and csv; returns ``{'written', 'skipped'}``."""
  out_dir = os.path.join(data_dir, split)
  os.makedirs(out_dir, exist_ok=True)
  items = list(transcripts(os.path.join(librispeech_dir, split)))
  written: List[str] = []
  skipped = 0
  for utterance, text, folder in datasets.progress(items, description=f'LibriSpeech {split}'):
    flac = os.path.join(folder, f'{utterance}.flac')
    if not os.path.isfile(flac) or len(text) > TRANSCRIPT_MAX_CHARS:
      skipped += 1
      continue
    audio = decode_flac(flac)
    targets = metrics.tokenize(tokenizer, text)
    if len(audio) > input_pipeline.MAX_AUDIO_LENGTH or len(targets) > (
      input_pipeline.MAX_TARGET_LENGTH
    ):
      skipped += 1
      continue
    np.save(os.path.join(out_dir, f'{utterance}_audio.npy'), audio)
    np.save(os.path.join(out_dir, f'{utterance}_targets.npy'), targets)
    written.append(utterance)
  with open(os.path.join(data_dir, f'{split}.csv.tmp'), 'w', newline='') as f:
    writer = csv.writer(f, lineterminator='\n')
    writer.writerow(['', 'id'])
    writer.writerows([i, u] for i, u in enumerate(written))
  os.replace(os.path.join(data_dir, f'{split}.csv.tmp'), os.path.join(data_dir, f'{split}.csv'))
  return {'written': len(written), 'skipped': skipped}


def prepare(
  data_dir: str, raw_dir: str, overwrite: bool = False, work_dir: Optional[str] = None
) -> str:
  """Extract, tokenize and convert LibriSpeech into ``data_dir``; a one-line summary."""
  done = [s for s in SPLITS if os.path.isfile(os.path.join(data_dir, f'{s}.csv'))]
  if len(done) == len(SPLITS) and not overwrite:
    return f'librispeech: already prepared in {data_dir} (pass --overwrite to redo)'
  check_archives(raw_dir)
  work_dir = work_dir or os.path.join(data_dir, 'tmp_extracted')
  os.makedirs(work_dir, exist_ok=True)
  try:
    librispeech_dir = extract(raw_dir, work_dir)
    model_path = os.path.join(data_dir, input_pipeline.TOKENIZER_FILE)
    trained = not os.path.isfile(model_path)
    if trained:
      train_tokenizer(librispeech_dir, model_path)
    tokenizer = metrics.load_tokenizer(model_path)
    counts = {}
    for split in SPLITS:
      if split in done and not overwrite:
        continue
      counts[split] = preprocess_split(librispeech_dir, data_dir, split, tokenizer)
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)
  shown = ', '.join(f'{s} {c["written"]} (skipped {c["skipped"]})' for s, c in counts.items())
  how = 'trained' if trained else 'given'
  return f'librispeech: {shown}; tokenizer ({how}) {model_path}; in {data_dir}'
