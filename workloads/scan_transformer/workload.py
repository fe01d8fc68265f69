"""The ``scan_transformer`` workload: SCAN-style command -> action translation.

A toy version of AlgoPerf's WMT workload. Data: ``algoperf_like.workloads.scan_transformer.dataset.ScanCommands``
(TFDS builder, generated offline: every SCAN command with at most 16 actions,
random split 12k/1k/1k). Model: :class:`Seq2SeqTransformer`, 1+1 layers, width
64, 4 heads, MLP width 128, pre-layer-norm, trained with teacher forcing.

Loss (:func:`sequence_cross_entropy`): softmax cross-entropy over target tokens,
padding (token id 0 in ``targets``) masked. ``per_example`` is an example's
*summed* token loss and ``n_valid_examples`` the number of valid *examples*
(the generic API counts examples; AlgoPerf's WMT divides by tokens instead,
which differs from this only by a per-batch constant factor).

Target metric: ``accuracy``, exact-match sequence accuracy under greedy
decoding. Greedy decoding is deterministic, so it reproduces a target exactly
when, fed the target's own prefix, the model's argmax is right at every target
position up to and including EOS: we compute it from one teacher-forced pass.
:func:`greedy_decode` runs the decoding itself and the tests check that both
agree. Also reported: ``loss`` (per target token) and ``token_accuracy``.
"""

from __future__ import annotations

from typing import Dict, Optional

import jax
import jax.numpy as jnp
import optax

from algoperf_like import spec
from algoperf_like.workloads.common import params as param_utils
from algoperf_like.workloads.common.in_memory import (
  InMemoryWorkload,
  init_params,
  make_constants,
  sum_outputs,
)
from algoperf_like.workloads.scan_transformer import dataset
from algoperf_like.workloads.scan_transformer.model import (
  Seq2SeqTransformer,
  greedy_decode,
  shift_right,
)

_ATTENTION_TYPES = {
  ('query', 'kernel'): spec.ParameterType.ATTENTION_Q,
  ('key', 'kernel'): spec.ParameterType.ATTENTION_K,
  ('value', 'kernel'): spec.ParameterType.ATTENTION_V,
  ('out', 'kernel'): spec.ParameterType.ATTENTION_OUT,
}


def sequence_cross_entropy(
  labels: jnp.ndarray,
  logits: jnp.ndarray,
  mask: Optional[jnp.ndarray] = None,
  label_smoothing: float = 0.0,
  pad_id: int = dataset.PAD,
) -> Dict[str, jnp.ndarray]:
  r"""Token-level softmax cross-entropy, summed per example, padding masked.

  .. math::
    \ell_b = m_b \sum_t [y_{bt} \ne \mathrm{pad}]\;
    \Bigl(-\sum_c \tilde y_{btc} \log \operatorname{softmax}(z_{bt})_c\Bigr),
    \qquad \tilde y = (1-\alpha)\,\mathrm{onehot}(y) + \alpha / C

  Args:
    labels: target token ids ``[B, T]``; ``pad_id`` marks padding.
    logits: ``[B, T, C]``.
    mask: 1 for real examples, 0 for padded ones, ``[B]`` (None: all real).
    label_smoothing: :math:`\alpha`.
    pad_id: the padding token id.

  Returns:
    ``per_example`` :math:`\ell_b` ``[B]``, ``summed`` their sum, and
    ``n_valid_examples`` :math:`\sum_b m_b` (examples, not tokens).
  """
  one_hot = jax.nn.one_hot(labels, logits.shape[-1])
  # No ``if label_smoothing:``: submissions pass a traced value under jit.
  one_hot = optax.smooth_labels(one_hot, label_smoothing)
  token_loss = optax.softmax_cross_entropy(logits, one_hot)
  token_loss = jnp.where(labels != pad_id, token_loss, 0.0)
  if mask is None:
    mask = jnp.ones(labels.shape[:1], logits.dtype)
  per_example = token_loss.sum(axis=1) * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}


