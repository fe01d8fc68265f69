"""``librispeech_conformer`` and its variants: speech recognition on LibriSpeech with a Conformer.

Model: :class:`~algoperf_like.workloads.librispeech_conformer.model.Conformer`
(AlgoPerf's JAX Conformer: 4 blocks of width 512, 8 heads, 1024 output pieces;
32,321,792 parameters), its log-mel features computed from the raw audio inside the
model and SpecAugment in training. Data: AlgoPerf's preprocessed LibriSpeech in
``--data_dir`` (:mod:`~algoperf_like.workloads.librispeech.input_pipeline`; prepare it with
``algoperf-like datasets prepare --dataset=librispeech``). Loss: CTC (blank 0) per
utterance, normalised by the number of target tokens. Metric: word error rate of greedy
CTC decodings, detokenized with the SentencePiece model of
``--librispeech_tokenizer_vocab_path`` (default ``data_dir/spm_model.vocab``).
Evaluation metrics, as AlgoPerf names them: ``ctc_loss`` and ``wer``; the WER is
AlgoPerf's number, which compares the printed form of TensorFlow string tensors (two
extra, always-matching words per utterance; see
:func:`~algoperf_like.workloads.librispeech.metrics.algoperf_text`), since AlgoPerf's
targets were set on it.

Variants (AlgoPerf v0.6): ``librispeech_conformer_attention_temperature`` (attention
output times 1.6), ``librispeech_conformer_layernorm`` (no LayerNorm after each block),
``librispeech_conformer_gelu`` (GELU instead of swish).

Differences from AlgoPerf's JAX workload: the evaluation batches always have the full
batch size, padded examples weighted 0 and left out of the WER (AlgoPerf pads a short
last batch only to a multiple of the device count, and each padded example counts one
reference word); the greedy decoder compacts each utterance's labels on its own (AlgoPerf's
batched compaction can put a stray label at the start of the first utterance of a batch
when that one decodes to nothing); with no tokenizer AlgoPerf reports a WER of 0, here
evaluation raises; ``loss_fn``'s ``mask_batch`` is a ``[B]`` weight per example (AlgoPerf's
fails to broadcast a ``[B]`` mask against the ``[B, N]`` target paddings); BatchNorm's
running averages keep their shape ``[dim]``.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.librispeech import input_pipeline, metrics
from algoperf_like.workloads.librispeech_conformer import model as conformer


class LibriSpeechConformerWorkload(full_scale.FullScaleWorkload):
  """Conformer + CTC on LibriSpeech (AlgoPerf's ``librispeech_conformer``)."""

  name = 'librispeech_conformer'
  algoperf_base_workload = 'librispeech_conformer'
  dataset = 'librispeech'
  default_batch_size = 256
  output_param_keys = ('Dense_0',)
  loss_type = spec.LossType.CTC_LOSS

  # The model (test subclasses shrink these).
  vocab_size = 1024
  encoder_dim = 512
  num_attention_heads = 8
  num_encoder_layers = 4
  attention_temperature = 1.0
  use_post_layer_norm = True
  activation = 'swish'
  use_specaug = True
  # The data.
  max_audio_length = input_pipeline.MAX_AUDIO_LENGTH
  max_target_length = input_pipeline.MAX_TARGET_LENGTH

  def __init__(
    self, data_dir: Optional[str] = None, tokenizer_vocab_path: Optional[str] = None
  ) -> None:
    super().__init__(data_dir)
    # The runner sets this from --librispeech_tokenizer_vocab_path (sweep.run_trial).
    self.tokenizer_vocab_path = tokenizer_vocab_path
    self._model = self._build_model()
    self._eval_step = jax.jit(self._eval_outputs)

  def _build_model(self):
    return conformer.Conformer(
      conformer.ConformerConfig(
        vocab_size=self.vocab_size,
        encoder_dim=self.encoder_dim,
        num_attention_heads=self.num_attention_heads,
        num_encoder_layers=self.num_encoder_layers,
        use_specaug=self.use_specaug,
        attention_temperature=self.attention_temperature,
        activation=self.activation,
        use_post_layer_norm=self.use_post_layer_norm,
      )
    )

  # ----- Model. -----
  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    """``(params, model_state)``; model_state is ``{'batch_stats': ...}`` where the model
    has BatchNorm (else ``{}``). Dropout rates come through ``model_fn``."""
    del dropout_rate, aux_dropout_rate
    dummy = jnp.zeros((2, self.max_audio_length), jnp.float32)
    init = jax.jit(functools.partial(self._model.init, train=False))
    params_rng, _ = jax.random.split(rng)
    variables = init({'params': params_rng}, dummy, dummy)
    variables = dict(variables)
    params = variables.pop('params')
    model_state = {k: v for k, v in variables.items() if k == 'batch_stats'}
    self._set_param_info(params)
    return params, model_state

  def _apply(self, variables, inputs, paddings, train, rng, use_running_average_bn, rate):
    if train:
      return self._model.apply(
        variables,
        inputs,
        paddings,
        train=True,
        rngs={'dropout': rng},
        mutable=['batch_stats'],
        use_running_average_bn=use_running_average_bn,
        dropout_rate=rate,
      )
    outputs = self._model.apply(
      variables,
      inputs,
      paddings,
      train=False,
      mutable=False,
      use_running_average_bn=use_running_average_bn,
    )
    return outputs, None

  def model_fn(
    self,
    params,
    augmented_and_preprocessed_input_batch,
    model_state,
    mode,
    rng,
    update_batch_norm,
    use_running_average_bn=None,
    dropout_rate=None,
  ):
    """``((logits [B, T', vocab], logit_paddings [B, T']), new_model_state)``.

    As AlgoPerf: the training forward pass (SpecAugment, dropout, batch statistics folded
    into the running averages) runs when ``mode`` is TRAIN or ``update_batch_norm``;
    ``dropout_rate`` None means AlgoPerf's default, 0.1.
    """
    inputs, paddings = augmented_and_preprocessed_input_batch['inputs']
    train = mode == spec.ForwardPassMode.TRAIN or update_batch_norm
    rate = conformer.DROPOUT_RATE if dropout_rate is None else dropout_rate
    variables = {'params': params, **(model_state or {})}
    outputs, new_state = self._apply(
      variables, inputs, paddings, train, rng, use_running_average_bn, rate
    )
    if new_state is None:
      return outputs, model_state
    return outputs, {**(model_state or {}), **dict(new_state)}

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    """AlgoPerf's CTC loss (:func:`~algoperf_like.workloads.librispeech.metrics.ctc_loss`)."""
    del label_smoothing  # Not defined for CTC.
    return metrics.ctc_loss(label_batch, logits_batch, mask_batch)

  # ----- Data. -----
  def _loader(self, split: str, data_dir: Optional[str]) -> input_pipeline.Loader:
    data_dir = self._data_dir(data_dir)
    if split not in input_pipeline.SPLITS:
      raise ValueError(f'split {split!r}: one of {sorted(input_pipeline.SPLITS)}')
    ids = input_pipeline.read_split_ids(data_dir, input_pipeline.SPLITS[split])
    return input_pipeline.Loader(data_dir, ids, self.max_audio_length, self.max_target_length)

  def _build_input_queue(
    self,
    data_rng,
    split,
    data_dir,
    global_batch_size,
    cache=None,
    repeat_final_dataset=None,
    num_batches=None,
  ):
    """Training: endless shuffled batches (checkpointable); other splits: one ordered
    pass padded to full batches with ``weights``."""
    del cache, repeat_final_dataset
    loader = self._loader(split, data_dir)
    place = jax_sharding_utils.place_batch
    if split == 'train':
      return input_pipeline.train_batches(loader, data_rng, global_batch_size, num_batches, place)
    num_examples = None if num_batches is None else num_batches * global_batch_size
    return input_pipeline.eval_batches(loader, global_batch_size, num_examples, place)

  def synthetic_batch(self, global_batch_size: int, seed: int = 0) -> Dict[str, Any]:
    """Random audio and tokens, every example three quarters of the maximum length."""
    rng = np.random.default_rng(seed)
    b, t, n = global_batch_size, self.max_audio_length, self.max_target_length
    audio = rng.integers(-3000, 3000, (b, t)).astype(np.float32)
    audio_paddings = (np.arange(t) >= t * 3 // 4).astype(np.float32)[None].repeat(b, 0)
    targets = rng.integers(1, self.vocab_size, (b, n)).astype(np.int32)
    target_paddings = (np.arange(n) >= n * 3 // 4).astype(np.float32)[None].repeat(b, 0)
    return {
      'inputs': (audio * (1 - audio_paddings), audio_paddings),
      'targets': (targets * (1 - target_paddings).astype(np.int32), target_paddings),
    }

  # ----- Evaluation. -----
  def tokenizer(self, data_dir: Optional[str] = None):
    """The SentencePiece model: ``tokenizer_vocab_path``, else ``data_dir/spm_model.vocab``."""
    path = self.tokenizer_vocab_path or os.path.join(
      self._data_dir(data_dir), input_pipeline.TOKENIZER_FILE
    )
    full_scale.require_path(
      path, self.dataset, os.path.dirname(path), 'the SentencePiece tokenizer'
    )
    return metrics.load_tokenizer(os.path.abspath(path))

  def _eval_outputs(self, params, model_state, batch):
    logits_batch, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    loss = self.loss_fn(batch['targets'], logits_batch, batch['weights'])
    decoded, decoded_paddings = metrics.greedy_decode(*logits_batch)
    return {
      'summed': loss['summed'],
      'decoded': decoded,
      'decoded_paddings': decoded_paddings,
    }

  def _eval_model_on_split(
    self,
    split,
    num_examples,
    global_batch_size,
    params,
    model_state,
    rng,
    data_dir,
    global_step=0,
  ):
    """``{'ctc_loss', 'wer'}`` over the first ``num_examples`` of ``split``."""
    del rng, global_step
    tokenizer = self.tokenizer(data_dir)
    loader = self._loader(split, data_dir)
    summed = tokens = errors = words = 0.0
    batches = input_pipeline.eval_batches(
      loader, global_batch_size, num_examples, jax_sharding_utils.place_batch
    )
    for batch in batches:
      out = jax.device_get(self._eval_step(params, model_state, batch))
      host = jax.device_get(batch)
      summed += float(out['summed'])
      tokens += float(np.sum((1 - host['targets'][1]) * (host['weights'][:, None] > 0)))
      e, w = metrics.word_errors(
        out['decoded'], out['decoded_paddings'], *host['targets'], host['weights'], tokenizer
      )
      errors, words = errors + e, words + w
    return {'ctc_loss': summed / max(tokens, 1.0), 'wer': errors / max(words, 1.0)}


class LibriSpeechConformerAttentionTemperatureWorkload(LibriSpeechConformerWorkload):
  """Variant: attention outputs multiplied by 1.6."""

  name = 'librispeech_conformer_attention_temperature'
  attention_temperature = 1.6


class LibriSpeechConformerLayerNormWorkload(LibriSpeechConformerWorkload):
  """Variant: no LayerNorm at the end of each Conformer block."""

  name = 'librispeech_conformer_layernorm'
  use_post_layer_norm = False


class LibriSpeechConformerGeluWorkload(LibriSpeechConformerWorkload):
  """Variant: GELU instead of swish in the feed-forward and convolution modules."""

  name = 'librispeech_conformer_gelu'
  activation = 'gelu'
