"""ViT in Flax, with the parameter tree of AlgoPerf's JAX ``imagenet_vit`` model.

Patches come from a strided convolution (``conv_patch_extract``), get a fixed 2-D sin-cos
position embedding (MoCo v3's), pass ``depth`` pre-LayerNorm encoder blocks
(``Transformer/encoderblock_{i}`` with ``LayerNorm_0``, ``MultiHeadDotProductAttention_1``,
``LayerNorm_2``, ``MlpBlock_3``; then ``Transformer/encoder_layernorm``), are pooled by a
mean over tokens (or by attention pooling, ``MAPHead_0``, in ``use_map``), and go through a
tanh ``pre_logits`` layer and a zero-initialised ``head``. Dropout takes its rate at call
time (AlgoPerf's ``model_fn(dropout_rate=...)``); AlgoPerf's default rate is 0.

Variants, as in AlgoPerf: ``use_glu`` multiplies the GELU hidden layer by a second
projection of it (``MlpBlock_3/Dense_1``); ``use_map`` pools with a learned probe;
``use_post_layer_norm`` puts each LayerNorm after its residual sum and drops the final
``encoder_layernorm``.

Difference from AlgoPerf's JAX code: its post-LN block calls the dropout module's
*output* (``Dropout(rate)(y, train)(rate=...)``), which raises at ``init``, so
``imagenet_vit_post_ln`` cannot be initialised there. Here that dropout is the same
call-time dropout as everywhere else in the block (after the MLP, before the residual
sum), which is what the surrounding code evidently intends; the parameter tree is what
AlgoPerf's would be (the dropout has no parameters).

References: Dosovitskiy et al., "An Image is Worth 16x16 Words" (2020),
https://arxiv.org/abs/2010.11929; Beyer et al., "Better plain ViT baselines for
ImageNet-1k" (2022), https://arxiv.org/abs/2205.01580.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

# ViT sizes by name (Zhai et al., "Scaling Vision Transformers", Table 2).
VARIANTS = {
  'Ti': dict(width=192, depth=12, mlp_dim=768, num_heads=3),
  'S': dict(width=384, depth=12, mlp_dim=1536, num_heads=6),
  'B': dict(width=768, depth=12, mlp_dim=3072, num_heads=12),
  'L': dict(width=1024, depth=24, mlp_dim=4096, num_heads=16),
}


def decode_variant(variant: str) -> dict:
  """``'S/16'`` -> width, depth, mlp_dim, num_heads and ``patch_size=(16, 16)``."""
  size, patch = variant.split('/')
  return dict(VARIANTS[size], patch_size=(int(patch), int(patch)))


def sincos_position_embedding(h: int, w: int, width: int, temperature: float = 10_000.0):
  """``[1, h * w, width]``: sin and cos of the column, then of the row, at width/4 frequencies."""
  if width % 4:
    raise ValueError(f'the sin-cos position embedding needs a width divisible by 4, not {width}')
  quarter = width // 4
  frequencies = 1.0 / temperature ** (jnp.arange(quarter) / (quarter - 1))
  rows, cols = jnp.mgrid[:h, :w]
  col_angles = cols.reshape(-1, 1) * frequencies[None]
  row_angles = rows.reshape(-1, 1) * frequencies[None]
  table = jnp.concatenate(
    [jnp.sin(col_angles), jnp.cos(col_angles), jnp.sin(row_angles), jnp.cos(row_angles)], axis=1
  )
  return table[None].astype(jnp.float32)


def dropout(module: nn.Module, x, rate, deterministic: bool):
  """Inverted dropout with a (possibly traced) ``rate``: no recompile when it changes."""
  if deterministic:
    return x
  keep = 1.0 - rate
  mask = jax.random.bernoulli(module.make_rng('dropout'), keep, x.shape)
  return jnp.where(mask, x / keep, 0.0)


class MlpBlock(nn.Module):
  """Dense -> GELU (-> times a second Dense of it, ``use_glu``) -> dropout -> Dense."""

  mlp_dim: int
  use_glu: bool = False

  @nn.compact
  def __call__(self, x, deterministic: bool = True, dropout_rate=0.0):
    dense = lambda n: nn.Dense(
      n,
      kernel_init=nn.initializers.xavier_uniform(),
      bias_init=nn.initializers.normal(stddev=1e-6),
    )
    width = x.shape[-1]
    h = nn.gelu(dense(self.mlp_dim)(x))
    if self.use_glu:
      h = h * dense(self.mlp_dim)(h)
    h = dropout(self, h, dropout_rate, deterministic)
    return dense(width)(h)


class Encoder1DBlock(nn.Module):
  """Self-attention and MLP, each a residual branch; LayerNorm before (or after) each."""

  mlp_dim: int
  num_heads: int
  use_glu: bool = False
  use_post_layer_norm: bool = False

  @nn.compact
  def __call__(self, x, deterministic: bool, dropout_rate=0.0):
    attention = nn.MultiHeadDotProductAttention(
      num_heads=self.num_heads,
      kernel_init=nn.initializers.xavier_uniform(),
      deterministic=deterministic,
      name='MultiHeadDotProductAttention_1',
    )
    mlp = MlpBlock(mlp_dim=self.mlp_dim, use_glu=self.use_glu, name='MlpBlock_3')
    norm_attention = nn.LayerNorm(name='LayerNorm_0')
    norm_mlp = nn.LayerNorm(name='LayerNorm_2')
    drop = lambda y: dropout(self, y, dropout_rate, deterministic)
    if self.use_post_layer_norm:
      x = norm_attention(x + drop(attention(x)))
      return norm_mlp(x + drop(mlp(x, deterministic, dropout_rate)))
    x = x + drop(attention(norm_attention(x)))
    return x + drop(mlp(norm_mlp(x), deterministic, dropout_rate))


class Encoder(nn.Module):
  """``depth`` encoder blocks (and a final LayerNorm unless post-LN)."""

  depth: int
  mlp_dim: int
  num_heads: int
  use_glu: bool = False
  use_post_layer_norm: bool = False

  @nn.compact
  def __call__(self, x, deterministic: bool, dropout_rate=0.0):
    for i in range(self.depth):
      x = Encoder1DBlock(
        mlp_dim=self.mlp_dim,
        num_heads=self.num_heads,
        use_glu=self.use_glu,
        use_post_layer_norm=self.use_post_layer_norm,
        name=f'encoderblock_{i}',
      )(x, deterministic, dropout_rate)
    if self.use_post_layer_norm:
      return x
    return nn.LayerNorm(name='encoder_layernorm')(x)


class MAPHead(nn.Module):
  """Multi-head attention pooling: a learned probe attends to the tokens, plus an MLP."""

  mlp_dim: int
  num_heads: int

  @nn.compact
  def __call__(self, x):
    n, _, d = x.shape
    probe = self.param('probe', nn.initializers.xavier_uniform(), (1, 1, d), x.dtype)
    probe = jnp.tile(probe, [n, 1, 1])
    x = nn.MultiHeadDotProductAttention(
      num_heads=self.num_heads, kernel_init=nn.initializers.xavier_uniform()
    )(probe, x)
    x = x + MlpBlock(mlp_dim=self.mlp_dim)(nn.LayerNorm()(x))
    return x[:, 0]


class ViT(nn.Module):
  """Vision Transformer classifier (defaults: AlgoPerf's ViT-S/16 for ImageNet)."""

  num_classes: int = 1000
  patch_size: Sequence[int] = (16, 16)
  width: int = 384
  depth: int = 12
  mlp_dim: Optional[int] = 1536
  num_heads: int = 6
  use_glu: bool = False
  use_post_layer_norm: bool = False
  use_map: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool = False, dropout_rate=0.0):
    deterministic = not train
    mlp_dim = self.mlp_dim or 4 * self.width
    x = nn.Conv(
      self.width,
      tuple(self.patch_size),
      strides=tuple(self.patch_size),
      padding='VALID',
      name='conv_patch_extract',
    )(x)
    n, h, w, c = x.shape
    x = x.reshape(n, h * w, c) + sincos_position_embedding(h, w, c).astype(x.dtype)
    x = dropout(self, x, dropout_rate, deterministic)
    x = Encoder(
      depth=self.depth,
      mlp_dim=mlp_dim,
      num_heads=self.num_heads,
      use_glu=self.use_glu,
      use_post_layer_norm=self.use_post_layer_norm,
      name='Transformer',
    )(x, deterministic, dropout_rate)
    if self.use_map:
      x = MAPHead(mlp_dim=mlp_dim, num_heads=self.num_heads)(x)
    else:
      x = jnp.mean(x, axis=1)
    x = nn.tanh(nn.Dense(self.width, name='pre_logits')(x))
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name='head')(x)
