"""The sharper static rules: private workload members through any expression, and workload
fingerprints (sizes, counts, shapes, dtypes, structure) compared with literals.

Each caught snippet is one adversarial way to break a rule; each legal one is a pattern
real optimizers use and must stay legal. (Whole submissions: tests/data/adversarial/.)
"""

import pytest

from algoperf_like.static_rules import check_source

UPDATE = 'def update_params(workload, p, t, m, h, batch, l, o, e, g, rng):\n'
INIT = 'def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):\n'
DATA = 'def data_selection(workload, input_queue, o, p, m, h, g, r):\n'

PRIVATE = [
  UPDATE + "  return workload._build_input_queue(rng, 'validation', None, 8)",
  UPDATE + '  w = workload\n  return w._eval_model_on_split',
  UPDATE + '  w = workload\n  v = w\n  return v._param_shapes',
  # Through a helper it is passed to, directly or through functools.partial.
  'import functools\ndef helper(ww, x):\n  return ww._build_input_queue\n'
  + UPDATE
  + '  f = functools.partial(helper, workload)',
  'def helper(x, *, wl):\n  return wl._arrays\n' + UPDATE + '  helper(1, wl=workload)',
  'class S:\n  def __init__(self, workload):\n    self.wl = workload\n'
  '  def go(self):\n    return self.wl._build_input_queue',
  # Parameters named differently (helpers' positional parameters).
  'def step(w, p):\n  return w._eval_model_on_split\n' + UPDATE + '  step(workload, p)',
  # Names built at run time and introspection.
  UPDATE + "  return getattr(workload, ''.join(['_build', '_input_queue']))",
  UPDATE + "  return getattr(workload, '_build_input_queue')",
  UPDATE + "  name = 'model_fn'\n  return getattr(workload, name)",
  UPDATE + "  return hasattr(workload, '_eval_cache')",
  UPDATE + '  return dir(workload)',
  DATA + '  return input_queue._arrays',
  'import operator\n' + UPDATE + "  return operator.attrgetter('_build_input_queue')(workload)",
  'import operator\n' + UPDATE + "  return operator.methodcaller('_' + 'x')(workload)",
  UPDATE + '  return workload.eval_model(8, p, m, rng, None, None, g)',
  DATA + "  return getattr(input_queue, 'gi_' + 'frame')",
]

IDENTITY = [
  UPDATE + '  return type(workload)',
  UPDATE + '  return workload.__class__',
  # The case: the parameter count compared with a literal.
  'import jax\n' + INIT + '  n = sum(x.size for x in jax.tree_util.tree_leaves(model_params))\n'
  '  return 3.0 if n == 1234 else 1.0',
  'import jax\n' + INIT + '  if len(jax.tree_util.tree_leaves(model_params)) > 10: pass',
  INIT + "  return model_params['Dense_0']['kernel'].shape[0] == 784",
  'import jax\n' + INIT + "  return jax.tree.structure(model_params) == 'PyTreeDef'",
  'import hashlib\n' + INIT + '  h = hashlib.md5(str(model_params).encode()).hexdigest()\n'
  "  return h == 'abc'",
  INIT + '  return hash(str(model_params)) % 7 == 3',
  'import jax\n' + INIT + '  n = len(jax.tree.leaves(model_params))\n  return {12345: 0.1}[n]',
  'import jax\nTABLE = {12: 0.1, 14: 0.2}\n'
  + INIT
  + '  n = len(jax.tree.leaves(model_params))\n  return TABLE.get(n)',
  'import jax\n' + INIT + '  n = len(jax.tree.leaves(model_params))\n  if n in (1, 2, 3): pass',
  'import jax\n' + INIT + '  n = len(jax.tree.leaves(model_params))\n  match n:\n    case 12: pass',
  INIT + "  return 'Dense_0' in model_params",
  INIT + "  return 'Dense_0' in model_params.keys()",
  INIT + '  n = workload.num_train_examples\n  return n == 60000',
  INIT + '  return workload.step_hint == 3000',
  INIT + '  return workload.max_allowed_runtime_sec > 3600',
  INIT + "  return [k for k in model_params.keys()] == ['a', 'b']",
  'import jax\n' + INIT + '  for path, leaf in jax.tree_util.tree_leaves_with_path(model_params):\n'
  "    if str(path) == 'x': pass",
  'import jax\n' + INIT + '  leaves, treedef = jax.tree_util.tree_flatten(model_params)\n'
  '  return treedef.num_leaves == 12',
  UPDATE + "  return batch['inputs'].shape[1] == 40",
  'import numpy as np\n' + INIT + '  total = sum(np.prod(s.shape_tuple) for s in '
  'workload.param_shapes.values())\n  return total > 1e6',
  INIT + "  return str(model_params['w'].dtype) == 'bfloat16'",
  INIT + "  return f'{len(model_params)}' == '4'",
  'import jax\n' + INIT + '  sizes = jax.tree.map(lambda x: x.size, model_params)\n'
  '  return sum(jax.tree.leaves(sizes)) == 1234',
]

