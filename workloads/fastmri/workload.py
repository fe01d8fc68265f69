"""AlgoPerf's ``fastmri`` workloads: a U-Net reconstructs 4x-undersampled knee MRI slices.

Model: :class:`~algoperf_like.workloads.fastmri.model.UNet` (AlgoPerf's parameter tree
and initialisation; 32 channels, 4 pooling layers, leaky ReLU, instance norm).
Variants as AlgoPerf's: ``fastmri_model_size`` (64 channels, 3 pooling layers),
``fastmri_tanh`` (tanh), ``fastmri_layernorm`` (LayerNorm in the conv blocks). Data:
fastMRI single-coil knee ``.h5`` volumes under ``--data_dir`` (``algoperf-like datasets
prepare --dataset=fastmri``), split and preprocessed as AlgoPerf's input pipeline
(:mod:`.input_pipeline`). Loss: mean absolute error per slice; metrics: ``ssim``
(:mod:`.ssim`, as AlgoPerf computes it) and ``loss`` per split, summed over real
examples and divided by the split's example count. Constants are AlgoPerf v0.6's.

Differs from AlgoPerf's JAX code: ``dropout_rate`` reaches the conv blocks (AlgoPerf's
never does, so there dropout is always off; at rate 0 or None both are the same
function); the training stream's order (see :mod:`.input_pipeline`).
"""

from __future__ import annotations

import functools
from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale, input_pipeline, losses
from algoperf_like.workloads.fastmri import input_pipeline as mri_input
from algoperf_like.workloads.fastmri import model, ssim


@functools.lru_cache(maxsize=None)
def _jitted_init(module):
  """``jax.jit(module.init)``, once per model configuration (Flax modules hash by it)."""
  return jax.jit(module.init, static_argnames=('train',))


