"""CTC loss, the SentencePiece tokenizer and word error rate, as AlgoPerf's LibriSpeech has them.

- Loss: ``optax.ctc_loss`` of the log-softmax (blank id 0) per utterance, summed; its
  normaliser ``n_valid_examples`` is the number of unpadded target tokens of the real
  examples, so the reported ``ctc_loss`` is the loss per target token.
- Tokenizer: a SentencePiece model (AlgoPerf names the file ``spm_model.vocab``); a
  transcript becomes its piece ids followed by the end-of-sentence id (no BOS), as
  AlgoPerf's tf-text tokenizer with ``add_eos=True`` writes the targets.
- WER: greedy CTC decoding (best path, repeats merged, blanks dropped), both the
  decoding and the reference detokenized to text, word-level Levenshtein distance summed
  over utterances over the total number of reference words; the text compared is
  AlgoPerf's, the printed form of a TensorFlow string tensor (:func:`algoperf_text`),
  since AlgoPerf's WER targets were set on it.
"""

from __future__ import annotations

import functools
from typing import List, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from algoperf_like.workloads.common import metrics as common_metrics

BLANK_ID = 0


def ctc_loss(label_batch, logits_batch, mask_batch=None):
  """AlgoPerf's LibriSpeech loss: ``{'summed', 'n_valid_examples', 'per_example'}``.

  Args:
    label_batch: ``(targets [B, N] ids, target_paddings [B, N])``.
    logits_batch: ``(logits [B, T, K], logit_paddings [B, T])``.
    mask_batch: ``[B]``, 1 for real examples (None: all).
  """
  logits, logit_paddings = logits_batch
  targets, target_paddings = label_batch
  per_example = optax.ctc_loss(
    jax.nn.log_softmax(logits),
    logit_paddings,
    targets.astype(jnp.int32),
    target_paddings,
    blank_id=BLANK_ID,
  )
  valid_tokens = 1.0 - target_paddings
  if mask_batch is not None:
    per_example = jnp.where(mask_batch > 0, per_example, 0.0) * mask_batch
    valid_tokens = valid_tokens * (mask_batch[:, None] > 0)
  return {
    'summed': per_example.sum(),
    'n_valid_examples': jnp.maximum(valid_tokens.sum(), 1),
    'per_example': per_example,
  }


def greedy_decode(logits, logit_paddings):
  """``(decoded [B, T], decoded_paddings [B, T])``: best-path labels left-aligned, then 0."""
  decoded = common_metrics.ctc_greedy_decode(logits, logit_paddings, blank_id=BLANK_ID, fill=0)
  return decoded, (decoded == 0).astype(jnp.int32)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str):
  """A ``sentencepiece.SentencePieceProcessor`` of the model file at ``path``."""
  import sentencepiece

  return sentencepiece.SentencePieceProcessor(model_file=path)


def tokenize(tokenizer, text: str) -> np.ndarray:
  """int32 piece ids of ``text`` followed by the end-of-sentence id."""
  return np.asarray(tokenizer.encode(text) + [tokenizer.eos_id()], np.int32)


def detokenize(tokenizer, ids: Sequence[int]) -> str:
  """Text of piece ids (control ids such as end-of-sentence give nothing)."""
  return tokenizer.decode([int(i) for i in ids])


def algoperf_text(text: str) -> str:
  """``text`` as AlgoPerf's WER sees it: the ``str`` of a TensorFlow string tensor.

  AlgoPerf (JAX and PyTorch alike) compares ``str(tokenizer.detokenize(ids))``, which for
  tf-text's tokenizer is ``"tf.Tensor(b'THE CAT', shape=(), dtype=string)"``: two more
  words per utterance (``shape=(),`` and ``dtype=string)``, always matched) and the first
  and last words glued to the wrapper (the quote is ``"`` when the text has an apostrophe
  and no double quote, as Python writes bytes). Its WER targets were set on this text.
  """
  return f'tf.Tensor({text.encode("utf-8")!r}, shape=(), dtype=string)'


def word_errors(
  decoded: np.ndarray,
  decoded_paddings: np.ndarray,
  targets: np.ndarray,
  target_paddings: np.ndarray,
  weights: np.ndarray,
  tokenizer,
  as_algoperf: bool = True,
) -> Tuple[float, float]:
  """``(word errors, reference words)`` summed over the real examples (``weights > 0``).

  Each utterance: the first ``sum(paddings == 0)`` ids of the decoding and of the
  reference, detokenized, split on whitespace, word-level Levenshtein distance.
  ``as_algoperf``: on :func:`algoperf_text` of both, exactly AlgoPerf's numbers
  (otherwise on the plain text, where an empty reference counts one word).
  """
  errors = words = 0.0
  for i in np.flatnonzero(np.asarray(weights) > 0):
    hyp = detokenize(tokenizer, decoded[i][: int(np.sum(decoded_paddings[i] == 0))])
    ref = detokenize(tokenizer, targets[i][: int(np.sum(target_paddings[i] == 0))])
    if as_algoperf:
      hyp, ref = algoperf_text(hyp), algoperf_text(ref)
    ref_words: List[str] = ref.split()
    errors += common_metrics.edit_distance(hyp.split(), ref_words)
    words += max(len(ref_words), 1)
  return errors, words
