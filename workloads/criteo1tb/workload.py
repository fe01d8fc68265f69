"""AlgoPerf's ``criteo1tb`` workloads: DLRM-small predicts clicks on the Criteo 1TB logs.

Model: :class:`~algoperf_like.workloads.criteo1tb.model.DlrmSmall` (bottom MLP 512-256-128,
one embedding table of 4,194,304 x 128 shared by the 26 categorical fields, dot
interaction, top MLP 1024-1024-512-256-1), AlgoPerf's parameter tree and initialisers.
Data: the Criteo 1TB TSV day files (:mod:`~algoperf_like.workloads.criteo1tb.input_pipeline`:
AlgoPerf's split of days and files, log transform and hashing), batches ``inputs``
``[B, 39]``, ``targets`` ``[B]``, ``weights`` ``[B]``. Loss: sigmoid binary cross-entropy
of the one logit (label smoothing is ignored, as AlgoPerf's ``loss_fn`` ignores it).
Metric: ``loss``, the mean per-example loss over a split (minimised).

Variants (AlgoPerf's classes of the same names): ``criteo1tb_test`` (a 65,536-row table),
``criteo1tb_layernorm`` (layer norm after every hidden activation and over the
embeddings), ``criteo1tb_embed_init`` (table init uniform in [0, 1) instead of
[0, 1/sqrt(vocab))), ``criteo1tb_resnet`` (:class:`~algoperf_like.workloads.criteo1tb.model.DlrmResNet`:
residual MLPs 256-256-256 and 256-256-256-256-1, embeddings concatenated).

Memory (float32). The table is 536,870,912 parameters, 2.0 GiB; the rest of DLRM-small is
2,396,545 parameters (9.1 MiB; DLRM-resnet 1,250,561). Init runs the model's initialisers
under ``jax.jit`` with the replicated sharding as ``out_shardings``: the table is written
once, on the device where it lives, with no host copy and no ``device_put`` after
(AlgoPerf jits the init, then replicates). XLA's random-number code for the table needs
temporaries, though: on the CPU backend, 6.0 GiB (XLA's compiled memory analysis of the
init), and the measured peak RSS of the whole process after initialising the real
``criteo1tb`` on one CPU device was 8.36 GiB (one run, jax 0.10.2; its RSS after one plain
SGD step at batch 2048 with donated parameters was 4.4 GiB, the peak unchanged). One
AdamW step (parameters, gradient and the two moment tables, 6.0 GiB of arguments), by
XLA's memory analysis on CPU (arguments + temporaries + outputs - donated buffers;
computed, not measured): about 21 GiB at AlgoPerf's batch size 262,144 with the state
donated (24.6 GiB without donation), 8.1 GiB at batch 2048; ``criteo1tb_resnet`` 16.9 GiB
at 262,144. The table's gradient is dense (2.0 GiB), as in AlgoPerf; the batch's
embeddings are 262,144 x 26 x 128 float32 = 3.25 GiB, and their gradient as much. Other
backends fuse differently; these are CPU figures.

Differences from AlgoPerf's JAX code, and why:

* the training stream's second file shuffle is seeded (AlgoPerf's is not), so that a
  seed gives one stream and a resumed run continues it;
* evaluation reads each split once per call and divides the summed loss by the number of
  examples read (AlgoPerf cycles a cached, repeated iterator and divides by the split's
  nominal size; on the full dataset both read exactly the split, so the numbers agree);
* ``model_params_types`` has the parameters' own keys (AlgoPerf lower-cases them); the
  types agree (``embedding_table``: ``EMBEDDING``, the rest ``WEIGHT``, ``BIAS``,
  ``LAYER_NORM_*``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.criteo1tb import input_pipeline, model


def _param_types(params):
  """AlgoPerf's types for DLRM's leaves (the table is an embedding, as AlgoPerf sees it)."""

  def leaf_type(path, _):
    names = [str(getattr(p, 'key', p)) for p in path]
    leaf, parent = names[-1], '/'.join(names[:-1])
    if leaf == 'embedding_table':
      return spec.ParameterType.EMBEDDING
    if 'LayerNorm' in parent:
      if leaf == 'scale':
        return spec.ParameterType.LAYER_NORM_SCALE
      return spec.ParameterType.LAYER_NORM_BIAS
    return spec.ParameterType.BIAS if leaf == 'bias' else spec.ParameterType.WEIGHT

  return jax.tree_util.tree_map_with_path(leaf_type, params)


class Criteo1TbDlrmSmallWorkload(full_scale.FullScaleWorkload):
  """DLRM-small on Criteo 1TB (AlgoPerf's ``criteo1tb``)."""

  name = 'criteo1tb'
  algoperf_base_workload = 'criteo1tb'
  dataset = 'criteo1tb'
  default_batch_size = 262_144
  output_param_keys = ('Dense_7',)
  loss_type = spec.LossType.SIGMOID_CROSS_ENTROPY

  vocab_size: int = 32 * 128 * 1024  # 4,194,304 rows.
  num_dense_features: int = input_pipeline.NUM_DENSE
  mlp_bottom_dims: Sequence[int] = (512, 256, 128)
  mlp_top_dims: Sequence[int] = (1024, 1024, 512, 256, 1)
  embed_dim: int = 128
  use_layer_norm: bool = False
  use_resnet: bool = False
  embedding_init_multiplier: Optional[float] = None

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    if self.use_resnet:
      self._model = model.DlrmResNet(
        vocab_size=self.vocab_size,
        num_dense_features=self.num_dense_features,
        mlp_bottom_dims=tuple(self.mlp_bottom_dims),
        mlp_top_dims=tuple(self.mlp_top_dims),
        embed_dim=self.embed_dim,
      )
    else:
      self._model = model.DlrmSmall(
        vocab_size=self.vocab_size,
        num_dense_features=self.num_dense_features,
        mlp_bottom_dims=tuple(self.mlp_bottom_dims),
        mlp_top_dims=tuple(self.mlp_top_dims),
        embed_dim=self.embed_dim,
        use_layer_norm=self.use_layer_norm,
        embedding_init_multiplier=self.embedding_init_multiplier,
      )
    self._eval_step = None

  @property
  def num_features(self) -> int:
    return self.num_dense_features + input_pipeline.NUM_CATEGORICAL

  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    """Parameters (no model state), initialised in place under ``jit`` (see module doc)."""
    del dropout_rate, aux_dropout_rate  # The rate is given to model_fn.
    params_rng, _ = jax.random.split(rng)
    fake = jnp.ones((2, self.num_features), jnp.float32)

    def init(key):
      return self._model.init({'params': key}, fake, train=False)['params']

    replicated = jax_sharding_utils.get_replicate_sharding()
    params = jax.jit(init, out_shardings=replicated)(params_rng)
    self._set_param_info(params, _param_types(params))
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
    """Logits ``[B, 1]``; dropout (before the top MLP's last layer) only in training."""
    del model_state, update_batch_norm, use_running_average_bn
    inputs = augmented_and_preprocessed_input_batch['inputs']
    train = mode == spec.ForwardPassMode.TRAIN
    kwargs: Dict[str, Any] = {'train': train}
    if train:
      kwargs['rngs'] = {'dropout': rng}
      kwargs['dropout_rate'] = 0.0 if dropout_rate is None else dropout_rate
    return self._model.apply({'params': params}, inputs, **kwargs), None

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    r"""Per-example sigmoid binary cross-entropy (``label_smoothing`` ignored, as AlgoPerf).

    .. math::
      \ell_i = -\bigl[y_i \log \sigma(z_i) + (1 - y_i) \log \sigma(-z_i)\bigr]

    Args:
      label_batch: click labels, ``[B]`` (or ``[B, 1]``).
      logits_batch: logits, ``[B, 1]`` (or ``[B]``).
      mask_batch: 1 for a real example, 0 for padding (None: all real).
      label_smoothing: unused.

    Returns:
      ``{'summed', 'n_valid_examples', 'per_example'}``.
    """
    del label_smoothing
    n = label_batch.shape[0]
    labels = jnp.reshape(label_batch, (n,))
    logits = jnp.reshape(logits_batch, (n,))
    per_example = -(
      labels * jax.nn.log_sigmoid(logits) + (1.0 - labels) * jax.nn.log_sigmoid(-logits)
    )
    if mask_batch is None:
      n_valid = n
    else:
      mask = jnp.reshape(mask_batch, (n,))
      per_example = per_example * mask
      n_valid = mask.sum()
    return {'summed': per_example.sum(), 'n_valid_examples': n_valid, 'per_example': per_example}

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
    """Training: the endless checkpointable :class:`~.input_pipeline.TrainStream`;
    evaluation splits: one pass (``num_batches`` padded batches, else the whole split)."""
    del cache, repeat_final_dataset
    data_dir = self._data_dir(data_dir)
    files = input_pipeline.split_files(data_dir, split)
    seed = input_pipeline.seed_from_key(data_rng)
    place = jax_sharding_utils.place_batch
    if split == 'train':
      return input_pipeline.TrainStream(files, global_batch_size, seed, num_batches, place)
    num_examples = 2**62 if num_batches is None else num_batches * global_batch_size
    return input_pipeline.eval_batches(
      files, global_batch_size, num_examples, seed if split == 'eval_train' else None, place
    )

  def _eval_sums(self, params, batch):
    logits, _ = self.model_fn(
      params, batch, None, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    loss = self.loss_fn(batch['targets'], logits, batch['weights'])
    return loss['summed'], loss['n_valid_examples']

  def _eval_model_on_split(
    self,
    split,
    num_examples,
    global_batch_size,
    params,
    model_state,
    rng,
    data_dir,
    global_step=0,
  ):
    """``{'loss'}``: the mean loss over the split's first ``num_examples`` examples."""
    del model_state, global_step
    if self._eval_step is None:
      self._eval_step = jax.jit(self._eval_sums)
    files = input_pipeline.split_files(self._data_dir(data_dir), split)
    seed = input_pipeline.seed_from_key(rng) if split == 'eval_train' else None
    batches = input_pipeline.eval_batches(
      files, global_batch_size, num_examples, seed, jax_sharding_utils.place_batch
    )
    total, count = np.float64(0.0), np.float64(0.0)
    for batch in batches:
      summed, n = self._eval_step(params, batch)
      total += np.float64(summed)
      count += np.float64(n)
    return {'loss': float(total / max(count, 1.0))}

  def synthetic_batch(self, global_batch_size: int, seed: int = 0) -> Dict[str, Any]:
    """A training batch of the real shapes: log-scale dense features, ids in each field's
    hash range (as float32), 0/1 labels."""
    rng = np.random.default_rng(seed)
    dense = np.log1p(rng.exponential(10.0, (global_batch_size, self.num_dense_features)))
    ids = np.stack(
      [rng.integers(0, v, global_batch_size) for v in input_pipeline.VOCAB_SIZES], axis=1
    )
    inputs = np.concatenate([dense, ids], axis=1).astype(np.float32)
    return {
      'inputs': inputs,
      'targets': (rng.random(global_batch_size) < 0.03).astype(np.float32),
      'weights': np.ones((global_batch_size,), np.float32),
    }


class Criteo1TbDlrmSmallTestWorkload(Criteo1TbDlrmSmallWorkload):
  """``criteo1tb_test``: a 65,536-row table (AlgoPerf's small test configuration)."""

  name = 'criteo1tb_test'
  vocab_size = 32 * 128 * 16


class Criteo1TbDlrmSmallLayerNormWorkload(Criteo1TbDlrmSmallWorkload):
  """``criteo1tb_layernorm``: layer norm after each hidden activation and the embeddings."""

  name = 'criteo1tb_layernorm'
  use_layer_norm = True


class Criteo1TbDlrmSmallResNetWorkload(Criteo1TbDlrmSmallWorkload):
  """``criteo1tb_resnet``: residual MLPs, concatenated embeddings."""

  name = 'criteo1tb_resnet'
  mlp_bottom_dims = (256, 256, 256)
  mlp_top_dims = (256, 256, 256, 256, 1)
  use_resnet = True


class Criteo1TbDlrmSmallEmbedInitWorkload(Criteo1TbDlrmSmallWorkload):
  """``criteo1tb_embed_init``: the table drawn uniform in [0, 1)."""

  name = 'criteo1tb_embed_init'
  embedding_init_multiplier = 1.0
