"""What an unmodified AlgoPerf submission imports, and the context in which it runs.

``algoperf`` (v0.6) and ``algorithmic_efficiency`` (v0.5) resolve to
``algoperf_like.compat.algoperf`` only inside :func:`active`: the loader enters it
to import a submission and the runner to train it. Outside, nothing named
``algoperf`` is importable from this project, so a real AlgoPerf install beside
it is untouched; inside, the compatibility layer shadows it (a submission must
see this harness's ``spec`` and workloads, never another harness's).

Importing this module does no work beyond defining names.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Dict, Iterator, List, Optional

# The import names of AlgoPerf's package: v0.6 and later, and v0.5.
PACKAGE_NAMES = ('algoperf', 'algorithmic_efficiency')
# Submodules a JAX submission imports (``spec`` is ``algoperf_like.spec`` itself; the
# rest are modules of ``algoperf_like.compat.algoperf``).
SUBMODULES = (
  'spec',
  'jax_sharding_utils',
  'param_utils',
  'random_utils',
  'data_utils',
  'logger_utils',
  'jax_utils',
  'pytorch_utils',
  'checkpoint_utils',
  'profiler',
  'halton',
  'workloads',
  'workloads.workloads',
)
VERSIONS = ('0.5', '0.6')
# JAX names removed since AlgoPerf v0.5 was written, restored in v0.5 mode only.
_REMOVED_JAX_NAMES = {
  'tree_map': 'tree_map',
  'tree_multimap': 'tree_map',
  'tree_leaves': 'tree_leaves',
  'tree_flatten': 'tree_flatten',
  'tree_unflatten': 'tree_unflatten',
  'tree_structure': 'tree_structure',
  'tree_transpose': 'tree_transpose',
}


def _modules() -> Dict[str, object]:
  import importlib

  from algoperf_like import spec
  from algoperf_like.compat import algoperf as package

  out = {}
  for sub in SUBMODULES:
    if sub == 'spec':
      module = spec
    else:
      module = importlib.import_module(f'algoperf_like.compat.algoperf.{sub}')
    parent_name, _, leaf = sub.rpartition('.')
    parent = out[f'{PACKAGE_NAMES[0]}.{parent_name}'] if parent_name else package
    setattr(parent, leaf, module)  # ``from algoperf import spec`` reads the attribute.
    for name in PACKAGE_NAMES:
      out[f'{name}.{sub}'] = module
  for name in PACKAGE_NAMES:
    out[name] = package
  return out


# Modules of a submission's own folder, kept between its runs (see ``active``).
_OWN_MODULES: Dict[str, Dict[str, object]] = {}


def _own(module: object, folders: List[str]) -> bool:
  """Whether ``module`` is a file (or a namespace package) inside one of ``folders``."""
  file = getattr(module, '__file__', None)
  places = [file] if file else list(getattr(module, '__path__', None) or ())
  return bool(places) and all(
    any(os.path.abspath(p).startswith(folder + os.sep) for folder in folders) for p in places
  )


def _restore_clip_keywords():
  """``jnp.clip(x, a_min=..., a_max=...)``: AlgoPerf v0.6 pins JAX 0.7.0, which still took
  these keywords (later JAX removed them; current submissions call them). Installs a
  ``jnp.clip`` that maps them to ``min``/``max`` when the installed one refuses them, and
  returns the original to put back (None: nothing installed)."""
  import inspect

  import jax.numpy as jnp

  original = jnp.clip
  try:
    if 'a_min' in inspect.signature(original).parameters:
      return None
  except (TypeError, ValueError):
    return None

  def clip(arr=None, min=None, max=None, *, a=None, a_min=None, a_max=None):  # noqa: A002
    """``jnp.clip`` that also takes AlgoPerf-era ``a``, ``a_min`` and ``a_max``."""
    arr = a if arr is None else arr
    return original(arr, a_min if min is None else min, a_max if max is None else max)

  jnp.clip = clip
  return original


@contextlib.contextmanager
def active(version: str = '0.6', submission_path: Optional[str] = None) -> Iterator[None]:
  """Make ``algoperf`` and ``algorithmic_efficiency`` importable (and, in v0.5 mode, the
  removed JAX names available) for the duration of the block; restore everything after.

  With ``submission_path``, the submission's own modules are importable too, as under
  AlgoPerf's runner: its folder is on ``sys.path`` (``import utils`` of a sibling), and
  absolute imports of its files by the dotted path they had in the repository it was
  written in (``algorithms.target_setting_algorithms.jax_submission_base``) resolve
  to its folder (:mod:`algoperf_like.compat.paths`). The modules so imported leave
  ``sys.modules`` with the block and come back when the same submission is active
  again, so two submissions with a ``utils.py`` each never see each other's.

  Args:
    version: '0.6' (jit + sharding era) or '0.5' (also restores ``jax.tree_map`` etc.).
    submission_path: the submission's file (None: only the ``algoperf`` names).
  """
  if version not in VERSIONS:
    raise ValueError(f'AlgoPerf version {version!r}: expected one of {", ".join(VERSIONS)}')
  aliases = _modules()
  folder = finder = None
  own: Dict[str, object] = {}
  if submission_path is not None:
    from algoperf_like.compat import paths

    folder = os.path.dirname(os.path.abspath(submission_path))
    finder = paths.AnchorFinder(paths.anchors(folder))
    own = _OWN_MODULES.get(folder, {})
  saved = {name: sys.modules.get(name) for name in list(aliases) + list(own)}
  before = set(sys.modules)
  sys.modules.update(aliases)
  sys.modules.update(own)
  added_path = folder is not None and folder not in sys.path
  if added_path:
    sys.path.insert(0, folder)
  if finder is not None:
    sys.meta_path.insert(0, finder)
  patched = []
  if version == '0.5':
    import jax

    for old, new in _REMOVED_JAX_NAMES.items():
      if not hasattr(jax, old):
        setattr(jax, old, getattr(jax.tree_util, new))
        patched.append(old)
  clip = _restore_clip_keywords()
  try:
    yield
  finally:
    if finder is not None:
      sys.meta_path.remove(finder)
      dirs = [folder] + [d for d in finder.served.values() if d]
      # Decided before any is removed (a namespace package's path reads its parent's).
      leaving = [
        name
        for name in set(sys.modules) - before
        if name in finder.served or _own(sys.modules[name], dirs)
      ]
      for name in leaving:
        own[name] = sys.modules.pop(name)
      _OWN_MODULES[folder] = own
    if added_path and folder in sys.path:
      sys.path.remove(folder)
    if clip is not None:
      import jax.numpy as jnp_

      jnp_.clip = clip
    import jax as jax_  # Already imported whenever names were patched.

    for old in patched:
      delattr(jax_, old)
    for name, module in saved.items():
      if module is None:
        sys.modules.pop(name, None)
      else:
        sys.modules[name] = module


_PMAP = re.compile(r'\bpmap\s*\(|jax_utils\.replicate\b|\bpmap\b\s*,')
_V05 = re.compile(r'^\s*(from|import)\s+algorithmic_efficiency\b', re.M)


def detect_api(source: str) -> str:
  """'pmap' for a submission of the pmap era (``jax.pmap``, ``flax.jax_utils.replicate``),
  else 'jit' (AlgoPerf v0.6's jit + sharding API)."""
  return 'pmap' if _PMAP.search(source) else 'jit'


def detect_version(source: str) -> str:
  """'0.5' for a submission that imports ``algorithmic_efficiency`` (v0.5's package name),
  else '0.6'."""
  return '0.5' if _V05.search(source) else '0.6'
