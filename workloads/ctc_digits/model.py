"""A small CTC acoustic model for digit sequences (Flax linen), after DeepSpeech 2.

Amodei et al., "Deep Speech 2", ICML 2016 (https://arxiv.org/abs/1512.02595):
strided convolutions over the signal, then bidirectional recurrent layers,
then a per-frame softmax over the labels plus the CTC blank. Here: two strided
:class:`algoperf_like.workloads.common.layers.Conv1D` (total stride 8: 5 frames per 40-sample
digit), layer norm, one bidirectional GRU and a dense output layer.
"""

from __future__ import annotations

from typing import Optional, Tuple

import flax.linen as nn
import jax.numpy as jnp

from algoperf_like.workloads.common.layers import Conv1D


class CtcDigitsModel(nn.Module):
  """``[B, T]`` signal and paddings -> ``([B, T/8, num_classes]`` logits, frame paddings).

  Attributes:
    num_classes: output classes, the blank (id 0) included.
    channels: widths of the two front-end convolutions (strides 4 and 2).
    hidden: GRU units per direction.
    activation: a ``flax.linen`` activation name.
  """

  num_classes: int = 11
  channels: Tuple[int, int] = (32, 64)
  hidden: int = 32
  activation: str = 'relu'

  @nn.compact
  def __call__(
    self,
    signal: jnp.ndarray,
    paddings: jnp.ndarray,
    train: bool = False,
    dropout_rate: Optional[float] = None,
  ):
    act = getattr(nn, self.activation)
    x = signal[..., None]
    x = act(Conv1D(self.channels[0], kernel_size=8, strides=4, name='Conv_0')(x))
    x = act(Conv1D(self.channels[1], kernel_size=5, strides=2, name='Conv_1')(x))
    frame_paddings = paddings[:, ::8]  # A frame is padding where its first sample is.
    x = x * (1.0 - frame_paddings)[..., None]
    x = nn.LayerNorm(name='LayerNorm_0')(x)
    lengths = jnp.sum(1.0 - frame_paddings, axis=-1).astype(jnp.int32)
    x = nn.Bidirectional(
      nn.RNN(nn.GRUCell(self.hidden), name='GRU_forward'),
      nn.RNN(nn.GRUCell(self.hidden), name='GRU_backward'),
      name='BiGRU',
    )(x, seq_lengths=lengths)
    x = nn.Dropout(dropout_rate or 0.0, deterministic=not train)(x)
    logits = nn.Dense(self.num_classes, name='Dense_out')(x)
    return logits, frame_paddings