def sequence_sums(
  labels: jnp.ndarray, logits: jnp.ndarray, mask: jnp.ndarray, pad_id: int = dataset.PAD
) -> Dict[str, jnp.ndarray]:
  """Per-batch sums for evaluation, from teacher-forced logits.

  A sequence is exactly right when the argmax is right at every non-padding
  target position (the EOS included); tokens after EOS are not compared.

  Returns:
    ``loss`` (summed token loss), ``tokens`` (valid tokens), ``tokens_correct``,
    ``sequences_correct`` and ``count`` (valid examples).
  """
  valid = (labels != pad_id) & (mask[:, None] > 0)
  token_loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  correct = jnp.argmax(logits, axis=-1) == labels
  exact = jnp.all(correct | (labels == pad_id), axis=1) & (mask > 0)
  return {
    'loss': jnp.where(valid, token_loss, 0.0).sum(),
    'tokens': valid.sum(),
    'tokens_correct': (correct & valid).sum(),
    'sequences_correct': exact.sum(),
    'count': mask.sum(),
  }


def exact_match(
  predictions: jnp.ndarray, labels: jnp.ndarray, pad_id: int = dataset.PAD
) -> jnp.ndarray:
  """Per-example exact match of decoded tokens against targets, positions up to EOS."""
  return jnp.all((predictions == labels) | (labels == pad_id), axis=1)


class ScanTransformerWorkload(InMemoryWorkload):
  """SCAN-style translation with a pre-layer-norm :class:`Seq2SeqTransformer`."""

  name = 'scan_transformer'
  algoperf_base_workload = 'wmt'
  builder_cls = dataset.ScanCommands
  loss_type = spec.LossType.SOFTMAX_CROSS_ENTROPY
  output_param_key = 'output'
  post_layer_norm = False
  model_kwargs = dict(
    d_model=64,
    num_heads=4,
    mlp_dim=128,
    num_encoder_layers=1,
    num_decoder_layers=1,
    activation='relu',
  )

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, dataset.SPLIT_SIZES, eval_batch_size=1000)
    self._dropout_rate = 0.0

  def _model(self, dropout_rate: Optional[float] = None) -> Seq2SeqTransformer:
    rate = self._dropout_rate if dropout_rate is None else dropout_rate
    return Seq2SeqTransformer(
      vocab_size=dataset.VOCAB_SIZE,
      post_layer_norm=self.post_layer_norm,
      dropout_rate=rate,
      pad_id=dataset.PAD,
      **self.model_kwargs,
    )

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del aux_dropout_rate  # Attention dropout is not used.
    self._dropout_rate = dropout_rate or 0.0
    inputs = jnp.zeros((1, dataset.INPUT_LENGTH), jnp.int32)
    targets = jnp.zeros((1, dataset.TARGET_LENGTH), jnp.int32)
    params = init_params(self._model(), rng, inputs, targets)
    self._param_shapes = param_utils.param_shapes(params)
    self._param_types = jax.tree_util.tree_map_with_path(
      lambda path, t: _ATTENTION_TYPES.get(tuple(str(getattr(p, 'key', p)) for p in path[-2:]), t),
      param_utils.param_types(params),
    )
    return params, None

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
    """Teacher-forced logits ``[B, TARGET_LENGTH, VOCAB_SIZE]``.

    The decoder input is ``targets`` shifted right behind a BOS token.
    """
    del update_batch_norm, use_running_average_bn
    batch = augmented_and_preprocessed_input_batch
    train = mode == spec.ForwardPassMode.TRAIN
    model = self._model(dropout_rate)
    decoder_inputs = shift_right(batch['targets'], dataset.BOS)
    rngs = {'dropout': rng} if train and model.dropout_rate > 0 else None
    logits = model.apply(
      {'params': params}, batch['inputs'], decoder_inputs, train=train, rngs=rngs
    )
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return sequence_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  def greedy_decode(self, params, inputs: jnp.ndarray) -> jnp.ndarray:
    """Greedy decoding of ``TARGET_LENGTH`` tokens from source tokens (jit-able)."""
    return greedy_decode(self._model(0.0), params, inputs, dataset.TARGET_LENGTH, dataset.BOS)

  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    return sequence_sums(batch['targets'], logits, batch['weights'])

  def _metrics(self, outputs):
    totals = sum_outputs(outputs)
    return {
      'loss': totals['loss'] / totals['tokens'],
      'accuracy': totals['sequences_correct'] / totals['count'],
      'token_accuracy': totals['tokens_correct'] / totals['tokens'],
    }


class ScanTransformerPostLnWorkload(ScanTransformerWorkload):
  """Variant: post-layer-norm blocks, ``LN(x + f(x))`` (as AlgoPerf's ``wmt_post_ln``)."""

  name = 'scan_transformer_post_ln'
  post_layer_norm = True
