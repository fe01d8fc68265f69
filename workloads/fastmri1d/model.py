"""A small 1-D U-Net (Flax linen), after fastMRI's U-Net baseline.

Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical
Image Segmentation", MICCAI 2015 (https://arxiv.org/abs/1505.04597); the
fastMRI baseline (Zbontar et al., 2018) uses conv blocks of two 3-wide
convolutions with instance norm and leaky ReLU, average-pool downsampling and
transposed-convolution upsampling with skip connections. Here: the same
layout in 1-D, convolutions as :class:`algoperf_like.workloads.common.layers.Conv1D` (faster
on CPU), 2x average pooling and a 2x transposed convolution (kernel 2, stride 2,
i.e. one dense map to two output frames).
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax.numpy as jnp

from algoperf_like.workloads.common.layers import Conv1D

_ACTIVATIONS = {
  'leaky_relu': lambda x: nn.leaky_relu(x, negative_slope=0.2),
  'tanh': nn.tanh,
  'relu': nn.relu,
  'gelu': nn.gelu,
}


class ConvBlock(nn.Module):
  """Two (conv 3 -> optional instance norm -> activation -> dropout) layers."""

  features: int
  activation: str
  instance_norm: bool
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    act = _ACTIVATIONS[self.activation]
    for i in range(2):
      x = Conv1D(self.features, kernel_size=3, name=f'Conv_{i}')(x)
      if self.instance_norm:  # No learned scale or bias, as in fastMRI's U-Net.
        x = nn.InstanceNorm(use_scale=False, use_bias=False, name=f'InstanceNorm_{i}')(x)
      x = act(x)
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


class UNet1D(nn.Module):
  """``[B, T]`` corrupted signal -> ``[B, T]`` reconstruction (``T`` divisible by 2**depth).

  Attributes:
    channels: widths of the encoder levels; the last one is the bottleneck.
    activation: a key of ``_ACTIVATIONS``.
    instance_norm: instance-normalise after every convolution.
    residual: add the input to the output (the network predicts a correction).
  """

  channels: tuple = (16, 32, 64)
  activation: str = 'leaky_relu'
  instance_norm: bool = False
  residual: bool = True

  @nn.compact
  def __call__(
    self, signal: jnp.ndarray, train: bool = False, dropout_rate: Optional[float] = None
  ) -> jnp.ndarray:
    rate = dropout_rate or 0.0
    block = lambda width, name: ConvBlock(
      width, self.activation, self.instance_norm, rate, name=name
    )
    x = signal[..., None]
    skips = []
    for level, width in enumerate(self.channels[:-1]):
      x = block(width, f'down_{level}')(x, train)
      skips.append(x)
      x = x.reshape(x.shape[0], x.shape[1] // 2, 2, width).mean(axis=2)
    x = block(self.channels[-1], 'bottleneck')(x, train)
    for level in reversed(range(len(self.channels) - 1)):
      width = self.channels[level]
      # Transposed conv, kernel 2 stride 2: each frame maps to two output frames.
      x = Conv1D(2 * width, kernel_size=1, name=f'ConvTranspose_{level}')(x)
      x = x.reshape(x.shape[0], 2 * x.shape[1], width)
      x = jnp.concatenate([x, skips[level]], axis=-1)
      x = block(width, f'up_{level}')(x, train)
    out = Conv1D(1, kernel_size=1, name='Conv_out')(x)[..., 0]
    return out + signal if self.residual else out
