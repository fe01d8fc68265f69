"""A least-squares SGD submission for ``tests/quadratic.py`` that breaks one rule at run time.

``hyperparameters.attack`` picks what it does (tests/test_guard_runtime.py runs each); the
names it uses are built at run time, as a submission trying to slip past the static rules
would. ``'none'``, ``'jit_closure'``, ``'jit_method'``, ``'partial'`` and ``'pmap'`` are legal
ways of using the workload under ``jit``/``pmap`` and must train normally.
"""

import functools
import threading

import jax

LEARNING_RATE = 0.1
STOP = threading.Event()  # The test stops what an attack started.
PROCESSES = []
ATTACK_STEP = 2


def _name(*parts):
  return ''.join(parts)


def get_batch_size(workload_name):
  del workload_name
  return 16


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_params, model_state, rng
  if hyperparameters.attack == 'init_private':
    getattr(workload, _name('_param', '_shapes'))
  return {'step': 0}


def _loss(workload, params, batch):
  logits, _ = workload.model_fn(params, batch, None, None, None, False)
  return workload.loss_fn(batch['targets'], logits)['summed'] / batch['inputs'].shape[0]


def _sgd(loss_of, params):
  grads = jax.grad(loss_of)(params)
  return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads)


@functools.lru_cache(maxsize=None)
def _step(workload, how):
  """A jitted step, built once per (workload view, way of passing the workload)."""
  if how == 'jit_method':  # The bound method itself through jax.jit.
    model_fn = jax.jit(workload.model_fn, static_argnums=(3, 4, 5))

    def step(params, batch):
      def loss_of(p):
        logits, _ = model_fn(p, batch, None, None, None, False)
        return workload.loss_fn(batch['targets'], logits)['summed'] / batch['inputs'].shape[0]

      return _sgd(loss_of, params)

    return jax.jit(step)
  if how == 'partial':  # The workload as a static argument through functools.partial.
    return jax.jit(functools.partial(lambda w, p, b: _sgd(lambda q: _loss(w, q, b), p), workload))
  if how == 'pmap':  # pmap-era: the workload a static broadcast argument.

    def pstep(w, params, batch):
      grads = jax.grad(lambda q: _loss(w, q, batch))(params)
      grads = jax.lax.pmean(grads, axis_name='batch')
      return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads)

    # Spelled so that the API is not detected from the source: the test asks for it.
    return getattr(jax, 'pm' + 'ap')(pstep, axis_name='batch', static_broadcasted_argnums=(0,))
  # Default: a closure over workload.model_fn/loss_fn inside jax.jit.
  return jax.jit(lambda params, batch: _sgd(lambda q: _loss(workload, q, batch), params))


def _attack(kind, workload, rng):
  time = __import__(_name('ti', 'me'))
  importlib = __import__(_name('import', 'lib'))
  if kind == 'reinit':  # Legal: AlgoPerf lets a submission re-initialise the model.
    workload.init_model_fn(rng)
  elif kind == 'private':
    getattr(workload, _name('_build', '_input_queue'))(rng, 'validation', None, 8)
  elif kind == 'private_caught':  # Caught and ignored: the guard's latch still stops it.
    try:
      getattr(workload, _name('_eval_model', '_on_split'))
    except Exception:
      pass
  elif kind == 'vars':
    vars(workload)
  elif kind == 'dunder_dict':
    getattr(workload, _name('__di', 'ct__'))
  elif kind == 'eval_model':
    getattr(workload, _name('eval', '_model'))
  elif kind == 'set_model_fn':
    setattr(workload, _name('model', '_fn'), lambda *a, **k: None)
  elif kind == 'perf_counter':
    setattr(time, _name('perf', '_counter'), lambda: 0.0)
  elif kind == 'monotonic':
    setattr(time, _name('mono', 'tonic'), time.process_time)
  elif kind == 'thread':
    threading_ = importlib.import_module(_name('thre', 'ading'))
    threading_.Thread(target=STOP.wait, args=(60,), name='worker', daemon=True).start()
  elif kind == 'process':
    subprocess = importlib.import_module(_name('subpro', 'cess'))
    PROCESSES.append(subprocess.Popen(['sleep', '60']))
  elif kind == 'x64':
    getattr(jax.config, _name('up', 'date'))(_name('jax_enable', '_x64'), True)
  elif kind == 'matmul_precision':
    getattr(jax.config, _name('up', 'date'))(_name('jax_default', '_matmul_precision'), 'highest')
  elif kind == 'other_config':
    getattr(jax.config, _name('up', 'date'))(_name('jax_numpy', '_rank_promotion'), 'warn')
  elif kind == 'patch_class':
    module = importlib.import_module(_name('tests.', 'quadratic'))
    cls = getattr(module, _name('Quadratic', 'Workload'))
    setattr(cls, _name('loss', '_fn'), lambda self, *a, **k: None)
  elif kind == 'patch_clock':
    clock = importlib.import_module(_name('algoperf_like.', 'clock'))
    setattr(clock, _name('block_until', '_ready'), lambda tree: None)
  elif kind == 'patch_integrity':  # Switch the checks off.
    module = importlib.import_module(_name('algoperf_like.', 'integrity'))
    setattr(module.Integrity, _name('after', '_call'), lambda self, when: None)
    setattr(module.Integrity, _name('full', '_check'), lambda self, when: None)
  elif kind == 'constants':  # Lower the target in the frozen constants.
    setattr_ = getattr(object, _name('__set', 'attr__'))
    setattr_(workload.constants, _name('validation_target', '_value'), 1e9)
  elif kind == 'patch_runner':
    runner = importlib.import_module(_name('algoperf_like.', 'runner'))
    setattr(runner, _name('pad', '_batch'), lambda batch, size: batch)


def update_params(
  workload,
  current_param_container,
  current_params_types,
  model_state,
  hyperparameters,
  batch,
  loss_type,
  optimizer_state,
  eval_results,
  global_step,
  rng,
):
  del current_params_types, loss_type, eval_results
  kind = hyperparameters.attack
  if global_step == ATTACK_STEP:
    _attack(kind, workload, rng)
  how = kind if kind in ('jit_method', 'partial', 'pmap') else 'jit_closure'
  step = _step(workload, how)
  if how == 'pmap':
    params = step(workload, current_param_container, batch)
  else:
    params = step(current_param_container, batch)
  return {'step': optimizer_state['step'] + 1}, params, model_state


def data_selection(
  workload,
  input_queue,
  optimizer_state,
  current_param_container,
  model_state,
  hyperparameters,
  global_step,
  rng,
):
  del workload, optimizer_state, current_param_container, model_state, rng
  if hyperparameters.attack == 'queue_private' and global_step == ATTACK_STEP:
    getattr(input_queue, _name('gi_', 'frame'))
  return next(input_queue)
