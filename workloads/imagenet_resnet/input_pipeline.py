"""ImageNet input pipeline (tf.data over TFDS ``imagenet2012:5.1.0``), shared by ResNet and ViT.

Training: the train split, repeated and shuffled (a buffer of 16 batches, seeded), each
example decoded with a random-resized crop (``tf.image.stateless_sample_distorted_bounding_box``:
area 8-100 %, aspect ratio 3/4-4/3, 10 attempts, falling back to the centre crop),
resized bicubically to ``image_size``, flipped left-right at random, optionally
RandAugment-ed (ViT: 2 layers, magnitude 10; :mod:`.randaugment`), normalised with
AlgoPerf's mean and standard deviation (of 0-255 pixels), then batched dropping the
remainder and optionally mixed up (ViT: alpha 0.2, each batch with itself rolled by one,
targets becoming soft one-hot vectors). Evaluation: the centre crop of side
``image_size / resize_size`` (224/256) of the shorter edge, resized to ``image_size``.
These are AlgoPerf's JAX ImageNet constants and steps.

Randomness is a function of the data key alone: it splits into a shuffle seed, a
preprocessing seed (folded with each example's position in the stream, as AlgoPerf
does) and a mixup seed (folded with the batch index).

Batches are dicts ``inputs`` float32 ``[B, S, S, 3]``, ``targets`` (int32 labels, or
float32 ``[B, 1000]`` under mixup) and ``weights`` (1 for a real example, 0 for eval
padding), placed (sharded over all local devices) by ``place``.

The training position is checkpointable: :class:`TrainStream` counts the batches it has
produced, and on ``set_state`` rebuilds the same stream and skips that many batches'
worth of (undecoded) records before decoding, so that resume continues the stream.

Differences from AlgoPerf's JAX pipeline, and why: the eval-train subset is fixed (the
first ``num_eval_train_examples`` training images in TFDS's stored order, centre-cropped),
where AlgoPerf draws each evaluation's examples from a continuing shuffled stream; a
fixed subset makes train metrics comparable across evaluations and deterministic.
Evaluation batches are padded to the full batch size here with zero weights, as
AlgoPerf's ``shard_and_maybe_pad_np`` does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

IMAGENET = 'imagenet2012:5.1.0'
IMAGENET_V2 = 'imagenet_v2/matched-frequency:3.0.0'
NUM_CLASSES = 1000
SHUFFLE_BUFFER_BATCHES = 16
SPLITS = {'train': 'train', 'eval_train': 'train', 'validation': 'validation', 'test': 'test'}

Batch = Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """AlgoPerf's ImageNet preprocessing constants (``image_size`` is reduced in tests)."""

  mean_rgb: Tuple[float, float, float]
  stddev_rgb: Tuple[float, float, float]
  image_size: int = 224
  resize_size: int = 256
  aspect_ratio_range: Tuple[float, float] = (0.75, 4.0 / 3.0)
  area_range: Tuple[float, float] = (0.08, 1.0)
  use_randaug: bool = False
  randaug_num_layers: int = 2
  randaug_magnitude: int = 10
  use_mixup: bool = False
  mixup_alpha: float = 0.2


# ----- Seeds. -----
def tf_seeds(data_rng) -> Tuple[int, np.ndarray, np.ndarray]:
  """Shuffle seed (int), preprocessing and mixup seeds (int64 ``[2]``) from a JAX key."""
  import jax

  key = data_rng
  if hasattr(key, 'dtype') and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  key = np.asarray(key, np.uint32).reshape(-1)[-2:]
  shuffle, preprocess, mixup = np.asarray(jax.random.split(key, 3), np.uint32)
  return int(shuffle[0]), preprocess.astype(np.int64), mixup.astype(np.int64)


# ----- Per-image preprocessing (TensorFlow). -----
def _resize(image, size: int):
  import tensorflow as tf

  return tf.image.resize(image, [size, size], method=tf.image.ResizeMethod.BICUBIC)


