"""Load a submission module from a path and check it against AlgoPerf's API."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Callable, Optional

from algoperf_like import spec


class SubmissionError(ValueError):
  """A submission that cannot be loaded or does not follow the API (one-line message)."""


@dataclasses.dataclass(frozen=True)
class Submission:
  """The five API functions of a loaded submission."""

  path: str
  module: ModuleType
  get_batch_size: Callable
  init_optimizer_state: Callable
  update_params: Callable
  prepare_for_eval: Optional[Callable]
  data_selection: Callable
  update_params_takes_train_state: bool
  # Optional: the size of the batches the input queue yields, for selection methods
  # that choose the training batch from a larger candidate batch.
  get_candidate_batch_size: Optional[Callable] = None


def _check_signature(path: str, name: str, fn: Callable) -> bool:
  """Check parameter names against AlgoPerf's; return whether optional ones are accepted."""
  if not callable(fn):
    raise SubmissionError(f'{path}: {name} is not a function')
  try:
    params = list(inspect.signature(fn).parameters.values())
  except (TypeError, ValueError) as e:
    raise SubmissionError(f'{path}: cannot read the signature of {name}: {e}') from None
  expected = spec.SUBMISSION_SIGNATURES[name]
  optional = spec.OPTIONAL_PARAMETERS.get(name, ())
  required = [p for p in expected if p not in optional]
  positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
  has_var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
  if positional[: len(required)] != required:
    raise SubmissionError(
      f'{path}: {name}({", ".join(positional)}) has the wrong parameters; '
      f'expected {name}({", ".join(expected)})'
    )
  extra = [
    p
    for p in params[len(required) :]
    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    and p.name not in optional
    and p.default is p.empty
  ]
  if extra:
    raise SubmissionError(f'{path}: {name} has unexpected required parameter {extra[0].name!r}')
  names = {p.name for p in params}
  return all(o in names for o in optional) or has_var_kw


def _import_path(path: str) -> ModuleType:
  digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
  module_name = f'_algoperf_like_submission_{digest}'
  spec_ = importlib.util.spec_from_file_location(module_name, path)
  if spec_ is None or spec_.loader is None:
    raise SubmissionError(f'{path}: not a Python file')
  module = importlib.util.module_from_spec(spec_)
  sys.modules[module_name] = module
  try:
    spec_.loader.exec_module(module)
  except SyntaxError as e:
    del sys.modules[module_name]
    raise SubmissionError(f'{path}:{e.lineno}: syntax error: {e.msg}') from None
  except Exception as e:  # The submission's own import-time failure.
    del sys.modules[module_name]
    raise SubmissionError(f'{path}: importing it failed: {type(e).__name__}: {e}') from None
  return module


def load_submission(path: str) -> Submission:
  """Import the submission at ``path`` and check its functions and signatures.

  Raises:
    SubmissionError: with a one-line message naming the file and the problem.
  """
  if not os.path.isfile(path):
    raise SubmissionError(f'{path}: submission file not found')
  module = _import_path(path)
  functions = {}
  for name in spec.REQUIRED_SUBMISSION_FUNCTIONS:
    if not hasattr(module, name):
      raise SubmissionError(f'{path}: required function {name} is missing')
    functions[name] = getattr(module, name)
  prepare = getattr(module, 'prepare_for_eval', None)
  takes_train_state = False
  for name, fn in list(functions.items()) + [('prepare_for_eval', prepare)]:
    if fn is not None:
      accepts_optional = _check_signature(path, name, fn)
      if name == 'update_params':
        takes_train_state = accepts_optional
  candidate = getattr(module, 'get_candidate_batch_size', None)
  if candidate is not None:
    _check_signature(path, 'get_candidate_batch_size', candidate)
  return Submission(
    path=os.path.abspath(path),
    module=module,
    prepare_for_eval=prepare,
    update_params_takes_train_state=takes_train_state,
    get_candidate_batch_size=candidate,
    **functions,
  )


def checked_batch_size(
  submission: Submission,
  workload_name: str,
  device_count: int = 1,
  function: str = 'get_batch_size',
) -> int:
  """``get_batch_size(workload_name)`` (or ``function``), checked: a positive int
  divisible by the number of devices."""
  try:
    size = getattr(submission, function)(workload_name)
  except Exception as e:
    raise SubmissionError(
      f'{submission.path}: {function}({workload_name!r}) raised {type(e).__name__}: {e}'
    ) from None
  if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
    raise SubmissionError(
      f'{submission.path}: {function}({workload_name!r}) returned '
      f'{size!r}; expected a positive integer'
    )
  if size % device_count:
    raise SubmissionError(
      f'{submission.path}: {function}({workload_name!r}) returned '
      f'{size}, not divisible by the {device_count} devices'
    )
  return size
