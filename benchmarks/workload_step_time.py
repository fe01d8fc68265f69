"""Step time of each workload: the NAdamW baseline's training step on synthetic batches.

For every workload named (default: AlgoPerf's full-scale workloads), at the batch size
of AlgoPerf's NAdamW baseline (``workload.default_batch_size``), on a batch of the
workload's real shapes (``workload.synthetic_batch``), the script measures side by side,
in one process and alternating:

- **baseline**: the NAdamW baseline's ``update_params`` as the runner calls it (its jitted
  train step, the submission API around it);
- **bare**: one hand-written ``jax.jit`` of the same model, loss and ``optax.nadamw``
  update, with nothing around it.

Both run the real model configuration; compilation (the first steps) is excluded, and
every timed span ends with ``block_until_ready``. On a CPU the batch is divided by
``--cpu_batch_divisor`` (default 64) and every line says so. It also reports the peak
resident memory of the process after initialisation and after the steps (the DLRM
embedding table alone is over 2 GiB of float32).

Usage::

    python benchmarks/workload_step_time.py [--workloads=imagenet_resnet,ogbg] [--steps=20]
        [--json_out=FILE]

``--json_out`` writes the figures with the hardware fingerprint
(:func:`algoperf_like.environment.fingerprint`). The last line is the median over
workloads of the ratio baseline/bare steps per second (the harness's cost per step:
1.0 is none).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import jax
import optax

from algoperf_like import environment, jax_sharding_utils, registry, search_space, spec
from algoperf_like import submission as submission_lib
from algoperf_like.submissions import shared

HPARAMS = {
  'learning_rate': 1e-3,
  'one_minus_beta1': 0.1,
  'beta2': 0.999,
  'weight_decay': 0.05,
  'warmup_factor': 0.05,
}


def peak_rss_gib() -> float:
  """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return peak / (2**30 if sys.platform == 'darwin' else 2**20)


def make_bare_step(workload, hyperparameters):
  tx = optax.nadamw(
    shared.warmup_cosine_decay(workload.step_hint, HPARAMS['learning_rate'], 0.05),
    b1=1 - HPARAMS['one_minus_beta1'],
    b2=HPARAMS['beta2'],
    eps=1e-8,
    weight_decay=HPARAMS['weight_decay'],
  )

  @jax.jit
  def step(params, model_state, opt_state, batch, rng):
    def loss_of(p):
      logits, new_state = workload.model_fn(
        p, batch, model_state, spec.ForwardPassMode.TRAIN, rng, update_batch_norm=True
      )
      out = workload.loss_fn(batch['targets'], logits, batch.get('weights'))
      return out['summed'] / out['n_valid_examples'], new_state

    grads, new_state = jax.grad(loss_of, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_state, opt_state

  return step, tx


def time_steps(run_step, steps: int) -> float:
  """Steps per second over ``steps`` calls of ``run_step()`` (which returns arrays)."""
  start = time.perf_counter()
  out = None
  for _ in range(steps):
    out = run_step()
  jax.block_until_ready(out)
  return steps / (time.perf_counter() - start)


def measure(name: str, steps: int, cpu_batch_divisor: int) -> dict:
  workload = registry.get_workload(name)
  batch_size = workload.default_batch_size
  on_cpu = jax.default_backend() == 'cpu'
  if on_cpu:
    batch_size = max(jax.device_count(), batch_size // cpu_batch_divisor)
  rng = jax.random.PRNGKey(0)
  params, model_state = workload.init_model_fn(rng)
  jax.block_until_ready(params)
  rss_init = peak_rss_gib()
  batch = jax_sharding_utils.place_batch(workload.synthetic_batch(batch_size, seed=0))
  hyperparameters = search_space.make_hyperparameters(HPARAMS)
  sub = submission_lib.load_submission(registry.submission_path('nadamw'))
  opt_state = sub.init_optimizer_state(workload, params, model_state, hyperparameters, rng)
  state = {'opt': opt_state, 'params': params, 'model_state': model_state, 'step': 0}

  def baseline_step():
    state['opt'], state['params'], state['model_state'] = sub.update_params(
      workload,
      state['params'],
      workload.model_params_types,
      state['model_state'],
      hyperparameters,
      batch,
      workload.loss_type,
      state['opt'],
      [],
      state['step'],
      rng,
    )
    state['step'] += 1
    return state['params']

  bare, tx = make_bare_step(workload, hyperparameters)
  bare_state = {'params': params, 'model_state': model_state, 'opt': tx.init(params)}

  def bare_step():
    bare_state['params'], bare_state['model_state'], bare_state['opt'] = bare(
      bare_state['params'], bare_state['model_state'], bare_state['opt'], batch, rng
    )
    return bare_state['params']

  time_steps(baseline_step, 2)  # Compile both.
  time_steps(bare_step, 2)
  baseline, bare_rate = [], []
  for i in range(4):  # Alternate the order: load on a shared machine hits both alike.
    pair = (baseline_step, bare_step) if i % 2 == 0 else (bare_step, baseline_step)
    rates = {fn: time_steps(fn, max(1, steps // 4)) for fn in pair}
    baseline.append(rates[baseline_step])
    bare_rate.append(rates[bare_step])
  return {
    'workload': name,
    'batch_size': batch_size,
    'algoperf_batch_size': workload.default_batch_size,
    'reduced_batch': batch_size != workload.default_batch_size,
    'baseline_steps_per_sec': statistics.median(baseline),
    'bare_steps_per_sec': statistics.median(bare_rate),
    'peak_rss_gib_after_init': round(rss_init, 2),
    'peak_rss_gib_after_steps': round(peak_rss_gib(), 2),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workloads', default=None, help='names or suites (default: full scale)')
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--cpu_batch_divisor', type=int, default=64)
  parser.add_argument('--json_out', default=None)
  args = parser.parse_args()
  names = (
    registry.expand_workloads(args.workloads) if args.workloads else sorted(registry.FULL_SCALE)
  )
  if not names:
    parser.error('no workloads to measure')
  device = f'{jax.device_count()} x {jax.devices()[0].device_kind}'
  results = []
  for name in names:
    r = measure(name, args.steps, args.cpu_batch_divisor)
    results.append(r)
    reduced = f' (reduced from {r["algoperf_batch_size"]}: CPU run)' if r['reduced_batch'] else ''
    print(
      f'{name}: batch {r["batch_size"]}{reduced} on {device}: baseline '
      f'{r["baseline_steps_per_sec"]:.3g} steps/s, bare {r["bare_steps_per_sec"]:.3g} steps/s, '
      f'peak RSS {r["peak_rss_gib_after_init"]} GiB after init, '
      f'{r["peak_rss_gib_after_steps"]} GiB after steps',
      flush=True,
    )
  if args.json_out:
    with open(args.json_out, 'w') as f:
      json.dump(
        {'device': device, 'fingerprint': environment.fingerprint(), 'results': results},
        f,
        indent=2,
      )
  ratios = [r['baseline_steps_per_sec'] / r['bare_steps_per_sec'] for r in results]
  print(f'median over {len(results)} workloads; ratio baseline/bare steps per second:')
  print(f'{statistics.median(ratios):.3f}')


if __name__ == '__main__':
  main()