LEGAL = [
  INIT + '  warm = int(hyperparameters.warmup_factor * workload.step_hint)\n  return max(warm, 1)',
  'import jax, jax.numpy as jnp\n'
  + UPDATE
  + '  n = sum(jnp.sum(x**2) for x in jax.tree.leaves(p))\n  return n > 0.5',
  UPDATE + '  for k, v in p.items():\n    if v.mean() > 0.5: pass',
  UPDATE + '  return [x for x in p if x.ndim >= 2 and len(x.shape) == 4 and x.shape[0] == 1]',
  UPDATE + '  return [x for x in p if x.size > 1 and x.ndim in (1, 2)]',
  UPDATE + '  return g % 100 == 0 and workload.metrics_logger is not None',
  UPDATE + '  if g >= workload.step_hint: pass',
  UPDATE + '  logits, _ = workload.model_fn(p, batch, m, None, rng, True)\n'
  "  return workload.loss_fn(batch['targets'], logits)",
  'import jax\n' + UPDATE + "  return jax.random.uniform(rng, batch['inputs'].shape) < 0.1",
  UPDATE + "  return batch.get('weights') if 'weights' in batch else None",
  UPDATE + '  return len(e) > 3',
  UPDATE + "  return getattr(h, 'label_smoothing', 0.0)",
  UPDATE + '  return p.shape == m.shape',
  "def get_batch_size(workload_name):\n  return {'mnist': 128}[workload_name]",
  'import functools, jax\n' + UPDATE + '  return jax.jit(functools.partial(f, workload))',
  'import jax\n'
  + UPDATE
  + '  sq = jax.tree.map(lambda g: g * g, p)\n  return sum(jax.tree.leaves(sq)) > 0.5',
  'import operator\n' + UPDATE + "  return operator.attrgetter('step_hint')(workload)",
]


@pytest.mark.parametrize('source', PRIVATE)
def test_private_member_caught(source):
  assert 'private-member' in {v.rule for v in check_source(source)}, source


@pytest.mark.parametrize('source', IDENTITY)
def test_fingerprint_caught(source):
  found = check_source(source)
  assert 'workload-identity' in {v.rule for v in found}, source
  assert all(v.line for v in found)


@pytest.mark.parametrize('source', LEGAL)
def test_legal_use_not_caught(source):
  assert check_source(source) == [], source


def test_partitioning_parameters_by_their_path_names_is_legal():
  # Published Muon (submissions_algorithms, self_tuning/muon): matrices apart from embeddings.
  source = """
import jax


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  def _mask(path, x):
    path_str = jax.tree_util.keystr(path).lower()
    if x.ndim >= 2 and 'embed' not in path_str:
      return 'muon'
    return 'pair'
  return jax.tree_util.tree_map_with_path(_mask, model_params)
"""
  assert [v for v in check_source(source) if v.rule == 'workload-identity'] == []
