"""The ``ctc_digits`` workload: transcribe sequences of MNIST-1D digits with CTC.

A CPU-sized analogue of AlgoPerf's LibriSpeech workloads: ``model_fn`` returns
``(logits, logit_paddings)`` as AlgoPerf's speech models do, the loss is CTC
(per sequence, divided by its number of digits), and the target metric is the
validation ``wer``, here the digit error rate: the edit distance between the
greedy CTC decoding and the reference, summed over examples, over the total
reference length. Data: ``algoperf_like.workloads.ctc_digits.dataset.CtcDigits`` (TFDS
builder, generated offline).
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from algoperf_like import spec
from algoperf_like.workloads.common import losses, metrics
from algoperf_like.workloads.common.in_memory import InMemoryWorkload, init_params, make_constants
from algoperf_like.workloads.ctc_digits import dataset
from algoperf_like.workloads.ctc_digits.model import CtcDigitsModel

BLANK_ID = 0  # Label ids: blank 0, digit d -> d + 1.


def label_ids_and_paddings(targets):
  """CTC labels (digit + 1) and label paddings (1 where ``targets == PAD_ID``)."""
  paddings = (targets == dataset.PAD_ID).astype(jnp.float32)
  labels = jnp.where(targets == dataset.PAD_ID, BLANK_ID, targets + 1).astype(jnp.int32)
  return labels, paddings


class CtcDigitsWorkload(InMemoryWorkload):
  """Digit-sequence transcription with :class:`CtcDigitsModel` (ReLU)."""

  name = 'ctc_digits'
  algoperf_base_workload = 'librispeech_conformer'
  activation = 'relu'
  channels = (32, 64)
  hidden = 32
  builder_cls = dataset.CtcDigits
  loss_type = spec.LossType.CTC_LOSS
  output_param_key = 'Dense_out'
  eval_features = ('inputs', 'input_paddings', 'targets')

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self.constants = make_constants(self.name, dataset.SPLIT_SIZES, eval_batch_size=1000)
    self._model = CtcDigitsModel(
      num_classes=dataset.NUM_DIGITS + 1,
      channels=self.channels,
      hidden=self.hidden,
      activation=self.activation,
    )

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # Dropout comes through model_fn.
    dummy = jnp.zeros((1, dataset.SEQUENCE_LENGTH), jnp.float32)
    params = init_params(self._model, rng, dummy, dummy)
    self._set_param_info(params)
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
    """Returns ``((logits [B, T', 11], logit_paddings [B, T']), model_state)``."""
    del update_batch_norm, use_running_average_bn
    train = mode == spec.ForwardPassMode.TRAIN
    batch = augmented_and_preprocessed_input_batch
    rngs = {'dropout': rng} if train and dropout_rate else None
    outputs = self._model.apply(
      {'params': params},
      batch['inputs'],
      batch['input_paddings'],
      train=train,
      dropout_rate=dropout_rate,
      rngs=rngs,
    )
    return outputs, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    """CTC loss per sequence over its number of digits; label paddings from ``PAD_ID``."""
    del label_smoothing  # Not defined for CTC.
    logits, logit_paddings = logits_batch
    labels, label_paddings = label_ids_and_paddings(label_batch)
    return losses.ctc_loss_per_label(
      logits, logit_paddings, labels, label_paddings, mask_batch, blank_id=BLANK_ID
    )

  def _eval_batch(self, params, model_state, batch):
    logits_batch, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    weights = batch['weights']
    loss = self.loss_fn(batch['targets'], logits_batch, weights)
    decoded = metrics.ctc_greedy_decode(*logits_batch, blank_id=BLANK_ID, fill=-1)
    # Decoded label ids back to digits (PAD_ID after the decoded ones).
    decoded = jnp.where(decoded >= 0, decoded - 1, dataset.PAD_ID)
    return {
      'loss': loss['summed'],
      'count': weights.sum(),
      'decoded': decoded,
      'targets': batch['targets'],
      'weights': weights,
    }

  def _metrics(self, outputs):
    loss = sum(float(o['loss']) for o in outputs)
    count = sum(float(o['count']) for o in outputs)
    errors = words = 0
    for o in outputs:
      for hyp, ref, w in zip(o['decoded'], o['targets'], o['weights']):
        if w > 0:
          ref = ref[ref != dataset.PAD_ID]
          errors += metrics.edit_distance(hyp[hyp != dataset.PAD_ID].tolist(), ref.tolist())
          words += len(ref)
    return {'loss': loss / count, 'wer': errors / words}


class CtcDigitsGeluWorkload(CtcDigitsWorkload):
  """Variant: GELU instead of ReLU activations (its own target)."""

  name = 'ctc_digits_gelu'
  activation = 'gelu'
