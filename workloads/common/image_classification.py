"""Image classification on a TFDS dataset that fits in host memory (AlgoPerf's MNIST, CIFAR-10).

The prepared TFDS split is decoded once per process into uint8 arrays; splits are cut
as AlgoPerf cuts them (``train``/``eval_train``: the first ``num_train_examples`` of
TFDS ``train``, ``validation``: the next ``num_validation_examples``, ``test``: TFDS
``test``). Training batches come from :class:`AugmentedTrainBatches`: every epoch a
fresh permutation of the training examples (AlgoPerf shuffles through a buffer of
16 batches instead; a full permutation is the uniform shuffle that buffer
approximates), the workload's train-time preprocessing drawn from a generator seeded
by ``(data seed, batch number)``, so the stream is deterministic from the data key and
resumes exactly (``get_state`` / ``set_state``). Evaluation batches are padded to the
eval batch size, with ``weights`` 0 on padding; sums are divided by the split's
example count, as AlgoPerf does. The eval-train split is a fixed random subset (seed
0) of ``num_eval_train_examples`` training examples, preprocessed as for evaluation.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Callable, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale, input_pipeline, losses

_LOCK = threading.Lock()
_CACHE: Dict[tuple, Dict[str, np.ndarray]] = {}
_EVAL_TRAIN_SEED = 0


def load_tfds_split(
  tfds_name: str, split: str, data_dir: str, dataset: str, algoperf_subdir: Optional[str] = None
) -> Dict[str, np.ndarray]:
  """``{'image': uint8 [N, H, W, C], 'label': int32 [N]}`` of a prepared TFDS split.

  Reads ``data_dir`` (where ``datasets prepare`` puts it), or else
  ``data_dir/algoperf_subdir`` where AlgoPerf's ``dataset_setup.py`` puts it
  (``MNIST``, ``cifar10``). Cached per process. Raises
  :class:`full_scale.DatasetMissingError` when the dataset is in neither.
  """
  import tensorflow_datasets as tfds  # Heavy: only when data is needed.

  key = (tfds_name, split, data_dir)
  with _LOCK:
    if key in _CACHE:
      return _CACHE[key]
    tfds.display_progress_bar(False)
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    if algoperf_subdir and not builder.is_prepared():
      theirs = tfds.builder(tfds_name, data_dir=os.path.join(data_dir, algoperf_subdir))
      builder = theirs if theirs.is_prepared() else builder
    try:
      ds = builder.as_dataset(split=split, shuffle_files=False).batch(4096)
    except AssertionError:  # TFDS's "could not find data in ...": not prepared there.
      full_scale.require_path(builder.data_dir, dataset, data_dir, f'TFDS {tfds_name}')
      raise
    images, labels = [], []
    for batch in tfds.as_numpy(ds):
      images.append(batch['image'])
      labels.append(batch['label'].astype(np.int32))
    arrays = {'image': np.concatenate(images), 'label': np.concatenate(labels)}
    _CACHE[key] = arrays
    return arrays


class AugmentedTrainBatches(input_pipeline.TrainBatches):
  """:class:`input_pipeline.TrainBatches` with a per-batch random preprocessing.

  ``preprocess(images, rng)`` turns a uint8 batch into model inputs; ``rng`` is
  ``numpy.random.default_rng([seed, batch_number])``, so a resumed stream draws the
  same augmentations. Batches: ``{'inputs', 'targets', 'weights'}``.
  """

  def __init__(
    self,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    preprocess: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    num_batches: Optional[int] = None,
    place: Optional[Callable] = None,
  ) -> None:
    super().__init__({'inputs': images, 'targets': labels}, batch_size, seed, num_batches)
    self.preprocess, self.final_place = preprocess, place

  def __next__(self):
    number = self.produced
    batch = super().__next__()
    rng = np.random.default_rng([self.seed, number])
    batch['inputs'] = self.preprocess(batch['inputs'], rng)
    return self.final_place(batch) if self.final_place else batch


class ImageClassificationWorkload(full_scale.FullScaleWorkload):
  """Base class: set ``tfds_name``, ``num_classes`` and the model hooks.

  Subclasses implement ``_preprocess_eval(images) -> float32 inputs`` (and
  ``_preprocess_train(images, rng)`` where training augments), ``init_model_fn``
  and ``model_fn``.
  """

  tfds_name: str
  algoperf_subdir: Optional[str] = (
    None  # Where AlgoPerf's dataset_setup.py puts it in its data_dir.
  )
  num_classes: int = 10
  loss_type = spec.LossType.SOFTMAX_CROSS_ENTROPY

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self._eval_cache: Dict[tuple, list] = {}

  # ----- Data. -----
  def _preprocess_eval(self, images: np.ndarray) -> np.ndarray:
    raise NotImplementedError

  def _preprocess_train(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    del rng
    return self._preprocess_eval(images)

  def _split_arrays(self, split: str, data_dir: Optional[str]) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 images and int32 labels of ``split``, cut from TFDS as AlgoPerf cuts them."""
    data_dir = self._data_dir(data_dir)
    n_train, n_val = self.num_train_examples, self.num_validation_examples
    if split == 'test':
      arrays = load_tfds_split(self.tfds_name, 'test', data_dir, self.dataset, self.algoperf_subdir)
      return arrays['image'], arrays['label']
    arrays = load_tfds_split(self.tfds_name, 'train', data_dir, self.dataset, self.algoperf_subdir)
    if split in ('train', 'eval_train'):
      images, labels = arrays['image'][:n_train], arrays['label'][:n_train]
      if split == 'eval_train':
        order = np.random.default_rng(_EVAL_TRAIN_SEED).permutation(len(labels))
        keep = np.sort(order[: self.num_eval_train_examples])
        images, labels = images[keep], labels[keep]
      return images, labels
    if split == 'validation':
      return arrays['image'][n_train : n_train + n_val], arrays['label'][n_train : n_train + n_val]
    raise ValueError(f'unknown split {split!r}')

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
    images, labels = self._split_arrays(split, data_dir)
    if split == 'train':
      return AugmentedTrainBatches(
        images,
        labels,
        global_batch_size,
        input_pipeline.seed_from_rng(data_rng),
        self._preprocess_train,
        num_batches,
        place=jax_sharding_utils.place_batch,
      )
    arrays = {'inputs': self._preprocess_eval(images), 'targets': labels}
    batches = input_pipeline.eval_batches(arrays, global_batch_size)
    if repeat_final_dataset:
      return _repeat(list(batches))
    return batches

  def synthetic_batch(self, global_batch_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return {
      'inputs': full_scale.random_images(rng, (global_batch_size,) + self.image_shape),
      'targets': rng.integers(0, self.num_classes, (global_batch_size,)).astype(np.int32),
      'weights': np.ones((global_batch_size,), np.float32),
    }

  # ----- Loss and evaluation. -----
  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    return losses.softmax_cross_entropy(label_batch, logits_batch, mask_batch, label_smoothing)

  @functools.partial(jax.jit, static_argnums=(0,))
  def _eval_batch(self, params, model_state, batch):
    logits, _ = self.model_fn(
      params, batch, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    weights = batch['weights']
    loss = self.loss_fn(batch['targets'], logits, weights)['summed']
    correct = jnp.sum((jnp.argmax(logits, axis=-1) == batch['targets']) * weights)
    return {'accuracy': correct, 'loss': loss}

  def _eval_model_on_split(
    self, split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step=0
  ):
    del rng, global_step
    data_dir = self._data_dir(data_dir)
    key = (split, num_examples, global_batch_size, data_dir)
    if key not in self._eval_cache:  # Padded device batches, built once per split.
      images, labels = self._split_arrays(split, data_dir)
      images, labels = images[:num_examples], labels[:num_examples]
      arrays = {'inputs': self._preprocess_eval(images), 'targets': labels}
      place = jax_sharding_utils.shard_along_batch_dim if jax.device_count() > 1 else jax.device_put
      self._eval_cache[key] = [
        place(b) for b in input_pipeline.eval_batches(arrays, global_batch_size, num_examples)
      ]
    totals = {'accuracy': 0.0, 'loss': 0.0}
    for batch in self._eval_cache[key]:
      out = self._eval_batch(params, model_state, batch)
      totals = {k: v + out[k] for k, v in totals.items()}
    return {k: float(v) / num_examples for k, v in jax.device_get(totals).items()}


def _repeat(batches):
  while True:
    yield from batches


def tfds_prepare(tfds_name: str, data_dir: str, overwrite: bool) -> str:
  """TFDS ``download_and_prepare`` into ``data_dir`` (as AlgoPerf's ``dataset_setup.py``)."""
  import tensorflow_datasets as tfds

  builder = tfds.builder(tfds_name, data_dir=data_dir)
  if overwrite or not builder.is_prepared():
    mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    if not overwrite:
      mode = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
  return f'{tfds_name}: TFDS data at {os.path.join(data_dir, builder.info.full_name)}'
