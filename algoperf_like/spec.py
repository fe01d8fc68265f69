"""The contract between the harness, workloads and submissions.

Names, signatures and enum values follow MLCommons AlgoPerf v0.6 (JAX), so an
AlgoPerf JAX submission runs here once ``from algoperf import spec`` reads
``from algoperf_like import spec``.

Workload constants (targets, budgets, example counts) are *data*: each
workload declares a frozen :class:`WorkloadConstants` and the base class
exposes AlgoPerf's property names over it. Targets and budgets come from
``workloads/targets.json`` so that scoring can read them without JAX.

Importing this module does no work beyond defining names.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import os
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Union


class LossType(enum.Enum):
  SOFTMAX_CROSS_ENTROPY = 0
  SIGMOID_CROSS_ENTROPY = 1
  MEAN_SQUARED_ERROR = 2
  CTC_LOSS = 3
  MEAN_ABSOLUTE_ERROR = 4


class ForwardPassMode(enum.Enum):
  TRAIN = 0
  EVAL = 1


class ParameterType(enum.Enum):
  WEIGHT = 0
  BIAS = 1
  CONV_WEIGHT = 2
  BATCH_NORM_SCALE = 3
  BATCH_NORM_BIAS = 4
  LAYER_NORM_SCALE = 5
  LAYER_NORM_BIAS = 6
  EMBEDDING = 7
  ATTENTION_Q = 8
  ATTENTION_K = 9
  ATTENTION_V = 10
  ATTENTION_OUT = 11
  ATTENTION_QKV = 12  # Fused query/key/value projections.
  ATTENTION_KV = 13  # Fused key/value projections.
  ATTENTION_BIAS = 14


class ShapeTuple:
  """A shape that pytree utilities treat as a leaf (AlgoPerf's ``ShapeTuple``)."""

  def __init__(self, shape_tuple):
    self.shape_tuple = tuple(shape_tuple)

  def __repr__(self):
    return f'ShapeTuple({self.shape_tuple})'

  def __eq__(self, other):
    return isinstance(other, ShapeTuple) and self.shape_tuple == other.shape_tuple

  def __hash__(self):
    return hash(self.shape_tuple)


Tensor = Any
Shape = Union[Tuple[int, ...], ShapeTuple]
ParameterKey = str
ParameterContainer = Dict[ParameterKey, Any]
ParameterShapeTree = Dict[ParameterKey, Any]
ParameterTypeTree = Dict[ParameterKey, Any]
RandomState = Any  # A JAX PRNG key (raw uint32[2] array, as AlgoPerf uses).
OptimizerState = Union[Dict[str, Any], Tuple[Any, Any]]
Hyperparameters = Any  # A namedtuple with attribute access, or None (self-tuning).
Timing = int
Steps = int
ModelAuxiliaryState = Any  # e.g. batch-norm statistics.
ModelInitState = Tuple[ParameterContainer, ModelAuxiliaryState]
UpdateReturn = Tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]


class TrainingCompleteError(Exception):
  """Raised by ``update_params`` to end training early (AlgoPerf semantics)."""


# ----- Benchmark constants (AlgoPerf's rules and this harness's defaults). -----
# The self-tuning ruleset gets this multiple of each workload's runtime budget.
SELF_TUNING_BUDGET_FACTOR = 1.5
# Where workloads keep their data unless told otherwise (--data_dir).
DEFAULT_DATA_DIR = os.path.join('~', '.cache', 'algoperf_like', 'data')


@dataclasses.dataclass(frozen=True)
class WorkloadConstants:
  """Everything about a workload that is a number, not code.

  Targets and budgets come from ``workloads/targets.json`` (see
  ``algoperf_like.workloads.targets``); example counts and batch sizes from the workload.
  """

  name: str
  target_metric_name: str
  metric_direction: str  # 'min' or 'max'
  validation_target_value: float
  test_target_value: float
  max_allowed_runtime_sec: float
  eval_period_time_sec: float
  step_hint: int
  num_train_examples: int
  num_eval_train_examples: int
  num_validation_examples: int
  num_test_examples: Optional[int]
  eval_batch_size: int
  train_mean: Any = 0.0
  train_stddev: Any = 1.0


def reached(value: float, target: float, direction: str) -> bool:
  """Whether ``value`` meets ``target`` for a metric minimised or maximised."""
  if value is None or value != value:  # None or NaN never reaches a target.
    return False
  return value <= target if direction == 'min' else value >= target


