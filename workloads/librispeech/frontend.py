"""The speech models' front end: audio to normalised log-mel features, and SpecAugment.

Both LibriSpeech models (Conformer, DeepSpeech) compute their features inside the model,
on the device, as AlgoPerf's JAX models do (lingvo's ASR front end):

- the 16 kHz samples (integer-valued floats) are zeroed where padded and scaled by
  :math:`2^{-15}`;
- frames of 25 ms + 1 sample (401 samples) every 10 ms (160 samples), no end padding;
  a frame is padded when any of its samples is (the minimum over its window);
- HTK-style pre-emphasis (0.97) turns each frame into 400 samples, a periodic Hann window
  of 400 samples is applied, and the power spectrum of a 512-point real FFT is taken;
- 80 triangular mel bands from 125 Hz to 7600 Hz (``tf.signal.linear_to_mel_weight_matrix``,
  the DC bin excluded), the log of the band energies floored at 1e-5, normalised by the
  per-band mean and standard deviation of the training set (``log_mel_stats.json``).

:class:`SpecAugment` (Park et al., 2019, https://arxiv.org/abs/1904.08779) masks random
bands of time frames and of mel bins in training, with lingvo's sampling of the mask
sizes; it draws its random numbers from the ``dropout`` RNG stream.
"""

from __future__ import annotations

import functools
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SAMPLE_RATE = 16000.0
FRAME_STEP = 160  # 10 ms
FRAME_SIZE = 401  # 25 ms, plus the sample that pre-emphasis consumes
FFT_SIZE = 512
NUM_MEL_BINS = 80
LOWER_EDGE_HZ = 125.0
UPPER_EDGE_HZ = 7600.0
PREEMPHASIS = 0.97
LOG_FLOOR = 1e-5
INPUT_SCALE = 2.0**-15


@functools.lru_cache(maxsize=1)
def log_mel_stats():
  """``(mean [80], stddev [80])`` float32: AlgoPerf's LibriSpeech feature normalisation."""
  with open(os.path.join(os.path.dirname(__file__), 'log_mel_stats.json')) as f:
    stats = json.load(f)
  return np.asarray(stats['mean'], np.float32), np.asarray(stats['stddev'], np.float32)


def num_frames(num_samples: int) -> int:
  """Feature frames of ``num_samples`` samples (complete windows only)."""
  return (num_samples - FRAME_SIZE) // FRAME_STEP + 1


def _hz_to_mel(hz):
  return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


@functools.lru_cache(maxsize=4)
def mel_weights(num_spectrum_bins: int = FFT_SIZE // 2 + 1) -> np.ndarray:
  """``[num_spectrum_bins, 80]`` triangular mel filters (TensorFlow's definition, HTK mel)."""
  freqs = np.linspace(0.0, SAMPLE_RATE / 2, num_spectrum_bins)[1:]  # No DC bin.
  bin_mel = _hz_to_mel(freqs)[:, None]
  edges = np.linspace(_hz_to_mel(LOWER_EDGE_HZ), _hz_to_mel(UPPER_EDGE_HZ), NUM_MEL_BINS + 2)
  low, center, high = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
  rising = (bin_mel - low) / (center - low)
  falling = (high - bin_mel) / (high - center)
  weights = np.maximum(0.0, np.minimum(rising, falling))
  return np.concatenate([np.zeros((1, NUM_MEL_BINS)), weights]).astype(np.float32)


def _frames(x: jnp.ndarray) -> jnp.ndarray:
  """``[B, T] -> [B, F, FRAME_SIZE]``: the complete windows of ``x``."""
  starts = np.arange(num_frames(x.shape[1])) * FRAME_STEP
  return x[:, starts[:, None] + np.arange(FRAME_SIZE)[None, :]]


def log_mel_features(audio: jnp.ndarray, paddings: jnp.ndarray):
  """Normalised log-mel features of padded audio.

  Args:
    audio: ``[B, T]`` samples (16-bit integer values, as floats).
    paddings: ``[B, T]``, 1 where padded.

  Returns:
    ``(features [B, F, 80], feature_paddings [B, F])``, ``F = num_frames(T)``.
  """
  audio = audio.astype(jnp.float32) * (1.0 - paddings) * INPUT_SCALE
  frame_paddings = jnp.min(_frames(paddings), axis=-1)
  frames = _frames(audio)
  emphasised = jnp.concatenate(
    [frames[..., :1] * (1.0 - PREEMPHASIS), frames[..., 1:-1] - PREEMPHASIS * frames[..., :-2]],
    axis=-1,
  )
  window = np.hanning(FRAME_SIZE).astype(np.float32)[:-1]  # Periodic Hann of 400 samples.
  power = jnp.abs(jnp.fft.rfft(emphasised * window, FFT_SIZE, axis=-1)) ** 2.0
  mel = jnp.einsum('btf,fn->btn', power, mel_weights(power.shape[-1]))
  mean, stddev = log_mel_stats()
  features = (jnp.log(jnp.maximum(mel, LOG_FLOOR)) - mean) / stddev
  return features, frame_paddings


class SpecAugment(nn.Module):
  """Time and frequency masking of ``[B, T, bins]`` features (training only).

  Each of ``time_mask_count`` time masks covers ``int(u * max_ratio * length)`` frames
  (``u ~ U[0, 1)``, at most ``max_ratio * length``, at least 1), where ``length`` is the
  example's unpadded number of frames, starting uniformly within it; each of
  ``freq_mask_count`` frequency masks covers ``int(u * freq_mask_max_bins)`` bins. Masked
  values become 0. Random numbers come from ``make_rng('dropout')``: two draws for the
  time masks, then two for the frequency masks.
  """

  freq_mask_count: int = 2
  freq_mask_max_bins: int = 27
  time_mask_count: int = 10
  time_mask_max_ratio: float = 0.05

  def _keep(self, choose_range, max_length, size, count, max_ratio):
    """``[B, size]``: 0 inside any of ``count`` random masks per example, else 1."""
    batch = choose_range.shape[0]
    portion = jax.random.uniform(self.make_rng('dropout'), (batch, count))
    lengths = (max_length[:, None] * portion).astype(jnp.int32)
    bound = (max_ratio * choose_range[:, None]).astype(jnp.int32)
    lengths = jnp.minimum(lengths, jnp.maximum(bound, 1))
    where = jax.random.uniform(self.make_rng('dropout'), (batch, count))
    starts = (where * (choose_range[:, None] - lengths + 1)).astype(jnp.int32)
    position = jnp.arange(size)[None, None, :]
    inside = (position >= starts[..., None]) & (position < (starts + lengths)[..., None])
    return 1.0 - jnp.any(inside, axis=1).astype(jnp.float32)

  @nn.compact
  def __call__(self, features, paddings):
    batch, time, bins = features.shape
    if self.time_mask_count > 0 and self.time_mask_max_ratio > 0:
      lengths = jnp.sum(1 - paddings, axis=-1).astype(jnp.int32)
      keep = self._keep(
        lengths,
        lengths * self.time_mask_max_ratio,
        time,
        self.time_mask_count,
        self.time_mask_max_ratio,
      )
      features = features * keep[:, :, None]
    if self.freq_mask_count > 0 and self.freq_mask_max_bins > 0:
      full = jnp.full((batch,), bins, jnp.int32)
      keep = self._keep(
        full,
        jnp.full((batch,), self.freq_mask_max_bins, jnp.float32),
        bins,
        self.freq_mask_count,
        1.0,
      )
      features = features * keep[:, None, :]
    return features, paddings
