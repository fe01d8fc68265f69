"""Clean edges: no import cycle anywhere in the package, and no dead modules or names.

The graph has an edge for every import statement in the package's source, at module
level or inside a function (a lazy import is still a dependency: the cycle
``cli -> executors -> executors.processes -> cli`` ran through one). ``from p import m``
is an edge to the module ``p.m`` when there is one, else to the package ``p``.
"""

import ast
import importlib.util
import os

# The package and the folders installed under it (see setup.py).
ROOTS = ('algoperf_like', 'algoperf_like.workloads', 'algoperf_like.submissions')
ROOTS += ('algoperf_like.scoring',)


def _modules():
  """``{module name: source file}`` for every module of the package."""
  found = {}
  for root in ROOTS:
    (folder,) = importlib.util.find_spec(root).submodule_search_locations
    for dirpath, dirnames, filenames in os.walk(folder):
      dirnames[:] = [d for d in dirnames if os.path.isfile(os.path.join(dirpath, d, '__init__.py'))]
      relative = os.path.relpath(dirpath, folder)
      package = root if relative == '.' else f'{root}.{relative.replace(os.sep, ".")}'
      for name in filenames:
        if not name.endswith('.py'):
          continue
        module = package if name == '__init__.py' else f'{package}.{name[:-3]}'
        found[module] = os.path.join(dirpath, name)
  return found


def _edges(module, path, modules):
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read(), filename=path)
  package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
  targets = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      targets |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom):
      if node.level:
        base = package.rsplit('.', node.level - 1)[0] if node.level > 1 else package
        base = f'{base}.{node.module}' if node.module else base
      else:
        base = node.module
      for alias in node.names:
        targets.add(f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base)
  return {t for t in targets if t in modules and t != module}


def _cycles(graph):
  """The strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        out.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return out


def test_the_package_has_no_import_cycle():
  modules = _modules()
  assert 'algoperf_like.cli.run' in modules and 'algoperf_like.workloads.targets' in modules
  graph = {m: _edges(m, p, modules) for m, p in modules.items()}
  assert _cycles(graph) == []


def test_the_cycle_finder_finds_one():
  graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
  assert _cycles(graph) == [['a', 'b', 'c']]


def test_every_harness_module_is_imported_somewhere():
  """A module nothing imports is dead code (entry points and plug-ins excepted)."""
  modules = _modules()
  imported = set()
  for module, path in modules.items():
    imported |= _edges(module, path, modules)
  # The compat layer imports AlgoPerf's submodules by name, from its list of them.
  from algoperf_like import compat

  imported |= {f'algoperf_like.compat.algoperf.{sub}' for sub in compat.SUBMODULES}
  entry_points = {'algoperf_like', 'algoperf_like.__main__', 'algoperf_like.scoring.__main__'}
  from algoperf_like import sandbox

  entry_points.add(sandbox.CHILD_MODULE)  # Started as `python -m` inside the sandbox.
  dead = [
    m
    for m in modules
    if m.split('.')[1:2] not in (['workloads'], ['submissions'])  # Reached through the registry.
    and m not in imported
    and m not in entry_points
    and not modules[m].endswith('__init__.py')  # Packages are imported with their modules.
  ]
  assert dead == []
