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
import re
import sys
from typing import Dict, Iterator

# The import names of AlgoPerf's package: v0.6 and later, and v0.5.
PACKAGE_NAMES = ('algoperf', 'algorithmic_efficiency')
# Submodules a JAX submission imports (``spec`` is ``algoperf_like.spec`` itself).
SUBMODULES = (
  'spec',
  'jax_sharding_utils',
  'param_utils',
  'random_utils',
  'data_utils',
  'logger_utils',
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
  from algoperf_like import spec
  from algoperf_like.compat import algoperf as package
  from algoperf_like.compat.algoperf import (
    data_utils,
    jax_sharding_utils,
    logger_utils,
    param_utils,
    random_utils,
  )

  found = {
    'spec': spec,
    'jax_sharding_utils': jax_sharding_utils,
    'param_utils': param_utils,
    'random_utils': random_utils,
    'data_utils': data_utils,
    'logger_utils': logger_utils,
  }
  out = {}
  for sub in SUBMODULES:
    module = found[sub]
    setattr(package, sub, module)  # ``from algoperf import spec`` reads the attribute.
    for name in PACKAGE_NAMES:
      out[f'{name}.{sub}'] = module
  for name in PACKAGE_NAMES:
    out[name] = package
  return out


@contextlib.contextmanager
def active(version: str = '0.6') -> Iterator[None]:
  """Make ``algoperf`` and ``algorithmic_efficiency`` importable (and, in v0.5 mode, the
  removed JAX names available) for the duration of the block; restore everything after.

  Args:
    version: '0.6' (jit + sharding era) or '0.5' (also restores ``jax.tree_map`` etc.).
  """
  if version not in VERSIONS:
    raise ValueError(f'AlgoPerf version {version!r}: expected one of {", ".join(VERSIONS)}')
  aliases = _modules()
  saved = {name: sys.modules.get(name) for name in aliases}
  sys.modules.update(aliases)
  patched = []
  if version == '0.5':
    import jax

    for old, new in _REMOVED_JAX_NAMES.items():
      if not hasattr(jax, old):
        setattr(jax, old, getattr(jax.tree_util, new))
        patched.append(old)
  try:
    yield
  finally:
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
