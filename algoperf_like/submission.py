"""Load a submission module from a path and check it against AlgoPerf's API."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.machinery
import importlib.util
import inspect
import os
import re
import sys
from types import ModuleType
from typing import Callable, Optional

from algoperf_like import compat, spec


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
  # The AlgoPerf API generation: 'jit' (v0.6: jit + sharding) or 'pmap' (replicated
  # params with a leading device axis, batches (local_devices, per_device, ...)).
  api: str = 'jit'
  # The AlgoPerf version the submission was written for: '0.6', or '0.5' (it imports
  # ``algorithmic_efficiency``; JAX names removed since are restored while it runs).
  algoperf_version: str = '0.6'


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


def _import_path(path: str, version: str) -> ModuleType:
  """Import ``path`` as the module ``submission`` of a package made of its folder.

  As AlgoPerf's runner imports a submission by its dotted module name, the folder is
  a package: relative imports (``from . import utils``) and sibling modules work, and
  so do plain ``import utils`` of a sibling, since the folder is on ``sys.path`` while
  the submission is imported (and runs), and absolute imports of its own files by their
  dotted path in the repository it came from (``compat.active``). Data files are found
  beside ``__file__``.
  """
  folder = os.path.dirname(os.path.abspath(path))
  digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
  package_name = f'_algoperf_like_submission_{digest}'
  stem = os.path.splitext(os.path.basename(path))[0]
  module_name = f'{package_name}.{stem}'
  init = os.path.join(folder, '__init__.py')
  if os.path.isfile(init):
    package_spec = importlib.util.spec_from_file_location(
      package_name, init, submodule_search_locations=[folder]
    )
  else:  # A namespace-like package: nothing to execute, the folder is its path.
    package_spec = importlib.machinery.ModuleSpec(package_name, None, is_package=True)
    package_spec.submodule_search_locations = [folder]
  spec_ = importlib.util.spec_from_file_location(module_name, path)
  if spec_ is None or spec_.loader is None or package_spec is None:
    raise SubmissionError(f'{path}: not a Python file')
  names = [package_name, module_name]
  try:
    with compat.active(version, path):
      package = importlib.util.module_from_spec(package_spec)
      sys.modules[package_name] = package
      if package_spec.loader is not None:
        package_spec.loader.exec_module(package)
      module = importlib.util.module_from_spec(spec_)
      sys.modules[module_name] = module
      setattr(package, stem, module)
      spec_.loader.exec_module(module)
  except SyntaxError as e:
    for name in names:
      sys.modules.pop(name, None)
    raise SubmissionError(f'{path}:{e.lineno}: syntax error: {e.msg}') from None
  except Exception as e:  # The submission's own import-time failure.
    for name in names:
      sys.modules.pop(name, None)
    raise SubmissionError(f'{path}: importing it failed: {type(e).__name__}: {e}') from None
  return module


def _installed(name: str) -> bool:
  from importlib import metadata

  try:
    metadata.version(name)
    return True
  except metadata.PackageNotFoundError:
    return False


def missing_requirements(path: str) -> list:
  """The requirements of the submission's ``requirements.txt`` that are not installed
  (or installed at a version outside the specifier), as written in the file."""
  req_file = os.path.join(os.path.dirname(os.path.abspath(path)), 'requirements.txt')
  if not os.path.isfile(req_file):
    return []
  from importlib import metadata

  from packaging.requirements import InvalidRequirement, Requirement

  missing = []
  with open(req_file) as f:
    for line in f:
      raw = line.strip()
      line = line.split('#', 1)[0].strip()
      if raw.startswith(('-e ', '--editable')):  # A checkout: installed under its egg name?
        egg = re.search(r'#egg=([A-Za-z0-9_.\-]+)', raw)
        if egg and not _installed(egg.group(1)):
          missing.append(raw.split(None, 1)[1] if ' ' in raw else raw)
        continue
      if not line or line.startswith('-'):
        continue
      try:
        req = Requirement(line)
      except InvalidRequirement:
        missing.append(line)
        continue
      if req.marker is not None and not req.marker.evaluate():
        continue
      try:
        version = metadata.version(req.name)
      except metadata.PackageNotFoundError:
        missing.append(line)
        continue
      if req.specifier and not req.specifier.contains(version, prereleases=True):
        missing.append(f'{line} (installed: {version})')
  return missing


def _api_source(source: str, functions: list) -> str:
  """The submission's source plus that of the files its API functions are defined in
  (a submission may take ``update_params`` from a module of its own)."""
  sources = [source]
  seen = set()
  for fn in functions:
    try:
      file = inspect.getsourcefile(fn) if fn is not None else None
    except TypeError:
      file = None
    if file and file not in seen and os.path.isfile(file):
      seen.add(file)
      with open(file, encoding='utf-8', errors='replace') as f:
        sources.append(f.read())
  return '\n'.join(sources)


def load_submission(path: str) -> Submission:
  """Import the submission at ``path`` and check its functions and signatures.

  Raises:
    SubmissionError: with a one-line message naming the file and the problem.
  """
  if not os.path.isfile(path):
    raise SubmissionError(f'{path}: submission file not found')
  with open(path, encoding='utf-8', errors='replace') as f:
    source = f.read()
  version = compat.detect_version(source)
  module = _import_path(path, version)
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
  api_source = _api_source(source, list(functions.values()) + [prepare])
  candidate = getattr(module, 'get_candidate_batch_size', None)
  if candidate is not None:
    _check_signature(path, 'get_candidate_batch_size', candidate)
  return Submission(
    path=os.path.abspath(path),
    module=module,
    prepare_for_eval=prepare,
    update_params_takes_train_state=takes_train_state,
    get_candidate_batch_size=candidate,
    api=compat.detect_api(api_source),
    algoperf_version=version,
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


# What ``get_batch_size`` raises for a workload name it does not know: published
# submissions raise ValueError (AlgoPerf's runner retries only that) or look the name up
# in a dict (KeyError).
_UNKNOWN_NAME = ('ValueError', 'KeyError')


def _unknown_name(error: SubmissionError) -> Optional[str]:
  """The exception type of a ``get_batch_size`` failure meaning "unknown name", else None."""
  for kind in _UNKNOWN_NAME:
    if f') raised {kind}:' in str(error):
      return kind
  return None


def resolve_batch_size(
  submission: Submission, workload: spec.Workload, device_count: int = 1
) -> tuple:
  """``(batch size, notice)``: ``get_batch_size(workload_name)``, checked.

  A ``ValueError`` (published submissions list AlgoPerf's workload names and raise on
  any other) or ``KeyError`` (those that look the name up in a dict) retries with the
  AlgoPerf workload the workload stands for (``workload.algoperf_base_workload``), as
  AlgoPerf retries a variant with its base name; if that fails the same way, the
  workload's ``default_batch_size`` is used. ``notice`` is a one-line message saying so
  (None when the submission answered for the name).
  """
  name = workload.workload_name
  try:
    return checked_batch_size(submission, name, device_count), None
  except SubmissionError as e:
    kind = _unknown_name(e)
    if kind is None:
      raise
  base = getattr(workload, 'algoperf_base_workload', None)
  if base and base != name:
    try:
      size = checked_batch_size(submission, base, device_count)
      return size, f'get_batch_size({name!r}) raised {kind}: used {base!r}: {size}'
    except SubmissionError as e:
      if _unknown_name(e) is None:
        raise
  size = workload.default_batch_size
  tried = f'{name!r}' + (f' and {base!r}' if base and base != name else '')
  return size, (
    f'get_batch_size({tried}) raised {kind}: used the workload default batch size {size}'
  )
