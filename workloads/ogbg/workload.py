"""AlgoPerf's ``ogbg`` workload and its variants: a graph network on OGB-molpcba.

Model: :class:`~algoperf_like.workloads.ogbg.model.GNN` (node/edge embeddings of width 256,
5 graph-network blocks with MLPs of one hidden layer of 256 with LayerNorm, ReLU and dropout
0.1, a dense decoder of the globals to 128 logits): 3,554,176 parameters, AlgoPerf's tree.
Data: TFDS ``ogbg_molpcba:0.1.3`` from ``--data_dir`` (``algoperf-like datasets prepare
--dataset=ogbg``), padded ``jraph.GraphsTuple`` batches ``{'inputs', 'targets', 'weights'}``
(:mod:`~algoperf_like.workloads.ogbg.input_pipeline`). Loss: per-label sigmoid
cross-entropy, masked by the label weights, with AlgoPerf's label smoothing. Metrics:
``loss`` and ``accuracy`` averaged over weighted labels and ``mean_average_precision`` (the
target), as AlgoPerf computes them (:mod:`~algoperf_like.workloads.ogbg.metrics`).

Variants: ``ogbg_gelu`` and ``ogbg_silu`` change the activation; ``ogbg_model_size`` has
latent width 128, MLPs of two hidden layers of 256 and 3 blocks (2,571,648 parameters).

Kept as AlgoPerf v0.6 has them, although they look unintended, so that a submission sees the
same workload: ``loss_type`` is ``SOFTMAX_CROSS_ENTROPY`` (so ``output_activation_fn`` is a
softmax, as AlgoPerf's is); ``is_output_params`` is true for ``Dense_17`` only, which is no
parameter of the base model (its decoder is ``Dense_15``) and a hidden layer of
``ogbg_model_size`` (whose decoder is ``Dense_18``). The evaluation runs
``ceil(num_examples / batch size)`` batches of at most ``batch size`` graphs each, so it sees
fewer graphs than ``num_examples`` when graphs are large, as AlgoPerf's does.

Differences from AlgoPerf's JAX code: ``init_model_fn`` takes the project API's
``dropout_rate`` and ``aux_dropout_rate`` (unused: the rate is given at call time, default
0.1, as AlgoPerf's ``model_fn`` takes it); the training stream is checkpointable
(``get_state``/``set_state``); the eval metrics are summed in float64 on the host rather than
in float32 clu metrics on the device; ``model_params_types`` keeps the parameters' own keys
(AlgoPerf's ``jax_param_types`` lowercases them, ``Dense_0`` -> ``dense_0``, so its type tree
does not zip with its parameter tree), with AlgoPerf's types (the embedding kernels are
``EMBEDDING``).
"""

from __future__ import annotations

import itertools
import math
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import jax_sharding_utils, spec
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.common import params as param_utils
from algoperf_like.workloads.ogbg import input_pipeline, metrics
from algoperf_like.workloads.ogbg.model import DROPOUT_RATE, GNN


