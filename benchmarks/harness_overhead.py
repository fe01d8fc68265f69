"""Harness overhead: runner + NAdamW baseline vs a minimal hand-written optax loop.

Both sides train the same ``mnist1d`` model with NAdamW, the same batch size
and the same data, in one process, alternating, after a warm-up that compiles
both. The harness side is measured in submission time (what the rules time;
evaluation is untimed) from the first eval, after step 1 which compiles the
trial's step, to the last. The minimal side is
a plain Python loop over numpy batches calling one jitted step, timed from
the first step to ``block_until_ready`` after the last.

Usage: ``python benchmarks/harness_overhead.py [--steps 3000] [--repeats 7]``.
The last line is the median over adjacent pairs of runs of the ratio
harness/minimal steps per second (target >= 0.95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import jax
import optax

from algoperf_like import registry, runner, search_space
from algoperf_like import submission as submission_lib
from algoperf_like.submissions import shared
from algoperf_like.workloads.common import input_pipeline

HPARAMS = {
  'learning_rate': 2e-3,
  'one_minus_beta1': 0.1,
  'beta2': 0.999,
  'weight_decay': 0.05,
  'warmup_factor': 0.05,
  'label_smoothing': 0.0,
}


def harness_steps_per_sec(workload, sub, data_dir, steps):
  config = runner.RunConfig(
    data_dir=data_dir, max_global_steps=steps, stop_at_target=False, max_runtime_sec=1e9
  )
  result = runner.train_once(
    workload,
    sub,
    search_space.make_hyperparameters(HPARAMS),
    rng_seed=1,
    log_dir=None,
    config=config,
  )
  # Steady state: from the first eval (after step 1, which compiles) to the last.
  first, last = result.eval_results[0], result.eval_results[-1]
  return (last['global_step'] - first['global_step']) / (
    last['accumulated_submission_time'] - first['accumulated_submission_time']
  )


def make_minimal_loop(workload, data_dir):
  """A hand-written NAdamW loop on the same flax model and data."""
  model = workload._model
  arrays = workload._arrays('train', data_dir)
  batch_size = shared.batch_size_for('mnist1d')
  schedule = shared.warmup_cosine_decay(
    workload.step_hint, HPARAMS['learning_rate'], HPARAMS['warmup_factor']
  )
  tx = optax.nadamw(
    schedule,
    b1=1 - HPARAMS['one_minus_beta1'],
    b2=HPARAMS['beta2'],
    eps=1e-8,
    weight_decay=HPARAMS['weight_decay'],
  )

  @jax.jit
  def step(params, opt_state, inputs, targets):
    def loss_of(p):
      logits = model.apply({'params': p}, inputs)
      return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

    grads = jax.grad(loss_of)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  def run(steps):
    params = model.init(jax.random.PRNGKey(1), arrays['inputs'][:1])['params']
    opt_state = tx.init(params)
    batches = input_pipeline.TrainBatches(
      {'inputs': arrays['inputs'], 'targets': arrays['targets']}, batch_size, seed=1
    )
    params, opt_state = step(
      params, opt_state, *(lambda b: (b['inputs'], b['targets']))(next(batches))
    )
    jax.block_until_ready(params)
    start = time.perf_counter()
    for _ in range(steps):
      b = next(batches)
      params, opt_state = step(params, opt_state, b['inputs'], b['targets'])
    jax.block_until_ready(params)
    return steps / (time.perf_counter() - start)

  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--steps', type=int, default=3000)
  parser.add_argument('--repeats', type=int, default=7)
  parser.add_argument(
    '--data_dir', default=os.path.join(tempfile.gettempdir(), 'algoperf_like_bench_data')
  )
  args = parser.parse_args()

  workload = registry.get_workload('mnist1d', args.data_dir)
  sub = submission_lib.load_submission(registry.submission_path('nadamw'))
  minimal = make_minimal_loop(workload, args.data_dir)
  harness_steps_per_sec(workload, sub, args.data_dir, 50)  # Warm-up: compile everything.
  minimal(50)
  ratios = []
  for i in range(args.repeats):
    # Alternate which side goes first, and pair each harness run with the minimal run
    # next to it: other load on a shared machine then hits both sides of a pair alike.
    if i % 2 == 0:
      h = harness_steps_per_sec(workload, sub, args.data_dir, args.steps)
      m = minimal(args.steps)
    else:
      m = minimal(args.steps)
      h = harness_steps_per_sec(workload, sub, args.data_dir, args.steps)
    ratios.append(h / m)
    print(f'pair {i}: harness {h:.1f} steps/s, minimal {m:.1f} steps/s, ratio {h / m:.3f}')
  print(f'median over {args.repeats} pairs of {args.steps} steps each; ratio harness/minimal:')
  print(f'{statistics.median(ratios):.3f}')


if __name__ == '__main__':
  main()
