"""AlgoPerf's fastMRI U-Net (Flax linen), with its tanh and layer-norm variants.

Ronneberger et al. (2015), https://arxiv.org/abs/1505.04597, as the fastMRI
reference and AlgoPerf's JAX ``fastmri`` build it: ``num_pool_layers`` down blocks
(``num_channels`` doubling each), a bottom block, then as many up steps (a 2x2
transposed convolution block, concatenation with the skip, a conv block), and a 1x1
convolution to one channel. A conv block is two bias-free 3x3 convolutions, each
followed by a parameter-free instance norm over height and width (or, in
``fastmri_layernorm``, a LayerNorm over height, width and channels), leaky ReLU
(slope 0.2; tanh in ``fastmri_tanh``) and channel-wise dropout (one mask per
channel, rate given at call time; AlgoPerf's JAX U-Net never hands that rate to its
blocks, so its dropout is always off: here it works, and is off at rate 0 or None). Module names follow AlgoPerf's tree:
``ConvBlock_0..`` in creation order, ``TransposeConvBlock_i``, the output ``Conv_0``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def instance_norm(x: jnp.ndarray, epsilon: float = 1e-5) -> jnp.ndarray:
  r"""Normalise each example and channel over height and width (no parameters).

  .. math:: y = (x - \mu) / \sqrt{\max(0, \overline{x^2} - \mu^2) + \epsilon}

  computed in at least float32.
  """
  x = x.astype(jnp.promote_types(jnp.float32, x.dtype))
  mean = jnp.mean(x, axis=(1, 2), keepdims=True)
  var = jnp.maximum(jnp.mean(x * x, axis=(1, 2), keepdims=True) - mean * mean, 0.0)
  return (x - mean) / jnp.sqrt(var + epsilon)


def channel_dropout(module: nn.Module, x: jnp.ndarray, rate, train: bool) -> jnp.ndarray:
  """Zero whole channels of ``[B, H, W, C]`` with probability ``rate`` (scaled by 1/(1-rate)).

  ``rate`` may be traced (submissions pass it under jit): no Python test on its value
  unless it is a plain number; a plain 0 (or None) skips the random draw.
  """
  if not train or rate is None or (isinstance(rate, (int, float)) and rate == 0):
    return x
  keep = 1.0 - rate
  mask = jax.random.bernoulli(module.make_rng('dropout'), keep, (x.shape[0], 1, 1, x.shape[3]))
  return jnp.where(mask, x / keep, 0.0).astype(x.dtype)


def _activation(use_tanh: bool):
  return jnp.tanh if use_tanh else (lambda x: jax.nn.leaky_relu(x, negative_slope=0.2))


class ConvBlock(nn.Module):
  """(3x3 conv -> norm -> activation -> channel dropout) twice, ``[B,H,W,C]`` in and out."""

  out_channels: int
  use_tanh: bool = False
  use_layer_norm: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True, dropout_rate=0.0):
    act = _activation(self.use_tanh)
    for _ in range(2):
      x = nn.Conv(self.out_channels, kernel_size=(3, 3), strides=(1, 1), use_bias=False)(x)
      x = nn.LayerNorm(reduction_axes=(1, 2, 3))(x) if self.use_layer_norm else instance_norm(x)
      x = act(x)
      x = channel_dropout(self, x, dropout_rate, train)  # The reference's Dropout2d.
    return x


class TransposeConvBlock(nn.Module):
  """2x2 transposed convolution (stride 2) -> instance norm -> activation: doubles H and W."""

  out_channels: int
  use_tanh: bool = False
  use_layer_norm: bool = (
    False  # Kept for AlgoPerf's signature: this block always uses instance norm.
  )

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    x = nn.ConvTranspose(self.out_channels, kernel_size=(2, 2), strides=(2, 2), use_bias=False)(x)
    return _activation(self.use_tanh)(instance_norm(x))


class UNet(nn.Module):
  """``[B, H, W]`` zero-filled reconstructions -> ``[B, H, W]`` images."""

  num_channels: int = 32
  num_pool_layers: int = 4
  use_tanh: bool = False
  use_layer_norm: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = True, dropout_rate=0.0):
    opts = dict(use_tanh=self.use_tanh, use_layer_norm=self.use_layer_norm)
    # Blocks are built before they are called, in AlgoPerf's order (their names count up).
    widths = [self.num_channels * 2**i for i in range(self.num_pool_layers)]
    down = [ConvBlock(w, **opts) for w in widths]
    bottom = ConvBlock(widths[-1] * 2, **opts)
    up = [(TransposeConvBlock(w, **opts), ConvBlock(w, **opts)) for w in reversed(widths)]

    skips = []
    y = x[..., None]
    for block in down:
      y = block(y, train, dropout_rate)
      skips.append(y)
      y = nn.avg_pool(y, window_shape=(2, 2), strides=(2, 2))
    y = bottom(y, train, dropout_rate)
    for upsample, block in up:
      skip = skips.pop()
      y = upsample(y)
      # Odd sizes: reflect-pad one row (bottom) or column (right) to the skip's size.
      pad_h, pad_w = skip.shape[1] - y.shape[1], skip.shape[2] - y.shape[2]
      if pad_h or pad_w:
        y = jnp.pad(y, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode='reflect')
      y = block(jnp.concatenate([y, skip], axis=-1), train, dropout_rate)
    y = nn.Conv(1, kernel_size=(1, 1), strides=(1, 1))(y)
    return y[..., 0]