class Workload(metaclass=abc.ABCMeta):
  """A fixed model, dataset, loss and evaluation (AlgoPerf's ``spec.Workload``).

  Subclasses set ``constants`` (a :class:`WorkloadConstants`) and implement
  the abstract methods. ``init_model_fn`` must set ``self._param_shapes`` and
  ``self._param_types``.
  """

  constants: WorkloadConstants
  # The AlgoPerf workload this one stands for: a submission's ``get_batch_size`` that
  # raises ValueError for this workload's name is asked for this one (e.g. 'mnist').
  algoperf_base_workload: Optional[str] = None
  # The batch size used when the submission knows neither name.
  default_batch_size: int = 128

  def __init__(self, *args, **kwargs) -> None:
    del args, kwargs
    self._param_shapes: Optional[ParameterShapeTree] = None
    self._param_types: Optional[ParameterTypeTree] = None
    self._eval_iters: Dict[str, Iterator] = {}
    self.metrics_logger = None

  # ----- Constants, exposed under AlgoPerf's property names. -----
  @property
  def workload_name(self) -> str:
    return self.constants.name

  @property
  def target_metric_name(self) -> str:
    return self.constants.target_metric_name

  @property
  def metric_direction(self) -> str:
    return self.constants.metric_direction

  @property
  def validation_target_value(self) -> float:
    return self.constants.validation_target_value

  @property
  def test_target_value(self) -> float:
    return self.constants.test_target_value

  @property
  def max_allowed_runtime_sec(self) -> float:
    return self.constants.max_allowed_runtime_sec

  @property
  def eval_period_time_sec(self) -> float:
    return self.constants.eval_period_time_sec

  @property
  def step_hint(self) -> int:
    return self.constants.step_hint

  @property
  def num_train_examples(self) -> int:
    return self.constants.num_train_examples

  @property
  def num_eval_train_examples(self) -> int:
    return self.constants.num_eval_train_examples

  @property
  def num_validation_examples(self) -> int:
    return self.constants.num_validation_examples

  @property
  def num_test_examples(self) -> Optional[int]:
    return self.constants.num_test_examples

  @property
  def eval_batch_size(self) -> int:
    return self.constants.eval_batch_size

  @property
  def train_mean(self) -> Any:
    return self.constants.train_mean

  @property
  def train_stddev(self) -> Any:
    return self.constants.train_stddev

  @property
  @abc.abstractmethod
  def loss_type(self) -> LossType:
    """The type of loss function."""

  def has_reached_validation_target(self, eval_result: Dict[str, float]) -> bool:
    value = eval_result.get(f'validation/{self.target_metric_name}')
    return reached(value, self.validation_target_value, self.metric_direction)

  def has_reached_test_target(self, eval_result: Dict[str, float]) -> bool:
    value = eval_result.get(f'test/{self.target_metric_name}')
    return reached(value, self.test_target_value, self.metric_direction)

  def attach_metrics_logger(self, metrics_logger) -> None:
    self.metrics_logger = metrics_logger

  @property
  def param_shapes(self) -> ParameterShapeTree:
    if self._param_shapes is None:
      raise ValueError('Call workload.init_model_fn() before workload.param_shapes.')
    return self._param_shapes

  @property
  def model_params_types(self) -> ParameterTypeTree:
    if self._param_types is None:
      raise ValueError('Call workload.init_model_fn() before workload.model_params_types.')
    return self._param_types

  # ----- Code: model, loss, data, evaluation. -----
  @abc.abstractmethod
  def is_output_params(self, param_key: ParameterKey) -> bool:
    """Whether a top-level key of the parameters is the output layer."""

  @abc.abstractmethod
  def init_model_fn(
    self,
    rng: RandomState,
    dropout_rate: Optional[float] = None,
    aux_dropout_rate: Optional[float] = None,
  ) -> ModelInitState:
    """Return ``(initial_params, initial_model_state)``."""

  @abc.abstractmethod
  def model_fn(
    self,
    params: ParameterContainer,
    augmented_and_preprocessed_input_batch: Dict[str, Tensor],
    model_state: ModelAuxiliaryState,
    mode: ForwardPassMode,
    rng: RandomState,
    update_batch_norm: bool,
    use_running_average_bn: Optional[bool] = None,
    dropout_rate: Optional[float] = None,
  ) -> Tuple[Tensor, ModelAuxiliaryState]:
    """Return ``(logits_batch, new_model_state)``."""

  def output_activation_fn(self, logits_batch: Tensor, framework: str = 'jax') -> Tensor:
    """Logits to predictions by ``loss_type``: softmax, sigmoid, or identity (regression)."""
    if framework != 'jax':
      raise ValueError(f'framework {framework!r}: this harness is JAX only')
    import jax

    if isinstance(logits_batch, tuple):  # (logits, paddings), as CTC models return.
      return (self.output_activation_fn(logits_batch[0], framework),) + logits_batch[1:]
    if self.loss_type in (LossType.SOFTMAX_CROSS_ENTROPY, LossType.CTC_LOSS):
      return jax.nn.softmax(logits_batch, axis=-1)
    if self.loss_type == LossType.SIGMOID_CROSS_ENTROPY:
      return jax.nn.sigmoid(logits_batch)
    return logits_batch

  @abc.abstractmethod
  def loss_fn(
    self,
    label_batch: Tensor,
    logits_batch: Tensor,
    mask_batch: Optional[Tensor] = None,
    label_smoothing: float = 0.0,
  ) -> Dict[str, Tensor]:
    """Return ``{'summed', 'n_valid_examples', 'per_example'}`` (no regularisation)."""

  @abc.abstractmethod
  def _build_input_queue(
    self,
    data_rng: RandomState,
    split: str,
    data_dir: str,
    global_batch_size: int,
    cache: Optional[bool] = None,
    repeat_final_dataset: Optional[bool] = None,
    num_batches: Optional[int] = None,
  ) -> Iterator[Dict[str, Any]]:
    """An iterator of batches ``{'inputs', 'targets', 'weights', ...}`` for a split."""

  @abc.abstractmethod
  def _eval_model_on_split(
    self,
    split: str,
    num_examples: int,
    global_batch_size: int,
    params: ParameterContainer,
    model_state: ModelAuxiliaryState,
    rng: RandomState,
    data_dir: str,
    global_step: int = 0,
  ) -> Dict[str, float]:
    """Evaluate on one split and return scalar metrics (Python floats)."""

  def eval_model(
    self,
    global_batch_size: int,
    params: ParameterContainer,
    model_state: ModelAuxiliaryState,
    rng: RandomState,
    data_dir: str,
    imagenet_v2_data_dir: Optional[str],
    global_step: int,
  ) -> Dict[str, float]:
    """Evaluate on train (a subset), validation and test; keys are ``split/metric``."""
    del imagenet_v2_data_dir
    results: Dict[str, float] = {}
    splits = [
      ('train', 'eval_train', self.num_eval_train_examples),
      ('validation', 'validation', self.num_validation_examples),
    ]
    if self.num_test_examples is not None:
      splits.append(('test', 'test', self.num_test_examples))
    for prefix, split, num_examples in splits:
      metrics = self._eval_model_on_split(
        split, num_examples, global_batch_size, params, model_state, rng, data_dir, global_step
      )
      results.update({f'{prefix}/{k}': v for k, v in metrics.items()})
      if prefix != 'train':
        results[f'{prefix}/num_examples'] = num_examples
    return results