class OgbgWorkload(full_scale.FullScaleWorkload):
  """Multi-label property prediction of molecules (OGB-molpcba) with a graph network."""

  name = 'ogbg'
  algoperf_base_workload = 'ogbg'
  dataset = input_pipeline.DATASET
  default_batch_size = 512
  output_param_keys = ('Dense_17',)  # AlgoPerf's key (see the module docstring).
  loss_type = spec.LossType.SOFTMAX_CROSS_ENTROPY  # AlgoPerf's value (see the docstring).
  num_outputs = input_pipeline.NUM_LABELS
  activation = 'relu'
  latent_dim = 256
  hidden_dims: Tuple[int, ...] = (256,)
  num_message_passing_steps = 5

  def __init__(self, data_dir: Optional[str] = None) -> None:
    super().__init__(data_dir)
    self._model = GNN(
      num_outputs=self.num_outputs,
      latent_dim=self.latent_dim,
      hidden_dims=tuple(self.hidden_dims),
      num_message_passing_steps=self.num_message_passing_steps,
      activation=self.activation,
    )
    self._eval_step = jax.jit(self._eval_outputs)

  # ----- Model. -----
  def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
    """AlgoPerf's initialisation: ``model.init`` with ``split(rng)[1]`` on a one-node graph."""
    del dropout_rate, aux_dropout_rate  # The dropout rate is given to model_fn.
    import jraph

    _, params_rng = jax.random.split(rng, 2)
    one_node = jraph.GraphsTuple(
      n_node=jnp.asarray([1]),
      n_edge=jnp.asarray([1]),
      nodes=jnp.ones((1, input_pipeline.NUM_FEATURES_NODE)),
      edges=jnp.ones((1, input_pipeline.NUM_FEATURES_EDGE)),
      globals=jnp.zeros((1, self.num_outputs)),
      senders=jnp.asarray([0]),
      receivers=jnp.asarray([0]),
    )
    # Eager, not jitted: a few dozen small ops, cheaper than compiling (the values are the same).
    params = self._model.init({'params': params_rng}, one_node, train=False)['params']
    # AlgoPerf's types: a kernel under a module named *embedding* is an embedding.
    types = param_utils.param_types(params)
    for key in ('node_embedding', 'edge_embedding'):
      types[key] = dict(types[key], kernel=spec.ParameterType.EMBEDDING)
    self._set_param_info(params, types)
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
    """Logits ``[G, 128]`` of every graph of the batch, padding graphs included."""
    del update_batch_norm, use_running_average_bn  # No batch norm.
    if model_state is not None:
      raise ValueError(f'ogbg has no model state; got {type(model_state).__name__}')
    rate = DROPOUT_RATE if dropout_rate is None else dropout_rate
    logits = self._model.apply(
      {'params': params},
      augmented_and_preprocessed_input_batch['inputs'],
      train=mode == spec.ForwardPassMode.TRAIN,
      dropout_rate=rate,
      rngs=None if rng is None else {'dropout': rng},
    )
    return logits, None

  def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    """Per-label masked sigmoid cross-entropy (``per_example`` is ``[G, 128]``)."""
    return metrics.masked_sigmoid_cross_entropy(
      label_batch, logits_batch, mask_batch, label_smoothing
    )

  # ----- Data. -----
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
    """Batches of ``split`` placed over the local devices (``train``: checkpointable)."""
    del cache, repeat_final_dataset  # Training repeats; evaluation cycles (AlgoPerf's).
    return input_pipeline.batches(
      self._data_dir(data_dir),
      split,
      global_batch_size,
      data_rng,
      num_batches=num_batches,
      place=jax_sharding_utils.place_batch,
    )

  def synthetic_batch(self, global_batch_size: int, seed: int = 0):
    """A training batch of the real shapes: random molecules of 10-30 atoms, packed as the
    pipeline packs them (some labels NaN, hence weight 0)."""
    rng = np.random.default_rng(seed)

    def molecules(skip: int):
      del skip
      while True:
        n = int(rng.integers(10, 31))
        bonds = int(rng.integers(n - 1, n + 6))
        labels = rng.integers(0, 2, size=input_pipeline.NUM_LABELS).astype(np.float32)
        labels[rng.random(input_pipeline.NUM_LABELS) < 0.5] = np.nan
        yield input_pipeline.to_graph(
          {
            'num_nodes': np.asarray([n]),
            'node_feat': rng.integers(0, 5, (n, input_pipeline.NUM_FEATURES_NODE)).astype(
              np.float32
            ),
            'edge_feat': rng.integers(0, 3, (bonds, input_pipeline.NUM_FEATURES_EDGE)).astype(
              np.float32
            ),
            'edge_index': rng.integers(0, n, (bonds, 2)),
            'labels': labels,
          }
        )

    num_shards = jax.local_device_count()
    stream = input_pipeline.GraphBatches(molecules, global_batch_size // num_shards, num_shards)
    return next(stream)

  # ----- Evaluation. -----
  def _eval_outputs(self, params, batch):
    logits, _ = self.model_fn(
      params, batch, None, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )
    return logits, metrics.batch_sums(batch['targets'], logits, batch['weights'])

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
    """``loss``, ``accuracy`` and ``mean_average_precision`` on ``ceil(num_examples /
    global_batch_size)`` batches of ``split`` (validation and test repeat from the start
    when they run out, as AlgoPerf's cached eval iterators do)."""
    del model_state, global_step
    if split not in self._eval_iters:
      data_rng, _ = jax.random.split(rng, 2)
      stream = input_pipeline.batches(
        self._data_dir(data_dir),
        split,
        global_batch_size,
        data_rng,
        place=jax_sharding_utils.place_batch,
      )
      self._eval_iters[split] = stream if split == 'eval_train' else itertools.cycle(stream)
    sums = {'loss': 0.0, 'correct': 0.0, 'count': 0.0}
    logits, labels, weights = [], [], []
    for _ in range(int(math.ceil(num_examples / global_batch_size))):
      try:
        batch = next(self._eval_iters[split])
      except StopIteration:
        raise ValueError(
          f'{split} holds fewer graphs than one batch of {global_batch_size}'
        ) from None
      batch_logits, batch_sums = self._eval_step(params, batch)
      for k, v in batch_sums.items():
        sums[k] += float(v)
      logits.append(np.asarray(batch_logits))
      labels.append(np.asarray(batch['targets']))
      weights.append(np.asarray(batch['weights']))
    logits, labels, weights = (np.concatenate(x) for x in (logits, labels, weights))
    return {
      'accuracy': sums['correct'] / sums['count'],
      'loss': sums['loss'] / sums['count'],
      'mean_average_precision': metrics.mean_average_precision(labels, logits, weights),
    }


class OgbgGeluWorkload(OgbgWorkload):
  """Variant: GELU activations."""

  name = 'ogbg_gelu'
  activation = 'gelu'


class OgbgSiluWorkload(OgbgWorkload):
  """Variant: SiLU activations."""

  name = 'ogbg_silu'
  activation = 'silu'


class OgbgModelSizeWorkload(OgbgWorkload):
  """Variant: latent width 128, two hidden layers of 256 per MLP, 3 message-passing steps."""

  name = 'ogbg_model_size'
  latent_dim = 128
  hidden_dims = (256, 256)
  num_message_passing_steps = 3
