"""AlgoPerf's ``wmt`` workload and its variants: WMT17 German -> English translation.

Model (:mod:`.model`): the encoder-decoder Transformer of AlgoPerf's JAX ``wmt`` (6 + 6
layers, width 1024, 16 heads, MLP 1024, shared 32k embedding, pre-layer-norm), the same
parameter tree and initialisation; dropout 0.1 unless ``model_fn`` is given another rate.
Data (:mod:`.input_pipeline`): TFDS ``wmt17_translate/de-en`` train (packed rows of 256
tokens), ``wmt14_translate/de-en`` validation and test, tokenized with the SentencePiece
model in ``--data_dir`` (32000 pieces). Loss: cross-entropy per target token, weighted by
``weights`` (padding 0), with label smoothing towards the uniform distribution over the
vocabulary (the value may be traced). Evaluation: per-token ``loss`` and ``accuracy``
(teacher forcing) and ``bleu``: beam search (4 beams, length penalty
:math:`((5+L)/6)^{0.6}`, at most 256 tokens), the best beam cut after its first EOS and
detokenized, scored against the references with ``sacrebleu.corpus_bleu`` (13a tokenizer,
exponential smoothing), which is what AlgoPerf's own copy of sacrebleu 1.3.1 computes.

Variants (AlgoPerf's JAX classes): ``wmt_post_ln`` (post-layer-norm, no stack norms),
``wmt_attention_temp`` (queries times 4), ``wmt_glu_tanh`` (tanh GLU MLP).

As AlgoPerf's: the decoded prediction of an example is its tokens up to the first EOS; when
there is none, only its first token (``argmax`` of no match is 0). ``eval_train`` is a
shuffled pass of the training data; its loss and its BLEU are computed on consecutive
passes of its (repeated, reshuffled) stream, as AlgoPerf does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.wmt import decode, input_pipeline
from algoperf_like.workloads.wmt.model import DROPOUT_RATE, Transformer, TransformerConfig

_ACTIVATIONS = {'relu': nn.relu, 'tanh': jnp.tanh}
_ATTENTION_KERNELS = {
  'query': spec.ParameterType.ATTENTION_Q,
  'key': spec.ParameterType.ATTENTION_K,
  'value': spec.ParameterType.ATTENTION_V,
  'out': spec.ParameterType.ATTENTION_OUT,
}


def algoperf_param_types(params):
  """Parameter types as AlgoPerf's ``jax_param_types`` gives them for this model.

  Layer norms' ``scale``/``bias``, the ``embedding``, attention kernels by projection, and
  ``bias`` / ``kernel`` of the dense layers (the keys stay as they are in ``params``).
  """

  def leaf_type(path, _):
    names = [str(getattr(p, 'key', p)).lower() for p in path]
    leaf, parents = names[-1], '/'.join(names[:-1])
    if 'layernorm' in parents:
      return (
        spec.ParameterType.LAYER_NORM_SCALE
        if leaf == 'scale'
        else spec.ParameterType.LAYER_NORM_BIAS
      )
    if leaf == 'embedding':
      return spec.ParameterType.EMBEDDING
    if 'attention' in parents:
      return _ATTENTION_KERNELS[names[-2]]
    return spec.ParameterType.BIAS if leaf == 'bias' else spec.ParameterType.WEIGHT

  return jax.tree_util.tree_map_with_path(leaf_type, params)


def weighted_cross_entropy(
  targets: jnp.ndarray,
  logits: jnp.ndarray,
  weights: Optional[jnp.ndarray] = None,
  label_smoothing=0.0,
) -> Dict[str, jnp.ndarray]:
  r"""Per-token cross-entropy with label smoothing, masked by ``weights``.

  .. math::
    \ell_{bt} = -\sum_v \tilde y_{btv} \log \operatorname{softmax}(z_{bt})_v,\qquad
    \tilde y = (1 - \alpha)\,\mathrm{onehot}(y) + \alpha / V

  Args:
    targets: ``[B, L]`` token ids.
    logits: ``[B, L, V]``.
    weights: ``[B, L]``, nonzero where a token counts (None: all).
    label_smoothing: :math:`\alpha` (may be traced).

  Returns:
    ``{'summed', 'n_valid_examples' (the weight sum: tokens), 'per_example' ([B, L])}``.
  """
  if logits.ndim != targets.ndim + 1:
    raise ValueError(f'logits {logits.shape} do not match targets {targets.shape}')
  smoothed = optax.smooth_labels(jax.nn.one_hot(targets, logits.shape[-1]), label_smoothing)
  per_token = -jnp.sum(smoothed * jax.nn.log_softmax(logits), axis=-1)
  if weights is None:
    weights = jnp.ones_like(targets)
  per_token = jnp.where(weights, per_token, 0.0)
  return {'summed': per_token.sum(), 'n_valid_examples': weights.sum(), 'per_example': per_token}


def decode_tokens(tokenizer, tokens: np.ndarray) -> str:
  """Text of ``tokens`` up to and including the first EOS (AlgoPerf's cut, see the module)."""
  tokens = np.asarray(tokens)
  cut = int(np.argmax(tokens == decode.EOS_ID)) + 1
  return tokenizer.decode(tokens[:cut].astype(np.int32).tolist())


def corpus_bleu(predictions, references) -> float:
  """sacrebleu's corpus BLEU (13a, exponential smoothing), on a 0-100 scale."""
  import sacrebleu

  return float(sacrebleu.corpus_bleu(predictions, [references]).score)


class WmtWorkload(full_scale.FullScaleWorkload):
  """AlgoPerf's ``wmt``: pre-layer-norm Transformer (big widths of 1024, MLP 1024)."""

  name = 'wmt'
  algoperf_base_workload = 'wmt'
  dataset = input_pipeline.DATASET
  default_batch_size = 128
  output_param_keys = ('shared_embedding',)

  vocab_size = 32000
  emb_dim = 1024
  num_heads = 16
  num_layers = 6
  qkv_dim = 1024
  mlp_dim = 1024
  max_len = 256
  pre_ln = True
  attention_temp = 1.0
  activation = 'relu'
  glu = False
  beam_size = 4
  length_penalty_alpha = 0.6
  max_predict_length = 256

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self._tokenizer = None
    self._eval_iters: Dict[str, Any] = {}
    self._config = TransformerConfig(
      vocab_size=self.vocab_size,
      emb_dim=self.emb_dim,
      num_heads=self.num_heads,
      num_layers=self.num_layers,
      qkv_dim=self.qkv_dim,
      mlp_dim=self.mlp_dim,
      max_len=self.max_len,
      activation=_ACTIVATIONS[self.activation],
      glu=self.glu,
      attention_temp=self.attention_temp,
      pre_ln=self.pre_ln,
    )
    self._train_model = Transformer(self._config)
    self._eval_model = Transformer(dataclasses.replace(self._config, deterministic=True))
    self._decode_model = Transformer(
      dataclasses.replace(self._config, deterministic=True, decode=True)
    )
    self._eval_step = jax.jit(self._eval_sums)
    self._predict = jax.jit(self._predict_batch, static_argnums=(2,))

  @property
  def loss_type(self) -> spec.LossType:
    return spec.LossType.SOFTMAX_CROSS_ENTROPY

  # ----- Model. -----
  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The rate is given to model_fn.
    params_rng, dropout_rng = jax.random.split(rng)
    dummy = jnp.ones((2, 8), jnp.int32)
    variables = jax.jit(self._eval_model.init)(
      {'params': params_rng, 'dropout': dropout_rng}, dummy, dummy
    )
    params = variables['params']
    self._set_param_info(params, algoperf_param_types(params))
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
    del model_state, update_batch_norm, use_running_average_bn
    batch = augmented_and_preprocessed_input_batch
    model = self._train_model if mode == spec.ForwardPassMode.TRAIN else self._eval_model
    logits = model.apply(
      {'params': params},
      batch['inputs'],
      batch['targets'],
      inputs_positions=batch.get('inputs_position'),
      targets_positions=batch.get('targets_position'),
      inputs_segmentation=batch.get('inputs_segmentation'),
      targets_segmentation=batch.get('targets_segmentation'),
      dropout_rate=DROPOUT_RATE if dropout_rate is None else dropout_rate,
      rngs={} if rng is None else {'dropout': rng},
    )
    return logits, None

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return weighted_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  # ----- Data. -----
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
    del cache
    data_dir = self._data_dir(data_dir)
    if split == 'train':
      stream, self._tokenizer = input_pipeline.train_stream(
        data_dir, data_rng, global_batch_size, num_batches, jax_sharding_utils.place_batch
      )
      return stream
    stream, self._tokenizer = input_pipeline.eval_stream(
      data_dir,
      split,
      data_rng,
      global_batch_size,
      num_batches,
      bool(repeat_final_dataset),
      jax_sharding_utils.place_batch,
    )
    return stream

  def synthetic_batch(self, global_batch_size: int, seed: int = 0) -> Dict[str, Any]:
    """Packed-shaped rows of random tokens: two sentences a row, every target weighted."""
    rng = np.random.default_rng(seed)
    shape = (global_batch_size, self.max_len)
    half = self.max_len // 2
    position = np.tile(np.arange(self.max_len) % half, (global_batch_size, 1)).astype(np.int32)
    segmentation = (1 + (np.arange(self.max_len) >= half)).astype(np.int32)
    batch = {}
    for key in input_pipeline.KEYS:
      batch[key] = rng.integers(3, self.vocab_size, shape, dtype=np.int32)
      batch[f'{key}_position'] = position
      batch[f'{key}_segmentation'] = np.tile(segmentation, (global_batch_size, 1))
    batch['weights'] = np.ones(shape, np.float32)
    return batch

  # ----- Evaluation. -----
  def _eval_sums(self, params, batch):
    logits = self._eval_model.apply({'params': params}, batch['inputs'], batch['targets'])
    weights = batch['weights']
    loss = weighted_cross_entropy(batch['targets'], logits, weights, 0.0)['summed']
    correct = (jnp.argmax(logits, -1) == batch['targets']) * weights
    return {'loss': loss, 'accuracy': correct.sum(), 'denominator': weights.sum()}

  def _decoder_cache(self, batch_size: int, input_length: int, max_decode_len: int):
    """The decoder's empty cache (zeros: what Flax initialises it to), from shapes only."""
    shapes = jax.eval_shape(
      self._decode_model.init,
      jax.random.PRNGKey(0),
      jnp.ones((batch_size, input_length), jnp.int32),
      jnp.ones((batch_size, max_decode_len), jnp.int32),
    )['cache']
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

  def _predict_batch(self, params, inputs, max_decode_len: int):
    """The best beam of each example, ``[B, max_decode_len - 1]`` (no leading dummy)."""
    batch_size, beams = inputs.shape[0], self.beam_size
    model = self._decode_model
    encoded = model.apply({'params': params}, inputs, method=Transformer.encode)
    encoded = decode.repeat_for_beams(encoded, beams)
    flat_inputs = decode.repeat_for_beams(inputs, beams)

    def step_logits(tokens, cache):
      logits, updated = model.apply(
        {'params': params, 'cache': cache},
        encoded,
        flat_inputs,
        tokens,
        mutable=['cache'],
        method=Transformer.decode,
      )
      return logits[:, 0], updated['cache']

    cache = self._decoder_cache(batch_size, inputs.shape[1], max_decode_len)
    seqs, _ = decode.beam_search(
      batch_size,
      cache,
      step_logits,
      beam_size=beams,
      alpha=self.length_penalty_alpha,
      eos_id=decode.EOS_ID,
      max_decode_len=max_decode_len,
    )
    return seqs[:, -1, 1:]

  def translate(self, params, inputs) -> np.ndarray:
    """Beam-search translations (token ids) of a batch of ``inputs``."""
    return np.asarray(self._predict(params, inputs, self.max_predict_length))

  def _bleu(self, params, batches, num_batches: int) -> float:
    predictions, references = [], []
    for _ in range(num_batches):
      batch = next(batches)
      predicted = self.translate(params, batch['inputs'])
      targets = np.asarray(batch['targets'])
      real = int(np.asarray(batch['weights'])[:, 0].sum())
      for i in range(real):
        references.append(decode_tokens(self._tokenizer, targets[i]))
        predictions.append(decode_tokens(self._tokenizer, predicted[i]))
    return corpus_bleu(predictions, references)

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
    del model_state, global_step
    num_batches = int(math.ceil(num_examples / global_batch_size))
    if split not in self._eval_iters:  # Kept: they repeat, as AlgoPerf's.
      self._eval_iters[split] = self._build_input_queue(
        rng, split, data_dir, global_batch_size, repeat_final_dataset=True, num_batches=num_batches
      )
    batches = self._eval_iters[split]
    totals: Dict[str, float] = {}
    for _ in range(num_batches):
      sums = self._eval_step(params, next(batches))
      for key, value in sums.items():
        totals[key] = totals.get(key, 0.0) + float(value)
    denominator = totals.pop('denominator')
    metrics = {key: value / denominator for key, value in totals.items()}
    metrics['bleu'] = self._bleu(params, batches, num_batches)
    return metrics


class WmtWorkloadPostLN(WmtWorkload):
  """AlgoPerf's ``wmt_post_ln``: layer norm after each residual sum."""

  name = 'wmt_post_ln'
  pre_ln = False


class WmtWorkloadAttentionTemp(WmtWorkload):
  """AlgoPerf's ``wmt_attention_temp``: queries multiplied by 4 before attention."""

  name = 'wmt_attention_temp'
  attention_temp = 4.0


class WmtWorkloadGLUTanH(WmtWorkload):
  """AlgoPerf's ``wmt_glu_tanh``: MLP ``tanh(W_0 x) * (W_1 x)``."""

  name = 'wmt_glu_tanh'
  activation = 'tanh'
  glu = True