# ----- The submission API (signatures, for reference and for the checker). -----
InitOptimizerFn = Callable[
  [Workload, ParameterContainer, ModelAuxiliaryState, Hyperparameters, RandomState], OptimizerState
]
UpdateParamsFn = Callable[..., UpdateReturn]
PrepareForEvalFn = Callable[..., UpdateReturn]
DataSelectionFn = Callable[..., Dict[str, Tensor]]
GetBatchSizeFn = Callable[[str], int]

# Parameter names of each submission function, in order (AlgoPerf v0.6).
SUBMISSION_SIGNATURES: Dict[str, Tuple[str, ...]] = {
  'get_batch_size': ('workload_name',),
  'init_optimizer_state': ('workload', 'model_params', 'model_state', 'hyperparameters', 'rng'),
  'update_params': (
    'workload',
    'current_param_container',
    'current_params_types',
    'model_state',
    'hyperparameters',
    'batch',
    'loss_type',
    'optimizer_state',
    'eval_results',
    'global_step',
    'rng',
    'train_state',
  ),
  'prepare_for_eval': (
    'workload',
    'current_param_container',
    'current_params_types',
    'model_state',
    'hyperparameters',
    'loss_type',
    'optimizer_state',
    'eval_results',
    'global_step',
    'rng',
  ),
  'data_selection': (
    'workload',
    'input_queue',
    'optimizer_state',
    'current_param_container',
    'model_state',
    'hyperparameters',
    'global_step',
    'rng',
  ),
  # Optional, this project's addition for data selection (see the README).
  'get_candidate_batch_size': ('workload_name',),
}
REQUIRED_SUBMISSION_FUNCTIONS = (
  'get_batch_size',
  'init_optimizer_state',
  'update_params',
  'data_selection',
)
OPTIONAL_PARAMETERS = {'update_params': ('train_state',)}
