"""RandAugment on uint8 images in TensorFlow, with the op list AlgoPerf's ViT training uses.

Each of ``num_layers`` layers picks one of the 16 ops below uniformly at random and applies
it at the shared ``magnitude`` (AlgoPerf: 2 layers, magnitude 10, out of a maximum level
of 10): AutoContrast, Equalize, Invert, Rotate, Posterize, Solarize, Color, Contrast,
Brightness, Sharpness, ShearX, ShearY, TranslateX, TranslateY, Cutout, SolarizeAdd.
The level-to-argument rules are AlgoPerf's (from init2winit / the TPU AutoAugment code):
rotate up to 30 degrees, shear up to 0.3, translate up to 100 pixels and cutout up to a
40-pixel half-size, each signed at random; enhancement factors ``1.8 * level / 10 + 0.1``;
posterize to ``int(4 * level / 10)`` bits; solarize at threshold ``int(256 * level / 10)``
(at magnitude 10 that is 256, which wraps to 0 as a uint8 comparison, so Solarize then
inverts every pixel, exactly as AlgoPerf's does); solarize-add adds ``int(110 * level / 10)`` below 128. Geometric ops fill the
uncovered pixels with grey 128; Contrast blends towards a constant grey of
``num_pixels / 256`` as AlgoPerf's histogram arithmetic does.

Difference from AlgoPerf: every random draw here (which op, the sign of a signed
argument, the cutout centre) is stateless, from the per-example seed, so augmentation is
a function of the data key; AlgoPerf draws the sign and the cutout centre from TF's
global (stateful) generator. The distribution of augmentations is the same.

Reference: Cubuk et al., "RandAugment" (2019), https://arxiv.org/abs/1909.13719.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_LEVEL = 10.0
GREY = 128
OPS = (
  'AutoContrast',
  'Equalize',
  'Invert',
  'Rotate',
  'Posterize',
  'Solarize',
  'Color',
  'Contrast',
  'Brightness',
  'Sharpness',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Cutout',
  'SolarizeAdd',
)


# ----- Pixel ops (uint8 [H, W, 3] in, uint8 out). -----
def blend(base, image, factor):
  """``base + factor * (image - base)``, clipped to [0, 255] (factor > 1 extrapolates)."""
  base = tf.cast(base, tf.float32)
  mixed = base + factor * (tf.cast(image, tf.float32) - base)
  return tf.cast(tf.clip_by_value(mixed, 0.0, 255.0), tf.uint8)


def autocontrast(image):
  """Stretch each channel so that its darkest pixel is 0 and its brightest 255."""

  def stretch(channel):
    lo = tf.cast(tf.reduce_min(channel), tf.float32)
    hi = tf.cast(tf.reduce_max(channel), tf.float32)
    scale = 255.0 / tf.maximum(hi - lo, 1.0)
    stretched = tf.clip_by_value((tf.cast(channel, tf.float32) - lo) * scale, 0.0, 255.0)
    return tf.where(hi > lo, tf.cast(stretched, tf.uint8), channel)

  return tf.stack([stretch(image[..., c]) for c in range(3)], axis=-1)


def equalize(image):
  """Histogram equalisation of each channel (PIL's ``ImageOps.equalize`` rule)."""

  def equalize_channel(channel):
    values = tf.cast(channel, tf.int32)
    histogram = tf.histogram_fixed_width(values, [0, 255], nbins=256)
    nonzero = tf.boolean_mask(histogram, histogram > 0)
    step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255
    safe_step = tf.maximum(step, 1)
    table = (tf.cumsum(histogram) + safe_step // 2) // safe_step
    table = tf.clip_by_value(tf.concat([[0], table[:-1]], 0), 0, 255)
    return tf.where(step > 0, tf.cast(tf.gather(table, values), tf.uint8), channel)

  return tf.stack([equalize_channel(image[..., c]) for c in range(3)], axis=-1)


def invert(image):
  return 255 - image


def posterize(image, bits: int):
  shift = 8 - bits
  return tf.bitwise.left_shift(tf.bitwise.right_shift(image, shift), shift)


def solarize(image, threshold: int):
  return tf.where(image < threshold, image, 255 - image)


def solarize_add(image, addition: int, threshold: int = 128):
  added = tf.cast(tf.clip_by_value(tf.cast(image, tf.int32) + addition, 0, 255), tf.uint8)
  return tf.where(image < threshold, added, image)


def grey(image):
  return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))


def color(image, factor):
  return blend(grey(image), image, factor)


def contrast(image, factor):
  # AlgoPerf's grey level: the histogram's total count over 256, i.e. num_pixels / 256.
  num_pixels = tf.cast(tf.shape(image)[0] * tf.shape(image)[1], tf.float32)
  level = tf.cast(tf.clip_by_value(num_pixels / 256.0, 0.0, 255.0), tf.uint8)
  return blend(tf.fill(tf.shape(image), level), image, factor)


def brightness(image, factor):
  return blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor):
  """Blend with PIL's SMOOTH-filtered image (borders kept as they are)."""
  kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
  kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
  smooth = tf.nn.depthwise_conv2d(
    tf.cast(image, tf.float32)[None], kernel, [1, 1, 1, 1], padding='VALID'
  )[0]
  smooth = tf.cast(tf.clip_by_value(smooth, 0.0, 255.0), tf.uint8)
  inner = tf.pad(tf.ones_like(smooth), [[1, 1], [1, 1], [0, 0]])
  smooth = tf.where(inner > 0, tf.pad(smooth, [[1, 1], [1, 1], [0, 0]]), image)
  return blend(smooth, image, factor)


