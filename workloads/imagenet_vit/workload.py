"""AlgoPerf's ``imagenet_vit``: ViT-S/16 on ImageNet 2012, and its three variants.

Model: :class:`~algoperf_like.workloads.imagenet_vit.model.ViT` (width 384, depth 12,
MLP 1536, 6 heads, 16x16 patches; AlgoPerf's parameter tree and initialisation; no model
state). Dropout rate at call time (``model_fn(dropout_rate=...)``; AlgoPerf's default 0).
Data: the shared ImageNet pipeline (:mod:`algoperf_like.workloads.imagenet_resnet.input_pipeline`),
with RandAugment (2 layers, magnitude 10) and mixup (alpha 0.2) on the training split, as
AlgoPerf's ViT workloads set ``use_randaug = use_mixup = (split == 'train')``. Loss,
metrics, evaluation splits (ImageNet-v2 as test): as ``imagenet_resnet``.

Variants (AlgoPerf's targets each): ``imagenet_vit_glu`` (gated MLP),
``imagenet_vit_post_ln`` (LayerNorm after each residual sum; AlgoPerf's JAX model of it
fails at ``init``, see :mod:`.model` for the one-line fix made here),
``imagenet_vit_map`` (attention pooling head).
"""

from __future__ import annotations

import jax

from algoperf_like import spec
from algoperf_like.workloads.imagenet_resnet.workload import (
  ImagenetResNetWorkload,
  algoperf_param_types,
  jitted_init,
)
from algoperf_like.workloads.imagenet_vit.model import ViT, decode_variant


class ImagenetVitWorkload(ImagenetResNetWorkload):
  """ViT on ImageNet; class attributes set the variant (``variant`` or explicit sizes)."""

  name = 'imagenet_vit'
  algoperf_base_workload = 'imagenet_vit'
  default_batch_size = 1024
  output_param_keys = ('head',)
  use_randaug = True
  use_mixup = True

  variant = 'S/16'
  use_glu = False
  use_post_layer_norm = False
  use_map = False

  def _build_model(self):
    return ViT(
      num_classes=self.num_classes,
      use_glu=self.use_glu,
      use_post_layer_norm=self.use_post_layer_norm,
      use_map=self.use_map,
      **self._sizes(),
    )

  def _sizes(self) -> dict:
    return decode_variant(self.variant)

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    del dropout_rate, aux_dropout_rate  # The rate is given to model_fn at call time.
    params_rng, _ = jax.random.split(rng)  # As AlgoPerf's ViT init, for identical weights.
    params = jitted_init(self._model)({'params': params_rng}, self._dummy_inputs())['params']
    self._set_param_info(params, algoperf_param_types(params))
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
    logits = self._model.apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=train,
      dropout_rate=0.0 if dropout_rate is None else dropout_rate,
      rngs={'dropout': rng} if train and rng is not None else None,
    )
    return logits, None


class ImagenetVitGluWorkload(ImagenetVitWorkload):
  """Variant: gated (GLU) MLP blocks."""

  name = 'imagenet_vit_glu'
  use_glu = True


class ImagenetVitPostLNWorkload(ImagenetVitWorkload):
  """Variant: post-LayerNorm encoder blocks (initialises here, unlike AlgoPerf's JAX code)."""

  name = 'imagenet_vit_post_ln'
  use_post_layer_norm = True


class ImagenetVitMapWorkload(ImagenetVitWorkload):
  """Variant: multi-head attention pooling (MAP) instead of the mean over tokens."""

  name = 'imagenet_vit_map'
  use_map = True
