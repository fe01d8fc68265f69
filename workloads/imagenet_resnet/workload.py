"""AlgoPerf's ``imagenet_resnet``: ResNet-50 on ImageNet 2012, and its three variants.

Model: :class:`~algoperf_like.workloads.imagenet_resnet.model.ResNet` (ResNet-50 v1,
AlgoPerf's parameter tree and initialisation; BatchNorm statistics are the model state,
``{'batch_stats': ...}``). Data: TFDS ``imagenet2012:5.1.0`` from ``--data_dir``
(``algoperf-like datasets prepare --dataset=imagenet``), AlgoPerf's preprocessing
(:mod:`.input_pipeline`); the test split is ImageNet-v2 matched-frequency, read from
``imagenet_v2_data_dir`` (``eval_model``'s argument) or else from ``--data_dir``. Loss:
softmax cross-entropy with label smoothing, against integer labels or soft (mixup)
targets. Metrics: ``loss`` and top-1 ``accuracy`` on the eval-train subset, validation
(50 000) and test (10 000), padded batches masked, sums divided by the example count.

Variants (each with AlgoPerf's own targets): ``imagenet_resnet_silu`` (SiLU for ReLU),
``imagenet_resnet_gelu`` (GELU), ``imagenet_resnet_large_bn_init`` (each block's last
BatchNorm scale starts at 8 instead of 0).

Differences from AlgoPerf's JAX workload: see :mod:`.input_pipeline` (a fixed eval-train
subset); the training batches also carry ``weights`` (all ones), which data-selection
submissions here read; ``model_params_types`` follows AlgoPerf's naming rules but keeps
the parameter tree's own (not lower-cased) keys, so that it maps over the parameters.
"""

from __future__ import annotations

import functools
import itertools
import os
from typing import Dict, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.imagenet_resnet import input_pipeline
from algoperf_like.workloads.imagenet_resnet.model import ResNet

ACTIVATIONS = {'relu': nn.relu, 'silu': nn.silu, 'gelu': nn.gelu}


def algoperf_param_types(params):
  """AlgoPerf's ``jax_param_types`` rules (on lower-cased module paths), same tree as ``params``."""
  P = spec.ParameterType

  def leaf_type(path, _):
    names = [str(getattr(p, 'key', p)).lower() for p in path]
    name, parent = names[-1], '/' + '/'.join(names[:-1])
    if 'batchnorm' in parent or 'bn' in parent:
      return P.BATCH_NORM_SCALE if name == 'scale' else P.BATCH_NORM_BIAS
    if 'layernorm' in parent or 'ln' in parent:
      return P.LAYER_NORM_SCALE if name == 'scale' else P.LAYER_NORM_BIAS
    if 'conv' in parent:
      return P.BIAS if 'bias' in name else P.CONV_WEIGHT
    if 'embedding' in name or ('embedding' in parent and name == 'kernel'):
      return P.EMBEDDING
    if 'attention' in parent:
      if name == 'bias':
        return P.ATTENTION_BIAS
      for part, kind in (
        ('key', P.ATTENTION_K),
        ('query', P.ATTENTION_Q),
        ('value', P.ATTENTION_V),
        ('out', P.ATTENTION_OUT),
      ):
        if part in parent and name == 'kernel':
          return kind
      return P.WEIGHT
    return P.BIAS if 'bias' in name else P.WEIGHT

  return jax.tree_util.tree_map_with_path(leaf_type, params)


@functools.lru_cache(maxsize=None)
def jitted_init(model: nn.Module):
  """``jax.jit(model.init)``, compiled once per model configuration (Flax modules hash by it)."""
  return jax.jit(model.init)


def softmax_cross_entropy(labels, logits, mask=None, label_smoothing=0.0, num_classes=1000):
  """AlgoPerf's ImageNet loss: integer labels ``[B]`` or soft targets ``[B, C]``."""
  targets = labels if labels.ndim == logits.ndim else jax.nn.one_hot(labels, num_classes)
  targets = optax.smooth_labels(targets, label_smoothing)  # Arithmetic: may be traced.
  per_example = -jnp.sum(targets * jax.nn.log_softmax(logits, axis=-1), axis=-1)
  if mask is None:
    mask = jnp.ones_like(per_example)
  per_example = per_example * mask
  return {'summed': per_example.sum(), 'n_valid_examples': mask.sum(), 'per_example': per_example}