def decode_and_center_crop(image_bytes, image_size: int, resize_size: int):
  """Decode the central square of side ``image_size / resize_size`` of the short edge."""
  import tensorflow as tf

  shape = tf.io.extract_jpeg_shape(image_bytes)
  h, w = shape[0], shape[1]
  side = tf.cast(image_size / resize_size * tf.cast(tf.minimum(h, w), tf.float32), tf.int32)
  window = tf.stack([(h - side + 1) // 2, (w - side + 1) // 2, side, side])
  image = tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3)
  return _resize(image, image_size)


def decode_and_random_crop(image_bytes, seed, cfg: Preprocessing):
  """Random-resized crop; the centre crop when no box is found (the whole image comes back)."""
  import tensorflow as tf

  shape = tf.io.extract_jpeg_shape(image_bytes)
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
    shape,
    bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
    seed=seed,
    min_object_covered=0.1,
    aspect_ratio_range=cfg.aspect_ratio_range,
    area_range=cfg.area_range,
    max_attempts=10,
    use_image_if_no_bounding_boxes=True,
  )
  window = tf.stack([begin[0], begin[1], size[0], size[1]])
  cropped = tf.io.decode_and_crop_jpeg(image_bytes, window, channels=3)
  whole = tf.reduce_all(tf.equal(tf.shape(cropped), shape))
  return tf.cond(
    whole,
    lambda: decode_and_center_crop(image_bytes, cfg.image_size, cfg.resize_size),
    lambda: _resize(cropped, cfg.image_size),
  )


def normalize(image, cfg: Preprocessing):
  import tensorflow as tf

  mean = tf.constant(cfg.mean_rgb, tf.float32, shape=[1, 1, 3])
  stddev = tf.constant(cfg.stddev_rgb, tf.float32, shape=[1, 1, 3])
  return (tf.cast(image, tf.float32) - mean) / stddev


def preprocess_train(image_bytes, seed, cfg: Preprocessing):
  """Crop, flip, (RandAugment), normalise one training image; ``seed`` int64 ``[2]``."""
  import tensorflow as tf

  from algoperf_like.workloads.imagenet_resnet import randaugment

  crop_seed, flip_seed, augment_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
  image = decode_and_random_crop(image_bytes, crop_seed, cfg)
  image = tf.reshape(image, [cfg.image_size, cfg.image_size, 3])
  image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
  if cfg.use_randaug:
    image = tf.cast(tf.clip_by_value(image, 0.0, 255.0), tf.uint8)
    image = randaugment.randaugment(
      image, cfg.randaug_num_layers, float(cfg.randaug_magnitude), augment_seed
    )
  return normalize(image, cfg)


def preprocess_eval(image_bytes, cfg: Preprocessing):
  import tensorflow as tf

  image = decode_and_center_crop(image_bytes, cfg.image_size, cfg.resize_size)
  return normalize(tf.reshape(image, [cfg.image_size, cfg.image_size, 3]), cfg)


def mixup(seed, inputs, labels, alpha: float, num_classes: int = NUM_CLASSES):
  r"""Mix a batch with itself rolled by one example (Zhang et al., 2017, arXiv:1710.09412).

  .. math:: \tilde x_i = \lambda x_i + (1-\lambda) x_{i-1}, \quad
            \lambda = \frac{g_a}{g_a + g_b}, \; g_a, g_b \sim \Gamma(\alpha)

  (one :math:`\lambda` per batch, so :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)`);
  targets become the same mixture of one-hot vectors.
  """
  import tensorflow as tf

  seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  gamma_a = tf.random.stateless_gamma([], seed_a, alpha)
  gamma_b = tf.random.stateless_gamma([], seed_b, alpha)
  weight = gamma_a / (gamma_a + gamma_b)
  targets = tf.one_hot(labels, num_classes)
  mix = lambda x: weight * x + (1.0 - weight) * tf.roll(x, 1, axis=0)
  return mix(inputs), mix(targets)


# ----- Datasets. -----
def builder(data_dir: str, name: str = IMAGENET):
  import tensorflow_datasets as tfds

  return tfds.builder(name, data_dir=data_dir)


def _records(dataset_builder, split: str):
  import tensorflow_datasets as tfds

  return dataset_builder.as_dataset(
    split=SPLITS[split],
    decoders={'image': tfds.decode.SkipDecoding()},
    shuffle_files=False,
  )


