"""SCAN-style command-to-action translation, generated offline, as a TFDS builder.

The grammar follows SCAN (Lake & Baroni, 2018, https://arxiv.org/abs/1711.00350):

.. code-block:: text

  C -> S and S | S after S | S
  S -> V twice | V thrice | V
  V -> D opposite left|right | D around left|right | D left|right | D
  D -> walk | look | run | jump | turn      ("turn" only with a direction)

and its interpretation: ``x left`` is ``LTURN x``; ``x opposite left`` is
``LTURN LTURN x``; ``x around left`` is ``(LTURN x)`` four times; ``turn``
contributes only the turns; ``twice``/``thrice`` repeat; ``a and b`` is ``a b``
and ``a after b`` is ``b a``. For example ``jump twice and walk left`` gives
``JUMP JUMP LTURN WALK``.

We enumerate every command of the grammar (20,910, as in SCAN), keep the 14,142
whose action sequence has at most :data:`MAX_ACTIONS` (16) actions, shuffle them
with ``numpy.random.default_rng(SEED)`` and cut the shuffled list into
train/validation/test: a *random* split (SCAN's "simple" split), so the three
splits are disjoint but drawn from the same distribution.

Token ids (one fixed vocabulary, :data:`VOCAB`): 0 is padding, 1 the
beginning-of-sequence token (the decoder's first input), 2 end-of-sequence.
``inputs`` are command words padded to :data:`INPUT_LENGTH`; ``targets`` are
actions, then EOS, padded to :data:`TARGET_LENGTH`.
"""

from __future__ import annotations

import itertools
from typing import Dict, List, Tuple

import numpy as np
import tensorflow_datasets as tfds

from algoperf_like.workloads.common.array_builder import ArrayBuilder

SEED = 0
MAX_ACTIONS = 16
INPUT_LENGTH = 9  # The longest command: "jump around left thrice and run opposite right twice".
TARGET_LENGTH = MAX_ACTIONS + 1  # Actions, then EOS.
SPLIT_SIZES = {'train': 12_000, 'validation': 1_000, 'test': 1_000}

PAD, BOS, EOS = 0, 1, 2
COMMAND_WORDS = (
  'walk',
  'look',
  'run',
  'jump',
  'turn',
  'left',
  'right',
  'opposite',
  'around',
  'twice',
  'thrice',
  'and',
  'after',
)
ACTIONS = ('WALK', 'LOOK', 'RUN', 'JUMP', 'LTURN', 'RTURN')
VOCAB = ('<pad>', '<bos>', '<eos>') + COMMAND_WORDS + ACTIONS
TOKEN_ID = {token: i for i, token in enumerate(VOCAB)}
VOCAB_SIZE = len(VOCAB)

_VERBS = ('walk', 'look', 'run', 'jump')
_TURN_OF = {'left': 'LTURN', 'right': 'RTURN'}


def _phrases() -> List[Tuple[List[str], List[str]]]:
  """Every ``S`` phrase of the grammar with its actions, in a fixed order."""
  verb_phrases = [([v], [v.upper()]) for v in _VERBS]
  for d, direction in itertools.product(_VERBS + ('turn',), ('left', 'right')):
    turn = _TURN_OF[direction]
    act = [] if d == 'turn' else [d.upper()]
    verb_phrases.append(([d, direction], [turn] + act))
    verb_phrases.append(([d, 'opposite', direction], [turn, turn] + act))
    verb_phrases.append(([d, 'around', direction], ([turn] + act) * 4))
  phrases = []
  for words, actions in verb_phrases:
    phrases.append((words, actions))
    phrases.append((words + ['twice'], actions * 2))
    phrases.append((words + ['thrice'], actions * 3))
  return phrases


def all_commands() -> List[Tuple[List[str], List[str]]]:
  """Every command of the grammar with its action sequence (no length limit)."""
  phrases = _phrases()
  commands = list(phrases)
  for (w1, a1), (w2, a2) in itertools.product(phrases, phrases):
    commands.append((w1 + ['and'] + w2, a1 + a2))
    commands.append((w1 + ['after'] + w2, a2 + a1))
  return commands


def encode(tokens: List[str], length: int, eos: bool) -> np.ndarray:
  """Token ids of ``tokens`` (then EOS if asked), zero-padded to ``length``."""
  ids = [TOKEN_ID[t] for t in tokens] + ([EOS] if eos else [])
  if len(ids) > length:
    raise ValueError(f'{tokens} does not fit in {length} tokens')
  return np.array(ids + [PAD] * (length - len(ids)), np.int32)


def decode(ids: np.ndarray) -> List[str]:
  """Tokens of ``ids`` up to (without) the first EOS or padding."""
  out = []
  for i in np.asarray(ids).tolist():
    if i in (PAD, EOS):
      break
    out.append(VOCAB[i])
  return out


def generate_arrays(seed: int = SEED) -> Dict[str, Dict[str, np.ndarray]]:
  """All splits: ``{split: {'inputs': int32 [N, 9], 'targets': int32 [N, 17]}}``."""
  commands = [c for c in all_commands() if len(c[1]) <= MAX_ACTIONS]
  order = np.random.default_rng(seed).permutation(len(commands))
  if sum(SPLIT_SIZES.values()) > len(commands):
    raise ValueError(f'only {len(commands)} commands for splits {SPLIT_SIZES}')
  splits, start = {}, 0
  for split, size in SPLIT_SIZES.items():
    chosen = [commands[i] for i in order[start : start + size]]
    splits[split] = {
      'inputs': np.stack([encode(w, INPUT_LENGTH, eos=False) for w, _ in chosen]),
      'targets': np.stack([encode(a, TARGET_LENGTH, eos=True) for _, a in chosen]),
    }
    start += size
  return splits


class ScanCommands(ArrayBuilder):
  """SCAN-style commands (inputs) and their action sequences (targets)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'SCAN grammar, <= 16 actions, random split, seed 0, 12k/1k/1k.'}
  # algoperf_like.workloads.common.tfds_data.fingerprint of each split, checked on every load.
  FINGERPRINTS = {
    'train': '431e16b23ccef10d02d50acc2cf1fffc621b136383c0791e0808d5b38da1b033',
    'validation': '4f81c6aaae4d17cb4ca0806f953c8d13fd74835b8c2e2eecde08785550a2c644',
    'test': '409841d7082bc93d2820b338ec21b3a4ee5ed8f529855cf3622173d20b44b526',
  }

  HOMEPAGE = 'https://github.com/brendenlake/SCAN'

  def features(self):
    return {
      'inputs': tfds.features.Tensor(shape=(INPUT_LENGTH,), dtype=np.int32),
      'targets': tfds.features.Tensor(shape=(TARGET_LENGTH,), dtype=np.int32),
    }

  def generate(self):
    return generate_arrays()
