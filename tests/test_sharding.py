"""Same code on any hardware: 8 (virtual CPU) devices give the losses of one device."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    from algoperf_like import runner, search_space, submission
    from algoperf_like.registry import get_workload
    workload = get_workload('mnist1d', sys.argv[1])
    sub = submission.load_submission('submissions/nadamw/submission.py')
    hparams = search_space.make_hyperparameters({'learning_rate': 2e-3, 'one_minus_beta1': 0.1,
        'beta2': 0.999, 'weight_decay': 0.05, 'warmup_factor': 0.05})
    result = runner.train_once(workload, sub, hparams, 0, None, runner.RunConfig(
        data_dir=sys.argv[1], max_global_steps=60, eval_every_steps=30))
    print(json.dumps({'devices': jax.device_count(), 'evals': result.eval_results}))
    """)


def _run(data_dir, devices):
  env = dict(os.environ)
  env.pop('XLA_FLAGS', None)
  if devices > 1:
    env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
  proc = subprocess.run(
    [sys.executable, '-c', SCRIPT, data_dir],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_eight_devices_give_the_losses_of_one(data_dir):
  one, eight = _run(data_dir, 1), _run(data_dir, 8)
  assert (one['devices'], eight['devices']) == (1, 8)
  assert [e['global_step'] for e in one['evals']] == [e['global_step'] for e in eight['evals']]
  for a, b in zip(one['evals'], eight['evals']):
    for key in ('train/loss', 'validation/loss', 'test/loss'):
      assert b[key] == pytest.approx(a[key], rel=1e-3)
    assert b['validation/error_rate'] == pytest.approx(a['validation/error_rate'], abs=2e-3)
