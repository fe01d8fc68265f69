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
  Also *fingerprints*: sizes, counts, shapes, dtypes, key names or the tree structure of
  the parameters, model state or batch (``x.shape``, ``x.size``, ``len(tree_leaves(params))``,
  ``jax.tree.structure(params)``, ``str(params)``, ``hash(...)``, and what is computed from
  them, through assignments, arithmetic, ``sum``/``len``/``max``/hashing and loops) or the
  workload's descriptive constants (``step_hint``, budgets, example counts), compared with
  literals, tested for membership in literal collections, used as keys of a literal table, or
  ``match``-ed. Structural tests any optimizer does stay legal: ``x.ndim``/``len(x.shape)``
  against 0-4, sizes against 0, 1 or -1, and comparisons between two computed values.
- ``private-member``: private members of the workload or the input queue
  (``workload._build_input_queue``, ``_eval_model_on_split``, ``_param_shapes``, data handles),
  reached through any expression: attributes, ``getattr``/``hasattr`` with a private or a
  computed name, ``operator.attrgetter``/``methodcaller``, ``vars()``, ``dir()``,
  ``__dict__``; also ``eval_model`` (it evaluates the held-out splits); the workload is the
  first parameter of
  the API functions whatever it is called, and any name, attribute or parameter it is bound
  to (aliases, ``functools.partial``, helper functions it is passed to). AlgoPerf forbids
  ``_build_input_queue`` (a second input pipeline, e.g. over validation data); the run-time
  guard (:mod:`algoperf_like.guard`) backs this rule.
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
  'private-member': 'no private members of the workload or input queue (_build_input_queue, ...)',
  'io': 'no file or network access',
  'processes': 'no subprocesses, threads or native code',
  'mutate-workload': 'no changes to the workload or the input queue/train state',
  'monkeypatch': 'no patching of imported modules (time, jax, harness) or JAX config',
  'dynamic-code': 'no eval/exec/dynamic imports/introspection that hides the above',
  'smoke': 'a short run on two CPU workloads: no exception, finite metrics, sound state',
}
STATIC_RULES = (
  'workload-identity',
  'private-member',
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
# Public workload members only the harness may use (as the guard enforces at run time);
# attach_metrics_logger is the mutate-workload rule's.
_HARNESS_ONLY_MEMBERS = frozenset({'eval_model'})

# Parameter positions of the API functions: the workload, the input queue, and the trees
# (parameters, their types, model state, batch) whose structure fingerprints a workload.
_API_WORKLOAD_ARG = ('init_optimizer_state', 'update_params', 'prepare_for_eval', 'data_selection')
_API_QUEUE_ARG = {'data_selection': 1}
_API_TREE_ARGS = {
  'init_optimizer_state': (1, 2),
  'update_params': (1, 2, 3, 5),
  'prepare_for_eval': (1, 2, 3),
  'data_selection': (3, 4),
}
# Workload constants that describe it (beyond _IDENTITY_ATTRS): fingerprints when
# compared with literals, fine in arithmetic (``0.05 * workload.step_hint``).
_DESCRIPTOR_ATTRS = frozenset({'step_hint', 'max_allowed_runtime_sec', 'eval_period_time_sec'})
# Attributes of any value that describe its structure.
_STRUCT_ATTRS = frozenset(
  {'shape', 'size', 'ndim', 'dtype', 'nbytes', 'itemsize', 'shape_tuple', 'treedef'}
)
_NDIM_ATTRS = frozenset({'ndim'})
# Calls whose result describes the structure of a tree passed to them. Not
# ``jax.tree_util.keystr``: a leaf's path names that one parameter, and partitioning parameters
# by name (no weight decay on biases, Muon's matrices apart from embeddings: published
# submissions do) treats every workload alike; it is no fingerprint of the workload.
_TREE_STRUCT_CALLS = (
  'jax.tree_util.tree_structure',
  'jax.tree.structure',
  'jax.tree_structure',
  'numpy.size',
  'numpy.shape',
  'numpy.ndim',
  'jax.numpy.size',
  'jax.numpy.shape',
  'jax.numpy.ndim',
  'optax.tree_utils.tree_size',
)
# Calls whose result is the leaves (a tree of its own).
_TREE_CALLS = (
  'jax.tree_util.tree_leaves',
  'jax.tree.leaves',
  'jax.tree_leaves',
  'jax.tree_util.tree_flatten_with_path',
  'jax.tree.flatten_with_path',
  'flax.traverse_util.flatten_dict',
)
_TREE_MAPS = ('jax.tree.map', 'jax.tree_util.tree_map', 'jax.tree_map')
# Calls yielding (path, leaf) pairs.
_TREE_PAIRS = (
  'jax.tree_util.tree_leaves_with_path',
  'jax.tree.leaves_with_path',
)
_TREE_FLATTEN = ('jax.tree_util.tree_flatten', 'jax.tree.flatten', 'jax.tree_flatten')
# Calls that carry a fingerprint from their arguments into their result.
_STRUCT_PROPAGATE = frozenset(
  {
    'len',
    'sum',
    'max',
    'min',
    'abs',
    'int',
    'float',
    'round',
    'str',
    'repr',
    'hash',
    'format',
    'sorted',
    'tuple',
    'list',
    'set',
    'frozenset',
    'bool',
    'divmod',
    'pow',
    'id',
    'functools.reduce',
    'operator.mul',
    'operator.add',
    'math.prod',
    'math.log',
    'math.log2',
    'math.log10',
    'math.sqrt',
    'math.floor',
    'math.ceil',
    'numpy.prod',
    'numpy.sum',
    'numpy.log',
    'numpy.log10',
    'jax.numpy.prod',
    'jax.numpy.sum',
    'json.dumps',
  }
)
_STRUCT_PROPAGATE_MODULES = ('hashlib', 'zlib', 'binascii', 'struct', 'base64')
# Calls of a tree (not of its arrays' values) that describe it.
_TREE_DESCRIBE = frozenset(
  {'len', 'str', 'repr', 'hash', 'sorted', 'list', 'tuple', 'set', 'format', 'json.dumps'}
)
_TREE_DESCRIBE_METHODS = frozenset({'keys', 'items'})
# Small literals that structural tests of any optimizer use.
_SMALL_SIZES = frozenset({0, 1, -1})
_NDIM_RANGE = frozenset(range(0, 5))


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
    api_workload, api_queue, api_trees, self.param_trees = self._api_parameters(tree)
    self.workload_attrs: Set[str] = set()  # ``self.wl = workload``: attribute 'wl'.
    self._stored: Set[int] = set()  # Subscript targets' bases (reported as mutations).
    self.workload_names = self._workload_bindings(tree, {_WORKLOAD} | api_workload)
    self.queue_names = self._bound_to(tree, {'input_queue'} | api_queue)
    self.harness_names = (
      self._bound_to(tree, set(_HARNESS_OBJECTS)) | self.workload_names | self.queue_names
    )
    self.module_names = self._bound_to(tree, set(self.imported))
    self.literal_names = self._literal_names(tree)
    self.tree_names: Set[str] = set(api_trees)
    self.struct_names: Set[str] = set()
    self._propagate_taint(tree)

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
  def _api_parameters(tree: ast.Module):
    """Names of the API functions' workload, queue and tree parameters, as written."""
    workload, queue, trees, params = set(), set(), set(), set()
    for node in tree.body:
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names = [a.arg for a in node.args.posonlyargs + node.args.args]
        if node.name in _API_WORKLOAD_ARG and names:
          workload.add(names[0])
        if node.name in _API_QUEUE_ARG and len(names) > _API_QUEUE_ARG[node.name]:
          queue.add(names[_API_QUEUE_ARG[node.name]])
        indices = [i for i in _API_TREE_ARGS.get(node.name, ()) if i < len(names)]
        trees.update(names[i] for i in indices)
        # Not the batch: a key test there asks what the input queue provides.
        params.update(names[i] for i in indices if (node.name, i) != ('update_params', 5))
    return workload, queue, trees, params

  def _workload_bindings(self, tree: ast.Module, roots: Set[str]) -> Set[str]:
    """Names bound to the workload: aliases, attributes set to it (``self.wl``), and the
    parameters of functions it is passed to, directly or through ``functools.partial``."""
    defs: dict = {}
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        name = getattr(node, 'name', None)
        if name:
          defs.setdefault(name, []).append(node)
    names = set(roots)
    nodes = list(ast.walk(tree))
    changed = True
    while changed:
      changed = False
      before = (len(names), len(self.workload_attrs))
      for node in nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
          if self._is_workload(node.value, names):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
              if isinstance(target, ast.Name):
                names.add(target.id)
              elif isinstance(target, ast.Attribute):
                self.workload_attrs.add(target.attr)
        elif isinstance(node, ast.Call):
          func, args = node.func, list(node.args)
          if self._qualname(func) in ('functools.partial', 'partial') and args:
            func, args = args[0], args[1:]
          callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
          for fn in defs.get(callee, ()):
            params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
            if isinstance(func, ast.Attribute) and params and params[0] in ('self', 'cls'):
              params = params[1:]
            for i, arg in enumerate(args):
              if i < len(params) and self._is_workload(arg, names):
                names.add(params[i])
            for kw in node.keywords:
              if kw.arg and self._is_workload(kw.value, names):
                names.add(kw.arg)
      changed = (len(names), len(self.workload_attrs)) != before
    return names

  def _is_workload(self, node: ast.AST, names: Optional[Set[str]] = None) -> bool:
    """Whether ``node`` is the workload (a bound name or attribute)."""
    names = self.workload_names if names is None else names
    if isinstance(node, ast.Name):
      return node.id in names
    if isinstance(node, ast.Attribute):
      return node.attr in self.workload_attrs
    return False

  # ----- Fingerprints: values that describe the model, the data or the workload. -----
  def _propagate_taint(self, tree: ast.Module) -> None:
    """Names holding a tree (``tree_names``) or a fingerprint (``struct_names``), to a
    fixpoint over assignments, loops and comprehensions (by name, as the other rules)."""
    bindings = []  # (target, value, is_iteration)
    for node in ast.walk(tree):
      if isinstance(node, ast.Assign):
        bindings += [(t, node.value, False) for t in node.targets]
      elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value:
        bindings.append((node.target, node.value, False))
      elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        bindings.append((node.target, node.iter, True))
    changed = True
    while changed:
      changed = False
      for target, value, iterating in bindings:
        pairs = self._pairs(value, iterating)
        if isinstance(target, ast.Tuple) and pairs and len(target.elts) == 2:
          first, second = pairs
          changed |= self._bind(target.elts[0], first)
          changed |= self._bind(target.elts[1], second)
          continue
        kind = self._kind(value)
        if kind:
          changed |= self._bind(target, kind)

  def _pairs(self, node: ast.AST, iterating: bool) -> Optional[tuple]:
    """The kinds of a 2-tuple that ``node`` yields (iterating) or is: ``leaves, treedef =
    tree_flatten(t)``; ``for key, value in params.items()``, ``for path, leaf in
    tree_leaves_with_path(t)``."""
    if not isinstance(node, ast.Call):
      return None
    name = self._qualname(node.func) or ''
    if not iterating and _matches(name, _TREE_FLATTEN):
      return ('tree', 'struct')
    if iterating and _matches(name, _TREE_PAIRS):
      return ('struct', 'tree')
    if (
      iterating
      and isinstance(node.func, ast.Attribute)
      and node.func.attr == 'items'
      and self._kind(node.func.value) == 'tree'
    ):
      return ('struct', 'tree')
    return None

  def _bind(self, target: ast.AST, kind: str) -> bool:
    names = self.tree_names if kind == 'tree' else self.struct_names
    if isinstance(target, ast.Name):
      if target.id not in names:
        names.add(target.id)
        return True
      return False
    if isinstance(target, (ast.Tuple, ast.List)):
      return any([self._bind(e, kind) for e in target.elts])
    return False

  def _kind(self, node: ast.AST) -> Optional[str]:
    """'struct' (a fingerprint), 'tree' (parameters, state, batch, leaves) or None."""
    if isinstance(node, ast.Name):
      if node.id in self.struct_names:
        return 'struct'
      return 'tree' if node.id in self.tree_names else None
    if isinstance(node, ast.Attribute):
      if node.attr in _STRUCT_ATTRS or node.attr in _IDENTITY_ATTRS:
        return 'struct'
      if node.attr in _DESCRIPTOR_ATTRS and self._is_workload(node.value):
        return 'struct'
      if self._is_workload(node.value) and node.attr in ('param_shapes', 'model_params_types'):
        return 'tree'
      return 'struct' if self._kind(node.value) == 'struct' else None
    if isinstance(node, ast.Subscript):
      inner = self._kind(node.value)
      return inner if inner else None
    if isinstance(node, (ast.BinOp,)):
      kinds = {self._kind(node.left), self._kind(node.right)}
      return 'struct' if 'struct' in kinds else None
    if isinstance(node, ast.UnaryOp):
      return 'struct' if self._kind(node.operand) == 'struct' else None
    if isinstance(node, ast.IfExp):
      kinds = {self._kind(node.body), self._kind(node.orelse)}
      return 'struct' if 'struct' in kinds else ('tree' if 'tree' in kinds else None)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
      return 'struct' if any(self._kind(e) == 'struct' for e in node.elts) else None
    if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
      if self._kind(node.elt) == 'struct':
        return 'struct'
      return 'tree' if any(self._kind(g.iter) == 'tree' for g in node.generators) else None
    if isinstance(node, ast.JoinedStr):
      parts = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
      return 'struct' if any(self._kind(v) for v in parts) else None
    if isinstance(node, ast.Call):
      return self._call_kind(node)
    return None

  def _call_kind(self, node: ast.Call) -> Optional[str]:
    name = self._qualname(node.func) or ''
    args = list(node.args) + [k.value for k in node.keywords]
    kinds = [self._kind(a) for a in args]
    if _matches(name, _TREE_STRUCT_CALLS):
      return 'struct'
    if _matches(name, _TREE_CALLS) or _matches(name, _TREE_PAIRS):
      return 'struct' if 'struct' in kinds else 'tree'  # Leaves of a tree of sizes: sizes.
    if _matches(name, _TREE_MAPS) and node.args:
      fn = node.args[0]
      if isinstance(fn, ast.Lambda) and self._kind(fn.body) == 'struct':
        return 'struct'  # jax.tree.map(lambda x: x.size, params)
      return 'tree' if 'tree' in kinds[1:] else None
    if _matches(name, _TREE_FLATTEN):
      return 'tree'
    if name in _TREE_DESCRIBE and 'tree' in kinds:
      return 'struct'
    if (name in _STRUCT_PROPAGATE or _matches(name, _STRUCT_PROPAGATE_MODULES)) and (
      'struct' in kinds
    ):
      return 'struct'
    if isinstance(node.func, ast.Attribute):
      owner = self._kind(node.func.value)
      if owner == 'tree' and node.func.attr in _TREE_DESCRIBE_METHODS:
        return 'struct'
      if owner == 'tree' and node.func.attr == 'values':
        return 'tree'
      if owner == 'struct':  # Methods of a fingerprint: .encode(), .hexdigest(), .count()...
        return 'struct'
      if node.func.attr in ('join', 'format') and 'struct' in kinds:
        return 'struct'
      if node.func.attr in ('numel', 'size') and not args:
        return 'struct'
    return None

  def _keyed_tree(self, node: ast.AST) -> bool:
    """The parameters, their types or the model state (or a part), or ``param_shapes``."""
    if isinstance(node, ast.Attribute) and node.attr in ('param_shapes', 'model_params_types'):
      return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
      if node.func.attr in ('keys', 'items', 'values'):
        return self._keyed_tree(node.func.value)
    while isinstance(node, ast.Subscript):
      node = node.value
    return isinstance(node, ast.Name) and node.id in self.param_trees

  def _small_structural(self, side: ast.AST, other: ast.AST) -> bool:
    """Structural tests any optimizer does: ndim against 0-4, sizes against 0/1/-1."""
    values = self._literal_values(other)
    if values is None:
      return False
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if ints and all(v in _SMALL_SIZES for v in values):
      return True
    ndim = (isinstance(side, ast.Attribute) and side.attr in _NDIM_ATTRS) or (
      isinstance(side, ast.Call)
      and self._qualname(side.func) in ('len', 'numpy.ndim', 'jax.numpy.ndim')
      and side.args
      and (
        (isinstance(side.args[0], ast.Attribute) and side.args[0].attr in ('shape', 'shape_tuple'))
        or self._qualname(side.func) != 'len'
      )
    )
    return ndim and ints and all(v in _NDIM_RANGE for v in values)

  def _literal_values(self, node: ast.AST) -> Optional[list]:
    if isinstance(node, ast.Constant):
      return [node.value]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
      inner = self._literal_values(node.operand)
      return (
        [-v for v in inner] if inner and all(isinstance(v, (int, float)) for v in inner) else None
      )
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
      out = []
      for e in node.elts:
        inner = self._literal_values(e)
        if inner is None:
          return None
        out += inner
      return out
    return None

  def _fingerprint_test(self, node: ast.AST, side: ast.AST, other: ast.AST) -> None:
    """Report ``side`` (a fingerprint) compared with the literal ``other``."""
    if self._kind(side) == 'struct' and not self._small_structural(side, other):
      self._identity(
        node,
        f'compares {ast.unparse(side)[:60]} (sizes, shapes, dtypes or structure of the model, '
        'data or workload) with a literal, a workload fingerprint',
      )

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
          else:
            self._fingerprint_test(node, side, other)
        # 'Dense_0' in params: a key name of the parameters, model state or batch.
        if (
          isinstance(node.ops[0], (ast.In, ast.NotIn))
          and _is_literal(a, self.literal_names)
          and self._keyed_tree(b)
        ):
          self._identity(node, f'tests for a literal key in {ast.unparse(b)[:40]}')
    self.generic_visit(node)

  def visit_Match(self, node: ast.Match) -> None:
    source = self._identity_source(node.subject)
    if source and not self._identity_allowed():
      self._identity(node, f'matches on {source}')
    elif self._kind(node.subject) == 'struct' and not self._identity_allowed():
      self._identity(node, f'matches on {ast.unparse(node.subject)[:60]}, a workload fingerprint')
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
    self._check_private_call(node, name)
    self._check_attrgetter(node, name)
    self.generic_visit(node)

  def _check_private_call(self, node: ast.Call, name: Optional[str]) -> None:
    """``getattr(workload, '_x')``, ``getattr(workload, name)``, ``vars(workload)``, ..."""
    if not node.args or not (
      self._is_workload(node.args[0])
      or (isinstance(node.args[0], ast.Name) and node.args[0].id in self.queue_names)
    ):
      return
    what = ast.unparse(node.args[0])
    if name in ('getattr', 'hasattr') and len(node.args) > 1:
      key = node.args[1]
      if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
        self._private(node, f'{name}({what}, {ast.unparse(key)[:40]}) with a computed name')
      elif key.value.startswith('_'):
        self._private(node, f'{name}({what}, {key.value!r}): a private member')
    elif name in ('vars', 'dir'):
      self._private(node, f'{name}({what}): lists the private members')
    elif name == 'type' and not self._identity_allowed():
      self._identity(node, f'type({what}): the class of the workload')
    elif _matches(name, ('object.__getattribute__', 'inspect.getattr_static')):
      self._private(node, f'{name}() on {what}: bypasses the workload guard')

  def _check_attrgetter(self, node: ast.Call, name: Optional[str]) -> None:
    """``operator.attrgetter('_x')``/``methodcaller(name)``: names not known to be public."""
    if not _matches(name, ('operator.attrgetter', 'operator.methodcaller')) or not node.args:
      return
    key = node.args[0]
    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
      self._private(node, f'{name}() with a computed name')
    elif any(part.startswith('_') for part in key.value.split('.')):
      self._private(node, f'{name}({key.value!r}): a private member')

  def _private(self, node: ast.AST, what: str) -> None:
    self._report(
      'private-member',
      node,
      f'{what}: private members of the workload and input queue belong to the harness',
    )

  def _check_identity_call(self, node: ast.Call, name: Optional[str]) -> None:
    if (
      isinstance(node.func, ast.Attribute)
      and node.func.attr in ('get', 'pop', 'setdefault')
      and _is_literal(node.func.value, self.literal_names)
      and any(self._kind(a) == 'struct' for a in node.args[:1])
    ):
      self._identity(node, f'looks up a literal table by {ast.unparse(node.args[0])[:60]}')
    elif (
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
      elif _is_literal(node.value, self.literal_names) and self._kind(node.slice) == 'struct':
        self._identity(node, f'looks up a literal table by {ast.unparse(node.slice)[:60]}')
    elif isinstance(node.ctx, (ast.Store, ast.Del)):
      self._check_store(node, node, 'assigns to')
      self._stored.add(id(node.value))  # workload._x[k] = v: mutate-workload, reported here.
    self.generic_visit(node)

  # ----- Assignments and attributes. -----
  def visit_Attribute(self, node: ast.Attribute) -> None:
    if isinstance(node.ctx, (ast.Store, ast.Del)):
      self._check_store(node, node, 'assigns to')
    owner = node.value
    on_queue = isinstance(owner, ast.Name) and owner.id in self.queue_names
    stored = isinstance(node.ctx, (ast.Store, ast.Del)) or id(node) in self._stored
    if node.attr in _HARNESS_ONLY_MEMBERS and self._is_workload(owner):
      self._private(
        node, f'{ast.unparse(node)}: belongs to the harness (it evaluates held-out splits)'
      )
    if node.attr.startswith('_') and (self._is_workload(owner) or on_queue) and not stored:
      if node.attr == '__class__':
        if not self._identity_allowed():
          self._identity(node, f'{ast.unparse(node)}: the class of the workload')
      else:
        self._private(node, f'{ast.unparse(node)}')
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