def train_dataset(
  dataset_builder,
  data_rng,
  batch_size: int,
  cfg: Preprocessing,
  start_batch: int = 0,
  cache: bool = False,
):
  """The endless training stream from batch ``start_batch`` on (see the module docstring)."""
  import tensorflow as tf

  shuffle_seed, preprocess_seed, mixup_seed = tf_seeds(data_rng)
  ds = _records(dataset_builder, 'train')
  if cache:
    ds = ds.cache()
  ds = ds.repeat().shuffle(SHUFFLE_BUFFER_BATCHES * batch_size, seed=shuffle_seed)
  ds = ds.enumerate().skip(start_batch * batch_size)  # Positions survive the skip.

  def decode(index, example):
    seed = tf.random.experimental.stateless_fold_in(tf.constant(preprocess_seed), index)
    return {
      'inputs': preprocess_train(example['image'], seed, cfg),
      'targets': tf.cast(example['label'], tf.int32),
    }

  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(batch_size, drop_remainder=True)
  if cfg.use_mixup:

    def mix(batch_index, batch):
      seed = tf.random.experimental.stateless_fold_in(tf.constant(mixup_seed), batch_index)
      inputs, targets = mixup(seed, batch['inputs'], batch['targets'], cfg.mixup_alpha)
      return {'inputs': inputs, 'targets': targets}

    ds = ds.enumerate(start=start_batch).map(mix, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(
  dataset_builder, split: str, batch_size: int, cfg: Preprocessing, num_examples=None, cache=False
):
  """Centre-cropped batches of ``split`` (the first ``num_examples``), the last one short."""
  import tensorflow as tf

  ds = _records(dataset_builder, split)
  if num_examples is not None:
    ds = ds.take(num_examples)
  if cache:
    ds = ds.cache()  # The undecoded records, kept in memory after the first pass.

  def decode(example):
    return {
      'inputs': preprocess_eval(example['image'], cfg),
      'targets': tf.cast(example['label'], tf.int32),
    }

  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def padded_batches(ds, batch_size: int, place: Optional[Callable] = None) -> Iterator[Batch]:
  """numpy batches of ``ds`` with ``weights``, the last zero-padded to ``batch_size``."""
  import tensorflow_datasets as tfds

  for batch in tfds.as_numpy(ds):
    n = len(batch['targets'])
    pad = batch_size - n
    out = {
      k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) if pad else v
      for k, v in batch.items()
    }
    out['weights'] = np.concatenate([np.ones((n,), np.float32), np.zeros((pad,), np.float32)])
    yield place(out) if place else out


class TrainStream:
  """The checkpointable training iterator: ``get_state()`` / ``set_state(state)``.

  Args:
    make_dataset: ``start_batch -> tf.data.Dataset`` of batches from that position.
    num_batches: stop after this many batches in all (None: never).
    place: applied to every numpy batch (sharding it over the devices).
  """

  def __init__(
    self,
    make_dataset: Callable[[int], Any],
    batch_size: int,
    num_batches: Optional[int] = None,
    place: Optional[Callable] = None,
  ) -> None:
    self.make_dataset, self.num_batches, self.place = make_dataset, num_batches, place
    self._weights = np.ones((batch_size,), np.float32)
    self.set_state({'batches_produced': 0})

  def get_state(self) -> dict:
    return {'batches_produced': self.produced}

  def set_state(self, state: dict) -> None:
    import tensorflow_datasets as tfds

    self.produced = int(state['batches_produced'])
    self._it = iter(tfds.as_numpy(self.make_dataset(self.produced)))

  def __iter__(self) -> 'TrainStream':
    return self

  def __next__(self) -> Batch:
    if self.num_batches is not None and self.produced >= self.num_batches:
      raise StopIteration
    batch = dict(next(self._it))
    batch['weights'] = self._weights
    self.produced += 1
    return self.place(batch) if self.place else batch


def synthetic_batch(
  batch_size: int, image_size: int, seed: int = 0, soft_targets: bool = False
) -> Batch:
  """A training batch of the real shapes and dtypes from random numbers."""
  rng = np.random.default_rng(seed)
  batch = {
    'inputs': rng.standard_normal((batch_size, image_size, image_size, 3)).astype(np.float32),
    'weights': np.ones((batch_size,), np.float32),
  }
  labels = rng.integers(0, NUM_CLASSES, (batch_size,))
  if soft_targets:  # Mixup's targets: a mixture of two one-hot vectors.
    lam = rng.beta(0.2, 0.2)
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    batch['targets'] = (lam * one_hot + (1 - lam) * np.roll(one_hot, 1, axis=0)).astype(np.float32)
  else:
    batch['targets'] = labels.astype(np.int32)
  return batch


def splits_present(dataset_builder) -> Sequence[str]:
  return list(dataset_builder.info.splits.keys())
