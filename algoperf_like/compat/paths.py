"""Absolute imports of a submission's own modules, resolved as AlgoPerf's runner resolves them.

AlgoPerf's ``submission_runner.py`` turns ``--submission_path`` (a path relative to the
repository it runs in) into a dotted module name and imports that, with the repository
root first on ``sys.path``. A submission can therefore import its own files by their
dotted path from that root: the target-setting algorithms do
``from algorithms.target_setting_algorithms.jax_submission_base import ...``, the archived
paper baselines ``from algorithms.archived_paper_baselines.shampoo.jax.distributed_shampoo
import ...``, and leaderboard submissions the path they had in the leaderboard's
repository (``submissions.<...>.caspr_adaptive.caspr_adaptive_helper``).

Here a submission runs from wherever it is. :func:`anchors` reads (without running) the
absolute imports of the submission's folder and keeps those whose dotted name, from
some component on, names files that exist: a component equal to the name of the folder
or of one of its parents (the *anchor*), followed by modules under that directory.
:class:`AnchorFinder` then serves exactly those names: the anchor as a package whose
path is that directory, the components before it as empty namespace packages. Every
other import goes its usual way.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import os
from typing import Dict, Iterator, List, Optional, Tuple

# Import names never served from a submission's folder.
_RESERVED = ('algoperf', 'algorithmic_efficiency', 'algoperf_like')
_MAX_FILES = 500  # Files of a folder read for imports (big vendored trees stop there).


def _python_files(folder: str) -> Iterator[str]:
  count = 0
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__pycache__')))
    for name in sorted(files):
      if name.endswith('.py'):
        count += 1
        if count > _MAX_FILES:
          return
        yield os.path.join(root, name)


def _absolute_imports(path: str) -> List[str]:
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      tree = ast.parse(f.read(), path)
  except (SyntaxError, ValueError, OSError):
    return []
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.extend(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names.append(node.module)
      names.extend(f'{node.module}.{alias.name}' for alias in node.names if alias.name != '*')
  return names


def _exists_under(directory: str, parts: List[str]) -> bool:
  path = os.path.join(directory, *parts)
  return os.path.isdir(path) or os.path.isfile(path + '.py')


def _resolve(name: str, ancestors: List[str]) -> Optional[Tuple[str, str]]:
  """``(anchor module name, directory)`` for ``name``, or None when it is not the
  submission's own: the first component that names the folder or a parent of it, with
  the rest of the name existing under that directory (at least one module deep)."""
  parts = name.split('.')
  if parts[0] in _RESERVED:
    return None
  for i, part in enumerate(parts[:-1]):
    for directory in ancestors:
      if os.path.basename(directory) == part and _exists_under(directory, parts[i + 1 :]):
        return '.'.join(parts[: i + 1]), directory
  return None


def anchors(folder: str) -> Dict[str, Optional[str]]:
  """The module names to serve for the submission in ``folder``: anchor packages map to
  their directory, the namespace packages above them to None."""
  folder = os.path.abspath(folder)
  ancestors = []
  path = folder
  while os.path.basename(path):
    ancestors.append(path)
    path = os.path.dirname(path)
  served: Dict[str, Optional[str]] = {}
  for file in _python_files(folder):
    for name in _absolute_imports(file):
      found = _resolve(name, ancestors)
      if found is None:
        continue
      anchor, directory = found
      parts = anchor.split('.')
      for j in range(1, len(parts)):
        served.setdefault('.'.join(parts[:j]), None)
      served[anchor] = directory
  return served


class AnchorFinder(importlib.abc.MetaPathFinder):
  """Serves the names of :func:`anchors` (placed first on ``sys.meta_path``, as the
  repository root is first on AlgoPerf's ``sys.path``)."""

  def __init__(self, served: Dict[str, Optional[str]]) -> None:
    self.served = served

  def find_spec(self, fullname, path=None, target=None):
    if fullname not in self.served:
      return None
    directory = self.served[fullname]
    if directory is None:  # Above the anchor: an empty namespace package.
      spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
      spec.submodule_search_locations = []
      return spec
    init = os.path.join(directory, '__init__.py')
    if os.path.isfile(init):
      return importlib.util.spec_from_file_location(
        fullname, init, submodule_search_locations=[directory]
      )
    spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
    spec.submodule_search_locations = [directory]
    return spec