class ImagenetResNetWorkload(full_scale.FullScaleWorkload):
  """ResNet-50 on ImageNet; class attributes set the model and image sizes."""

  name = 'imagenet_resnet'
  algoperf_base_workload = 'imagenet_resnet'
  dataset = 'imagenet'
  default_batch_size = 1024
  output_param_keys = ('Dense_0',)
  loss_type = spec.LossType.SOFTMAX_CROSS_ENTROPY
  num_classes = input_pipeline.NUM_CLASSES

  # Model.
  activation = 'relu'
  bn_init_scale = 0.0
  stage_sizes: Sequence[int] = (3, 4, 6, 3)
  num_filters = 64
  # Data (AlgoPerf's; tests shrink image_size).
  image_size = 224
  resize_size = 256
  use_randaug = False
  use_mixup = False

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self._model = self._build_model()
    self._eval_datasets: Dict[tuple, object] = {}

  # ----- Model. -----
  def _build_model(self) -> nn.Module:
    return ResNet(
      num_classes=self.num_classes,
      stage_sizes=tuple(self.stage_sizes),
      num_filters=self.num_filters,
      act=ACTIVATIONS[self.activation],
      bn_init_scale=self.bn_init_scale,
    )

  def _dummy_inputs(self):
    return jnp.ones((1, self.image_size, self.image_size, 3), jnp.float32)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # No dropout in ResNet-50.
    variables = jitted_init(self._model)({'params': rng}, self._dummy_inputs())
    params = variables['params']
    model_state = {k: v for k, v in variables.items() if k != 'params'}
    self._set_param_info(params, algoperf_param_types(params))
    return params, model_state

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
    del mode, rng, dropout_rate
    variables = {'params': params, **model_state}
    inputs = augmented_and_preprocessed_input_batch['inputs']
    if update_batch_norm:
      return self._model.apply(
        variables,
        inputs,
        update_batch_norm=True,
        use_running_average_bn=use_running_average_bn,
        mutable=['batch_stats'],
      )
    logits = self._model.apply(
      variables,
      inputs,
      update_batch_norm=False,
      use_running_average_bn=use_running_average_bn,
      mutable=False,
    )
    return logits, model_state

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return softmax_cross_entropy(
      label_batch, logits_batch, mask_batch, label_smoothing, self.num_classes
    )

  # ----- Data. -----
  def _preprocessing(self, train: bool) -> input_pipeline.Preprocessing:
    return input_pipeline.Preprocessing(
      mean_rgb=tuple(self.train_mean),
      stddev_rgb=tuple(self.train_stddev),
      image_size=self.image_size,
      resize_size=self.resize_size,
      use_randaug=self.use_randaug and train,
      use_mixup=self.use_mixup and train,
    )

  def _builder(self, split: str, data_dir: Optional[str]):
    data_dir = self._data_dir(data_dir)
    name = input_pipeline.IMAGENET_V2 if split == 'test' else input_pipeline.IMAGENET
    builder = input_pipeline.builder(data_dir, name)
    what = 'ImageNet-v2 (the test split)' if split == 'test' else 'ImageNet 2012'
    full_scale.require_path(
      os.path.join(builder.data_dir, 'dataset_info.json'), self.dataset, data_dir, what
    )
    return builder

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
    builder = self._builder(split, data_dir)
    place = jax_sharding_utils.place_batch
    if split == 'train':
      cfg = self._preprocessing(train=True)
      make = lambda start: input_pipeline.train_dataset(
        builder, data_rng, global_batch_size, cfg, start_batch=start, cache=bool(cache)
      )
      return input_pipeline.TrainStream(make, global_batch_size, num_batches, place)
    num_examples = self.num_eval_train_examples if split == 'eval_train' else None
    ds = input_pipeline.eval_dataset(
      builder, split, global_batch_size, self._preprocessing(False), num_examples, bool(cache)
    )
    if repeat_final_dataset:
      ds = ds.repeat()
    batches = input_pipeline.padded_batches(ds, global_batch_size, place)
    return itertools.islice(batches, num_batches) if num_batches else batches

  def synthetic_batch(self, global_batch_size: int, seed: int = 0):
    return input_pipeline.synthetic_batch(
      global_batch_size, self.image_size, seed, soft_targets=self.use_mixup
    )

  # ----- Evaluation. -----
  @functools.partial(jax.jit, static_argnums=(0,))
  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    weights = batch['weights']
    loss = self.loss_fn(batch['targets'], logits, weights)['summed']
    correct = jnp.sum((jnp.argmax(logits, axis=-1) == batch['targets']) * weights)
    return {'loss': loss, 'accuracy': correct}

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    del rng, global_step
    key = (split, global_batch_size, data_dir or self.data_dir)
    if key not in self._eval_datasets:  # Records cached in memory after the first pass.
      builder = self._builder(split, data_dir)
      limit = num_examples if split == 'eval_train' else None
      self._eval_datasets[key] = input_pipeline.eval_dataset(
        builder, split, global_batch_size, self._preprocessing(False), limit, cache=True
      )
    totals = {'loss': 0.0, 'accuracy': 0.0}
    for batch in input_pipeline.padded_batches(
      self._eval_datasets[key], global_batch_size, jax_sharding_utils.place_batch
    ):
      sums = self._eval_batch(params, model_state, batch)
      totals = {k: totals[k] + v for k, v in sums.items()}
    return {k: float(np.asarray(v)) / num_examples for k, v in totals.items()}

  def eval_model(
    self,
    global_batch_size,
    params,
    model_state,
    rng,
    data_dir,
    imagenet_v2_data_dir,
    global_step,
  ):
    """Train subset, validation, and test on ImageNet-v2 (``imagenet_v2_data_dir`` or ``data_dir``)."""
    results = {}
    splits = (
      ('train', 'eval_train', self.num_eval_train_examples, data_dir),
      ('validation', 'validation', self.num_validation_examples, data_dir),
      ('test', 'test', self.num_test_examples, imagenet_v2_data_dir or data_dir),
    )
    for prefix, split, num_examples, split_dir in splits:
      metrics = self._eval_model_on_split(
        split, num_examples, global_batch_size, params, model_state, rng, split_dir, global_step
      )
      results.update({f'{prefix}/{k}': v for k, v in metrics.items()})
      if prefix != 'train':
        results[f'{prefix}/num_examples'] = num_examples
    return results


class ImagenetResNetSiLUWorkload(ImagenetResNetWorkload):
  """Variant: SiLU instead of ReLU."""

  name = 'imagenet_resnet_silu'
  activation = 'silu'
  default_batch_size = 512


class ImagenetResNetGELUWorkload(ImagenetResNetWorkload):
  """Variant: GELU instead of ReLU."""

  name = 'imagenet_resnet_gelu'
  activation = 'gelu'
  default_batch_size = 512


class ImagenetResNetLargeBNScaleWorkload(ImagenetResNetWorkload):
  """Variant: the last BatchNorm of each block starts with scale 8 (not 0)."""

  name = 'imagenet_resnet_large_bn_init'
  bn_init_scale = 8.0