def cutout(image, half_size: int, seed):
  """Grey out a square of side up to ``2 * half_size`` centred at a random pixel."""
  h, w = tf.shape(image)[0], tf.shape(image)[1]
  seeds = tf.random.experimental.stateless_split(seed, 2)
  cy = tf.random.stateless_uniform([], seeds[0], minval=0, maxval=h, dtype=tf.int32)
  cx = tf.random.stateless_uniform([], seeds[1], minval=0, maxval=w, dtype=tf.int32)
  rows, cols = tf.range(h)[:, None], tf.range(w)[None, :]
  inside = (
    (rows >= cy - half_size)
    & (rows < cy + half_size)
    & (cols >= cx - half_size)
    & (cols < cx + half_size)
  )
  return tf.where(inside[..., None], tf.constant(GREY, image.dtype), image)


# ----- Geometric ops: a projective map, nearest neighbour, grey where nothing maps. -----
def projective(image, matrix):
  """Apply the output->input map ``[a0 a1 a2 b0 b1 b2 c0 c1]`` (TF's convention).

  A fourth channel of ones marks the pixels that received input; the rest become grey.
  """
  h, w = tf.shape(image)[0], tf.shape(image)[1]
  with_alpha = tf.concat([image, tf.ones_like(image[..., :1])], axis=-1)
  out = tf.raw_ops.ImageProjectiveTransformV3(
    images=with_alpha[None],
    transforms=tf.reshape(tf.cast(tf.stack(matrix), tf.float32), [1, 8]),
    output_shape=tf.stack([h, w]),
    fill_value=0.0,
    interpolation='NEAREST',
    fill_mode='CONSTANT',
  )[0]
  return tf.where(out[..., 3:] > 0, out[..., :3], tf.constant(GREY, image.dtype))


def rotate(image, degrees):
  """Rotate about the image centre by ``degrees`` (counter-clockwise for positive)."""
  h = tf.cast(tf.shape(image)[0], tf.float32)
  w = tf.cast(tf.shape(image)[1], tf.float32)
  theta = degrees * math.pi / 180.0
  cos, sin = tf.cos(theta), tf.sin(theta)
  # Output pixel (x, y) samples input (cos x - sin y + dx, sin x + cos y + dy), centre fixed.
  dx = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
  dy = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
  return projective(image, [cos, -sin, dx, sin, cos, dy, 0.0, 0.0])


def shear_x(image, level):
  return projective(image, [1.0, level, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def shear_y(image, level):
  return projective(image, [1.0, 0.0, 0.0, level, 1.0, 0.0, 0.0, 0.0])


def translate_x(image, pixels):
  return projective(image, [1.0, 0.0, pixels, 0.0, 1.0, 0.0, 0.0, 0.0])


def translate_y(image, pixels):
  return projective(image, [1.0, 0.0, 0.0, 0.0, 1.0, pixels, 0.0, 0.0])


# ----- The policy. -----
def _branches(image, magnitude: float, sign, seed):
  """One zero-argument function per op in :data:`OPS` order, arguments from ``magnitude``."""
  level = magnitude / MAX_LEVEL
  enhance = 1.8 * level + 0.1
  table = {
    'AutoContrast': lambda: autocontrast(image),
    'Equalize': lambda: equalize(image),
    'Invert': lambda: invert(image),
    'Rotate': lambda: rotate(image, sign * 30.0 * level),
    'Posterize': lambda: posterize(image, int(4 * level)),
    'Solarize': lambda: solarize(image, int(256 * level)),
    'Color': lambda: color(image, enhance),
    'Contrast': lambda: contrast(image, enhance),
    'Brightness': lambda: brightness(image, enhance),
    'Sharpness': lambda: sharpness(image, enhance),
    'ShearX': lambda: shear_x(image, sign * 0.3 * level),
    'ShearY': lambda: shear_y(image, sign * 0.3 * level),
    'TranslateX': lambda: translate_x(image, sign * 100.0 * level),
    'TranslateY': lambda: translate_y(image, sign * 100.0 * level),
    'Cutout': lambda: cutout(image, int(40 * level), seed),
    'SolarizeAdd': lambda: solarize_add(image, int(110 * level)),
  }
  return [table[name] for name in OPS]


def randaugment(image, num_layers: int, magnitude: float, seed):
  """Apply ``num_layers`` random ops of :data:`OPS` at ``magnitude`` to a uint8 image.

  Args:
    image: uint8 ``[H, W, 3]``.
    num_layers: ops applied one after another (AlgoPerf: 2).
    magnitude: shared strength, 0 to 10 (AlgoPerf: 10).
    seed: int64 ``[2]`` stateless seed; the result is a function of it.

  Returns:
    The augmented uint8 image, same shape.
  """

  def layer(i, image):
    op_seed, sign_seed, op_arg_seed = tf.unstack(
      tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(seed, i), 3)
    )
    op = tf.random.stateless_uniform([], op_seed, maxval=len(OPS), dtype=tf.int32)
    sign = tf.where(tf.random.stateless_uniform([], sign_seed) < 0.5, -1.0, 1.0)
    image = tf.switch_case(op, _branches(image, magnitude, sign, op_arg_seed))
    return i + 1, tf.ensure_shape(image, [None, None, 3])

  # A loop, not unrolled: the 16 branches are traced once, whatever num_layers.
  _, image = tf.while_loop(lambda i, _: i < num_layers, layer, (tf.constant(0, tf.int64), image))
  return image