class FastMRIWorkload(full_scale.FullScaleWorkload):
  """fastMRI knee single-coil reconstruction with AlgoPerf's U-Net."""

  name = 'fastmri'
  algoperf_base_workload = 'fastmri'
  dataset = 'fastmri'
  default_batch_size = 32  # AlgoPerf's NAdamW baseline (jax_nadamw_full_budget).
  output_param_keys = ('Conv_0',)
  loss_type = spec.LossType.MEAN_ABSOLUTE_ERROR
  num_channels = 32
  num_pool_layers = 4
  use_tanh = False
  use_layer_norm = False
  image_size = 320  # Targets are 320x320.
  init_batch = 13  # AlgoPerf's init batch (shapes only).
  num_validation_volumes = mri_input.NUM_VALIDATION_VOLUMES  # The rest of val is the test split.

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self._eval_cache: Dict[tuple, list] = {}
    self._readers: Dict[tuple, mri_input.SliceReader] = {}

  def _model(self) -> model.UNet:
    return model.UNet(
      num_channels=self.num_channels,
      num_pool_layers=self.num_pool_layers,
      use_tanh=self.use_tanh,
      use_layer_norm=self.use_layer_norm,
    )

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # Dropout comes through model_fn.
    fake = jnp.zeros((self.init_batch, self.image_size, self.image_size), jnp.float32)
    params_rng, _ = jax.random.split(rng)  # As AlgoPerf: same key, same initial weights.
    params = _jitted_init(self._model())({'params': params_rng}, fake, train=False)['params']
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
    del model_state, update_batch_norm, use_running_average_bn
    train = mode == spec.ForwardPassMode.TRAIN
    outputs = self._model().apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=train,
      dropout_rate=0.0 if dropout_rate is None else dropout_rate,
      rngs={'dropout': rng} if train and rng is not None else None,
    )
    return outputs, None

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    del label_smoothing  # Not defined for a regression loss.
    return losses.mean_absolute_error(label_batch, logits_batch, mask_batch)

  # ----- Data. -----
  def _root(self, data_dir: Optional[str]) -> str:
    data_dir = self._data_dir(data_dir)
    root = mri_input.dataset_root(data_dir)
    for folder in (mri_input.TRAIN_DIR, mri_input.VAL_DIR):
      full_scale.require_path(
        f'{root}/{folder}', self.dataset, data_dir, f'fastMRI {folder} (.h5 volumes)'
      )
    return root

  def _reader(self, split: str, data_dir: Optional[str], seed: int) -> mri_input.SliceReader:
    root = self._root(data_dir)
    if split == 'train':
      mask_fn = functools.partial(_train_mask, seed=seed)
    elif split == 'eval_train':
      mask_fn = functools.partial(_train_mask, seed=mri_input._EVAL_TRAIN_SEED)
    else:
      mask_fn = _eval_mask
    key = (split, root, seed if split == 'train' else None)
    if key not in self._readers:
      files = mri_input.split_files(root, split, self.num_validation_volumes)
      if not files:
        raise full_scale.DatasetMissingError(
          f'no .h5 volumes for split {split} under {root}; prepare them with '
          f'`algoperf-like datasets prepare --dataset={self.dataset} --data_dir=DIR`'
        )
      self._readers[key] = mri_input.SliceReader(files, mask_fn)
    return self._readers[key]

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
    seed = input_pipeline.seed_from_rng(data_rng)
    reader = self._reader(split, data_dir, seed)
    if split == 'train':
      return mri_input.TrainBatches(
        reader, global_batch_size, seed, num_batches, place=jax_sharding_utils.place_batch
      )
    batches = self._eval_batches(split, data_dir, global_batch_size, None)
    if num_batches:
      batches = batches[:num_batches]
    if repeat_final_dataset:
      return _repeat(batches)
    return iter(batches)

  def _eval_batches(self, split, data_dir, batch_size, num_examples):
    reader = self._reader(split, data_dir, 0)
    key = (split, reader.files[0], len(reader), batch_size, num_examples)
    if key not in self._eval_cache:  # Host copies, built once per split (AlgoPerf caches too).
      ids = None
      if split == 'eval_train':
        ids = mri_input.eval_train_ids(len(reader), num_examples or len(reader))
      self._eval_cache[key] = mri_input.eval_batches(reader, batch_size, num_examples, ids)
    return self._eval_cache[key]

  def synthetic_batch(self, global_batch_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (global_batch_size, self.image_size, self.image_size)
    return {
      'inputs': full_scale.random_images(rng, shape),
      'targets': full_scale.random_images(rng, shape),
      'mean': rng.uniform(0.0, 1e-4, global_batch_size).astype(np.float32),
      'std': rng.uniform(1e-5, 1e-4, global_batch_size).astype(np.float32),
      'volume_max': rng.uniform(1e-4, 1e-3, global_batch_size).astype(np.float32),
      'weights': np.ones((global_batch_size,), np.float32),
    }

  # ----- Evaluation. -----
  @functools.partial(jax.jit, static_argnums=(0,))
  def _eval_batch(self, params, batch):
    outputs, _ = self.model_fn(
      params, batch, None, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    weights = batch['weights']
    values = ssim.ssim(outputs, batch['targets'], batch['mean'], batch['std'], batch['volume_max'])
    loss = self.loss_fn(batch['targets'], outputs, weights)['summed']
    return {'ssim': jnp.sum(values * weights), 'loss': loss}

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    del model_state, rng, global_step
    place = jax_sharding_utils.shard_along_batch_dim if jax.device_count() > 1 else jax.device_put
    totals = {'ssim': 0.0, 'loss': 0.0}
    for batch in self._eval_batches(split, data_dir, global_batch_size, num_examples):
      out = self._eval_batch(params, place(batch))
      totals = {k: v + out[k] for k, v in totals.items()}
    return {k: float(v) / num_examples for k, v in jax.device_get(totals).items()}


def _train_mask(num_cols, example_id, seed):
  return mri_input.train_mask(num_cols, seed, example_id)


def _eval_mask(num_cols, example_id):
  del example_id  # One fixed mask per width, as AlgoPerf.
  return mri_input.eval_mask(num_cols)


def _repeat(batches):
  while True:
    yield from batches


class FastMRIModelSizeWorkload(FastMRIWorkload):
  """Variant: 64 channels and 3 pooling layers."""

  name = 'fastmri_model_size'
  num_channels = 64
  num_pool_layers = 3


class FastMRITanhWorkload(FastMRIWorkload):
  """Variant: tanh activations."""

  name = 'fastmri_tanh'
  use_tanh = True


class FastMRILayerNormWorkload(FastMRIWorkload):
  """Variant: LayerNorm (over height, width and channels) in the conv blocks."""

  name = 'fastmri_layernorm'
  use_layer_norm = True
