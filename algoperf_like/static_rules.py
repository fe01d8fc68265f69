"""Static rules for submissions: what a submission's source may not do, found by ``ast``.

A submission is timed and compared with others on the same workloads, so it must
train *any* workload through the API alone. Each rule below names one way to break
that; :func:`check_source` returns every :class:`Violation` of a source file.
Only the submission's own file is analysed (not the modules it imports); the
checker loads the module separately for the API check.

Rule ids and what they forbid (also in :data:`RULES`):

- ``workload-identity``: branching on which workload is running: comparing the
  workload's name, class, type, dataset sizes, target or parameter shapes with
  literals, ``isinstance(workload, ...)``, ``match`` on them, or looking a value up
  by the workload's name. Allowed inside ``get_batch_size`` (AlgoPerf lets batch
  sizes depend on the workload). Per-workload tuning would not carry over to
  held-out workloads and defeats the benchmark.
- ``io``: files and network (``open``, ``os`` file functions, ``pathlib``, ``shutil``,
  ``socket``, ``urllib``, ``requests``, ``pickle``, ``np.load``, ...): all data comes
  from ``input_queue``; anything else could smuggle in outside data or state.
- ``processes``: subprocesses, threads and native code (``subprocess``, ``os.system``,
  ``multiprocessing``, ``threading``, ``concurrent.futures``, ``asyncio``, ``ctypes``):
  work outside the timed calls escapes the clock.
- ``mutate-workload``: assigning, deleting or ``setattr`` on attributes or items of
  the ``workload`` object or of what the harness hands in with it (``input_queue``,
  ``train_state``; also through names bound to them), or calling
  ``attach_metrics_logger``: they belong to the harness, which relies on their
  constants (budget, eval period) and shares them across trials.
- ``monkeypatch``: assigning to attributes or items of imported modules or names
  (``time``, ``jax``, ``numpy``, ``algoperf_like`` and its workloads, ``builtins``, ...),
  ``unittest.mock``, and ``jax.config.update``: these change the clock, JAX or
  the harness for everyone.
- ``dynamic-code``: ``eval``, ``exec``, ``compile``, ``__import__``, ``importlib``,
  ``globals()``/``vars()``, ``sys.modules``, frames, ``gc`` and dunder
  introspection: they can do all of the above out of sight of these rules.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Iterable, List, Optional, Set

RULES = {
  'api': "required functions present with AlgoPerf's names and parameters",
  'search-space': 'a valid tuning_search_space.json (external) or none (self-tuning)',
  'workload-identity': "no branching on the workload's identity outside get_batch_size",
  'io': 'no file or network access',
  'processes': 'no subprocesses, threads or native code',
  'mutate-workload': 'no changes to the workload or the input queue/train state',
  'monkeypatch': 'no patching of imported modules (time, jax, harness) or JAX config',
  'dynamic-code': 'no eval/exec/dynamic imports/introspection that hides the above',
  'smoke': 'a short run on two CPU workloads: no exception, finite metrics, sound state',
}
STATIC_RULES = (
  'workload-identity',
  'io',
  'processes',
  'mutate-workload',
  'monkeypatch',
  'dynamic-code',
)


@dataclasses.dataclass(frozen=True)
class Violation:
  """One broken rule: rule id, file, line (None: the whole file) and why."""

  rule: str
  path: str
  line: Optional[int]
  message: str

  def __str__(self) -> str:
    where = self.path if self.line is None else f'{self.path}:{self.line}'
    return f'{where}: {self.message}'


def _matches(qualname: Optional[str], names: Iterable[str]) -> Optional[str]:
  """The entry of ``names`` that ``qualname`` is, or is inside (``a.b`` inside ``a``)."""
  if qualname:
    for name in names:
      if qualname == name or qualname.startswith(name + '.'):
        return name
  return None


# Modules whose import is a violation, and calls (dotted, after resolving imports).
_IO_MODULES = (
  'pathlib',
  'shutil',
  'tempfile',
  'glob',
  'fileinput',
  'zipfile',
  'tarfile',
  'gzip',
  'bz2',
  'lzma',
  'mmap',
  'sqlite3',
  'pickle',
  'shelve',
  'marshal',
  'dill',
  'cloudpickle',
  'joblib',
  'h5py',
  'socket',
  'ssl',
  'socketserver',
  'urllib',
  'urllib3',
  'requests',
  'http',
  'httpx',
  'aiohttp',
  'ftplib',
  'smtplib',
  'xmlrpc',
  'webbrowser',
  'tensorflow_datasets',
  'orbax',
  'tensorflow.io',
  'tensorflow.data',
)
_IO_CALLS = (
  'open',
  'io.open',
  'io.FileIO',
  'codecs.open',
  'os.open',
  'os.fdopen',
  'os.remove',
  'os.unlink',
  'os.rmdir',
  'os.removedirs',
  'os.rename',
  'os.renames',
  'os.replace',
  'os.mkdir',
  'os.makedirs',
  'os.listdir',
  'os.scandir',
  'os.walk',
  'os.chdir',
  'os.chmod',
  'os.chown',
  'os.link',
  'os.symlink',
  'os.truncate',
  'os.write',
  'os.read',
  'os.mkfifo',
  'os.utime',
  'os.path.exists',
  'os.path.lexists',
  'os.path.isfile',
  'os.path.isdir',
  'os.path.getsize',
  'os.path.getmtime',
  'numpy.load',
  'numpy.save',
  'numpy.savez',
  'numpy.savez_compressed',
  'numpy.loadtxt',
  'numpy.savetxt',
  'numpy.genfromtxt',
  'numpy.fromfile',
  'numpy.memmap',
  'jax.numpy.load',
  'jax.numpy.save',
)
_IO_METHODS = ('read_text', 'read_bytes', 'write_text', 'write_bytes', 'tofile')
_PROCESS_MODULES = (
  'subprocess',
  'multiprocessing',
  'threading',
  '_thread',
  'concurrent',
  'asyncio',
  'signal',
  'sched',
  'pty',
  'ctypes',
  'cffi',
)
_PROCESS_CALLS = (
  'os.system',
  'os.popen',
  'os.fork',
  'os.forkpty',
  'os.kill',
  'os.killpg',
  'os.posix_spawn',
  'os.posix_spawnp',
  'os._exit',
  'os.abort',
)
_PROCESS_PREFIXES = ('os.exec', 'os.spawn')
_DYNAMIC_MODULES = ('importlib', 'imp', 'runpy', 'code', 'codeop', 'gc', 'pkgutil')
_DYNAMIC_CALLS = (
  'eval',
  'exec',
  'compile',
  '__import__',
  'globals',
  'locals',
  'vars',
  'breakpoint',
  'sys._getframe',
  'sys.settrace',
  'sys.setprofile',
  'inspect.currentframe',
  'inspect.stack',
  'inspect.getouterframes',
  'inspect.getmembers',
  'sys.modules',
)
_DYNAMIC_ATTRS = (
  '__dict__',
  '__globals__',
  '__code__',
  '__closure__',
  '__builtins__',
  '__subclasses__',
  '__bases__',
  '__mro__',
  '__getattribute__',
  '__setattr__',
  '__delattr__',
  '__import__',
  '__loader__',
  '__spec__',
  'f_back',
  'f_locals',
  'f_globals',
  'f_builtins',
  'gi_frame',
  'tb_frame',
)
_MOCK_MODULES = ('unittest.mock', 'mock')
# rule -> (names whose import or call is a violation, why).
_FORBIDDEN = (
  ('io', _IO_MODULES + _IO_CALLS, 'file or network access; all data comes from input_queue'),
  (
    'processes',
    _PROCESS_MODULES + _PROCESS_CALLS,
    'work outside the timed calls escapes the clock',
  ),
  (
    'dynamic-code',
    _DYNAMIC_MODULES + _DYNAMIC_CALLS,
    'dynamic code and introspection hide what the code does from these checks',
  ),
  ('monkeypatch', _MOCK_MODULES, 'patching changes the harness for everyone'),
)

# Attributes that identify a workload when compared with literals.
_IDENTITY_ATTRS = frozenset(
  {
    'workload_name',
    '__class__',
    '__name__',
    '__qualname__',
    '__module__',
    'param_shapes',
    'model_params_types',
    'num_train_examples',
    'num_eval_train_examples',
    'num_validation_examples',
    'num_test_examples',
    'target_metric_name',
    'validation_target_value',
    'test_target_value',
    'eval_batch_size',
    'train_mean',
    'train_stddev',
  }
)
_STRING_TESTS = frozenset(
  {
    'startswith',
    'endswith',
    'find',
    'rfind',
    'index',
    'count',
    'get',
    '__eq__',
    '__ne__',
    '__contains__',
  }
)
_CLASS_SOURCES = ('type(workload)', '.__class__')  # Compared with classes, not literals.
_NAME_SOURCES = _CLASS_SOURCES + (
  '.workload_name',
  'workload_name',
  'workload.name',
  '.__name__',
  '.__qualname__',
)
_WORKLOAD = 'workload'  # The API's parameter name.
_HARNESS_OBJECTS = frozenset({_WORKLOAD, 'input_queue', 'train_state'})  # Also API names.
_ALLOWED_IDENTITY_FUNCTION = 'get_batch_size'


def _root(node: ast.AST) -> Optional[str]:
  """The name at the bottom of ``a.b[c].d``, or None for anything else (calls, literals)."""
  while isinstance(node, (ast.Attribute, ast.Subscript)):
    node = node.value
  return node.id if isinstance(node, ast.Name) else None


def _is_literal(node: ast.AST, literal_names: Set[str]) -> bool:
  """A constant (not None/bool), f-string, collection of those, or a name bound only to one."""
  if isinstance(node, ast.Constant):
    return (
      node.value is not None and not isinstance(node.value, bool) and node.value is not Ellipsis
    )
  if isinstance(node, ast.JoinedStr):
    return True
  if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
    return _is_literal(node.operand, literal_names)
  if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
    return bool(node.elts) and all(_is_literal(e, literal_names) for e in node.elts)
  if isinstance(node, ast.Dict):
    return bool(node.keys) and all(
      k is not None and _is_literal(k, literal_names) for k in node.keys
    )
  return isinstance(node, ast.Name) and node.id in literal_names


class _Analyzer(ast.NodeVisitor):
  """One pass over a module; collects violations in ``self.violations``."""

  def __init__(self, path: str, tree: ast.Module) -> None:
    self.path = path
    self.violations: List[Violation] = []
    self.functions: List[str] = []  # Enclosing function names, outermost first.
    self.imported = self._imports(tree)  # local name -> dotted name
    self.workload_names = self._bound_to(tree, {_WORKLOAD})
    self.harness_names = self._bound_to(tree, set(_HARNESS_OBJECTS))
    self.module_names = self._bound_to(tree, set(self.imported))
    self.literal_names = self._literal_names(tree)

  # ----- Set-up: what names stand for. -----
  @staticmethod
  def _imports(tree: ast.Module) -> dict:
    names = {}
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        for a in node.names:
          if a.asname:
            names[a.asname] = a.name
          else:
            names[a.name.split('.')[0]] = a.name.split('.')[0]
      elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for a in node.names:
          names[a.asname or a.name] = f'{node.module}.{a.name}'
    return names

  @staticmethod
  def _bound_to(tree: ast.Module, roots: Set[str]) -> Set[str]:
    """``roots`` plus every name assigned an ``a.b[c]`` chain rooted at one of them."""
    names = set(roots)
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    changed = True
    while changed:
      changed = False
      for node in assigns:
        if _root(node.value) in names:
          for target in node.targets:
            if isinstance(target, ast.Name) and target.id not in names:
              names.add(target.id)
              changed = True
    return names

  @staticmethod
  def _literal_names(tree: ast.Module) -> Set[str]:
    """Module-level names every assignment of which is a literal (``NAME = 'mnist1d'``)."""
    literal, other = set(), set()
    for node in tree.body:
      if isinstance(node, ast.Assign):
        for target in node.targets:
          if isinstance(target, ast.Name):
            (literal if _is_literal(node.value, set()) else other).add(target.id)
    return literal - other

  def _qualname(self, node: ast.AST) -> Optional[str]:
    """``np.load`` -> ``numpy.load`` through the imports; unimported names as written."""
    if isinstance(node, ast.Name):
      return self.imported.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
      base = self._qualname(node.value)
      return f'{base}.{node.attr}' if base else None
    return None

  def _report(self, rule: str, node: ast.AST, message: str) -> None:
    line = getattr(node, 'lineno', None)
    if not any(v.rule == rule and v.line == line for v in self.violations):
      self.violations.append(Violation(rule, self.path, line, message))  # One per rule and line.

  # ----- Imports. -----
  def _check_forbidden(self, node: ast.AST, name: Optional[str], verb: str) -> bool:
    """Report ``name`` if it is a forbidden module or function; return whether it was."""
    for rule, names, why in _FORBIDDEN:
      if _matches(name, names) or (
        rule == 'processes' and (name or '').startswith(_PROCESS_PREFIXES)
      ):
        self._report(rule, node, f'{verb} {name}{"()" * (verb == "calls")}: {why}')
        return True
    return False

  def visit_Import(self, node: ast.Import) -> None:
    for alias in node.names:
      self._check_forbidden(node, alias.name, 'imports')

  def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
    if node.module and not node.level:
      for alias in node.names:
        self._check_forbidden(node, f'{node.module}.{alias.name}', 'imports')

  # ----- Functions: where identity checks are allowed. -----
  def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
    self.functions.append(node.name)
    self.generic_visit(node)
    self.functions.pop()

  visit_AsyncFunctionDef = visit_FunctionDef

  def _identity_allowed(self) -> bool:
    return bool(self.functions) and self.functions[0] == _ALLOWED_IDENTITY_FUNCTION

  def _identity_source(self, node: ast.AST) -> Optional[str]:
    """What in ``node`` reveals the workload's identity (e.g. ``.workload_name``), if anything."""
    for sub in ast.walk(node):
      if isinstance(sub, ast.Attribute) and sub.attr in _IDENTITY_ATTRS:
        return f'.{sub.attr}'
      if (
        isinstance(sub, ast.Attribute)
        and sub.attr == 'name'
        and _root(sub.value) in self.workload_names
      ):
        return 'workload.name'
      if isinstance(sub, ast.Name) and sub.id == 'workload_name':
        return 'workload_name'
      if (
        isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Name)
        and sub.func.id == 'type'
        and sub.args
        and _root(sub.args[0]) in self.workload_names
      ):
        return 'type(workload)'
    return None

  @staticmethod
  def _shape_test(shape_side: ast.AST, literal: ast.AST) -> bool:
    """``p.shape == (128, 10)``, ``p.shape[1] == 10``.

    Not ``len(p.shape) == 2`` or ``p.shape[0] == 1``: structural tests any optimizer may do.
    """
    if isinstance(shape_side, ast.Attribute) and shape_side.attr in ('shape', 'shape_tuple'):
      return isinstance(literal, (ast.Tuple, ast.List, ast.Set))
    if (
      isinstance(shape_side, ast.Subscript)
      and isinstance(shape_side.value, ast.Attribute)
      and shape_side.value.attr in ('shape', 'shape_tuple')
    ):
      return (
        isinstance(literal, ast.Constant)
        and isinstance(literal.value, int)
        and literal.value not in (0, 1)
      )
    return False

  def _identity(self, node: ast.AST, what: str) -> None:
    self._report(
      'workload-identity',
      node,
      f'{what}: submissions must not special-case workloads (allowed only in get_batch_size)',
    )

  def visit_Compare(self, node: ast.Compare) -> None:
    if not self._identity_allowed():
      operands = [node.left] + node.comparators
      for a, b in zip(operands, operands[1:]):
        for side, other in ((a, b), (b, a)):
          source = self._identity_source(side)
          is_none = isinstance(other, ast.Constant) and other.value is None
          if source in _CLASS_SOURCES and not is_none:
            self._identity(node, f'compares {source} with {ast.unparse(other)}')
          elif not _is_literal(other, self.literal_names):
            continue
          elif source:
            self._identity(node, f'compares {source} with a literal')
          elif self._shape_test(side, other):
            self._identity(node, 'compares a parameter shape with a literal')
    self.generic_visit(node)

  def visit_Match(self, node: ast.Match) -> None:
    source = self._identity_source(node.subject)
    if source and not self._identity_allowed():
      self._identity(node, f'matches on {source}')
    self.generic_visit(node)

  # ----- Calls: I/O, processes, dynamic code, setattr, isinstance, config. -----
  def visit_Call(self, node: ast.Call) -> None:
    name = self._qualname(node.func)
    if self._check_forbidden(node, name, 'calls'):
      pass
    elif isinstance(node.func, ast.Attribute) and node.func.attr in _IO_METHODS:
      self._report(
        'io', node, f'calls .{node.func.attr}(): file access; all data comes from input_queue'
      )
    elif name in ('setattr', 'delattr') and node.args:
      self._check_store(node.args[0], node, f'{name}() on')
    elif _matches(name, ('jax.config.update', 'jax.config.config.update')):
      self._report(
        'monkeypatch',
        node,
        'calls jax.config.update(): the global JAX '
        'configuration (jit, precision, platforms) belongs to the harness',
      )
    elif (
      isinstance(node.func, ast.Attribute)
      and node.func.attr == 'attach_metrics_logger'
      and _root(node.func.value) in self.workload_names
    ):
      self._report('mutate-workload', node, "replaces the workload's metrics logger")
    if not self._identity_allowed():
      self._check_identity_call(node, name)
    self.generic_visit(node)

  def _check_identity_call(self, node: ast.Call, name: Optional[str]) -> None:
    if (
      name in ('isinstance', 'issubclass')
      and node.args
      and (_root(node.args[0]) in self.workload_names or self._identity_source(node.args[0]))
    ):
      self._identity(node, f'{name}() on the workload')
    elif isinstance(node.func, ast.Attribute) and node.func.attr in _STRING_TESTS:
      source = self._identity_source(node.func.value)
      keys = [s for s in map(self._identity_source, node.args) if s in _NAME_SOURCES]
      if source and any(_is_literal(a, self.literal_names) for a in node.args):
        self._identity(node, f'tests {source} with .{node.func.attr}()')
      elif node.func.attr == 'get' and keys:
        self._identity(node, f'looks up a value by {keys[0]}')
    elif _matches(name, ('re',)) and any(self._identity_source(a) for a in node.args):
      self._identity(node, f"matches {name}() against the workload's identity")

  def visit_Subscript(self, node: ast.Subscript) -> None:
    if isinstance(node.ctx, ast.Load) and not self._identity_allowed():
      source = self._identity_source(node.slice)
      if source in _NAME_SOURCES:
        self._identity(node, f'looks up a value by {source}')
    elif isinstance(node.ctx, (ast.Store, ast.Del)):
      self._check_store(node, node, 'assigns to')
    self.generic_visit(node)

  # ----- Assignments and attributes. -----
  def visit_Attribute(self, node: ast.Attribute) -> None:
    if isinstance(node.ctx, (ast.Store, ast.Del)):
      self._check_store(node, node, 'assigns to')
    if node.attr in _DYNAMIC_ATTRS:
      self._report(
        'dynamic-code',
        node,
        f'uses .{node.attr}: introspection hides what the code does from these checks',
      )
    elif _matches(self._qualname(node), ('sys.modules',)):
      self._report('dynamic-code', node, 'uses sys.modules: it can replace or reach any module')
    self.generic_visit(node)

  def visit_Name(self, node: ast.Name) -> None:
    if node.id == '__builtins__':
      self._report('dynamic-code', node, 'uses __builtins__: it can replace any built-in')

  def _check_store(self, target: ast.AST, node: ast.AST, verb: str) -> None:
    root = _root(target)
    text = ast.unparse(target)
    if root in self.harness_names:
      self._report(
        'mutate-workload',
        node,
        f'{verb} {text}: the workload, input queue and train state belong to the harness',
      )
    elif root in self.module_names:
      self._report(
        'monkeypatch',
        node,
        f'{verb} {text}: patching imported modules '
        '(time, jax, the harness) changes them for everyone',
      )


def check_source(source: str, path: str = 'submission.py') -> List[Violation]:
  """All static violations in ``source`` (raises SyntaxError if it does not parse)."""
  tree = ast.parse(source, filename=path)
  analyzer = _Analyzer(path, tree)
  analyzer.visit(tree)
  return sorted(analyzer.violations, key=lambda v: (v.line or 0, v.rule))
