"""``librispeech_deepspeech`` and its variants: speech recognition on LibriSpeech with DeepSpeech.

Model: :class:`~algoperf_like.workloads.librispeech_deepspeech.model.Deepspeech`
(AlgoPerf's JAX DeepSpeech 2: two stride-2 convolutions, 6 bidirectional LSTM layers and
3 feed-forward layers of width 512 with residual connections, 1024 output pieces;
18,381,312 parameters, BatchNorm statistics in ``model_state``). Data, loss, decoding
and metrics (``ctc_loss``, ``wer``) are the Conformer workload's
(:mod:`~algoperf_like.workloads.librispeech_conformer.workload`), as in AlgoPerf, where
this workload subclasses that one.

Variants (AlgoPerf v0.6): ``librispeech_deepspeech_tanh`` (tanh instead of ReLU),
``librispeech_deepspeech_no_resnet`` (no residual connections),
``librispeech_deepspeech_norm_and_spec_aug`` (LayerNorm instead of BatchNorm everywhere,
no decoder LayerNorm, 4 frequency and 15 time masks; 18,380,288 parameters, no
``batch_stats``).

As in AlgoPerf, ``use_running_average_bn`` is ignored: BatchNorm uses (and updates) batch
statistics exactly in the training forward pass.
"""

from __future__ import annotations

from algoperf_like.workloads.librispeech_conformer.workload import LibriSpeechConformerWorkload
from algoperf_like.workloads.librispeech_deepspeech import model as deepspeech


class LibriSpeechDeepSpeechWorkload(LibriSpeechConformerWorkload):
  """DeepSpeech 2 + CTC on LibriSpeech (AlgoPerf's ``librispeech_deepspeech``)."""

  name = 'librispeech_deepspeech'
  algoperf_base_workload = 'librispeech_deepspeech'
  default_batch_size = 256
  num_lstm_layers = 6
  num_ffn_layers = 3
  use_tanh = False
  enable_residual_connections = True
  enable_decoder_layer_norm = True
  layernorm_everywhere = False
  freq_mask_count = 2
  time_mask_count = 10

  def _build_model(self):
    config = deepspeech.DeepspeechConfig(
      vocab_size=self.vocab_size,
      encoder_dim=self.encoder_dim,
      num_lstm_layers=self.num_lstm_layers,
      num_ffn_layers=self.num_ffn_layers,
      use_specaug=self.use_specaug,
      freq_mask_count=self.freq_mask_count,
      time_mask_count=self.time_mask_count,
      enable_residual_connections=self.enable_residual_connections,
      enable_decoder_layer_norm=self.enable_decoder_layer_norm,
      use_tanh=self.use_tanh,
      layernorm_everywhere=self.layernorm_everywhere,
    )
    return deepspeech.Deepspeech(config)

  def _apply(self, variables, inputs, paddings, train, rng, use_running_average_bn, rate):
    del use_running_average_bn  # AlgoPerf's DeepSpeech does not take it.
    if train:
      return self._model.apply(
        variables,
        inputs,
        paddings,
        train=True,
        rngs={'dropout': rng},
        mutable=['batch_stats'],
        dropout_rate=rate,
      )
    return self._model.apply(variables, inputs, paddings, train=False, mutable=False), None


class LibriSpeechDeepSpeechTanhWorkload(LibriSpeechDeepSpeechWorkload):
  """Variant: tanh instead of ReLU."""

  name = 'librispeech_deepspeech_tanh'
  use_tanh = True


class LibriSpeechDeepSpeechNoResNetWorkload(LibriSpeechDeepSpeechWorkload):
  """Variant: no residual connections around the LSTM and feed-forward layers."""

  name = 'librispeech_deepspeech_no_resnet'
  enable_residual_connections = False


class LibriSpeechDeepSpeechNormAndSpecAugWorkload(LibriSpeechDeepSpeechWorkload):
  """Variant: LayerNorm everywhere, no decoder LayerNorm, stronger SpecAugment."""

  name = 'librispeech_deepspeech_norm_and_spec_aug'
  enable_decoder_layer_norm = False
  layernorm_everywhere = True
  freq_mask_count = 4
  time_mask_count = 15
