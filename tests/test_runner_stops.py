"""Stop conditions, the train_state view, and the trial log files."""

import csv
import json
import os

import pytest

from algoperf_like import runner
from tests.fake_device import FakeDevice, FakeWorkload, fake_submission

# Every column AlgoPerf's eval_measurements.csv has for a workload with train,
# validation and test splits (here: no test split, like the fake workload).
ALGOPERF_COLUMNS = {
  'accumulated_eval_time',
  'accumulated_logging_time',
  'accumulated_submission_time',
  'global_step',
  'preemption_count',
  'score',
  'total_duration',
}


def _run(
  tmp_path=None,
  budget=1e6,
  target=-1.0,
  every=10,
  max_steps=None,
  complete_at=None,
  stop_at_target=True,
  ruleset='external',
):
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.01, budget=budget, target=target)
  sub = fake_submission(device, 0.01, 0.001, 0.0, 0.0, raise_complete_at=complete_at)
  log_dir = str(tmp_path / 'trial_1') if tmp_path else None
  config = runner.RunConfig(
    eval_every_steps=every,
    max_global_steps=max_steps,
    stop_at_target=stop_at_target,
    tuning_ruleset=ruleset,
  )
  return runner.train_once(workload, sub, None, 7, log_dir, config, clock=device.clock())


def test_stops_at_max_global_steps():
  result = _run(max_steps=25)
  assert (result.status, result.global_step) == ('max_steps', 25)
  assert [r['global_step'] for r in result.eval_results] == [10, 20, 25]


def test_stops_when_target_reached():
  # Evals report loss 1/(1 + step/10): the target 0.3 is first met at step 30.
  result = _run(target=0.3)
  assert result.status == 'target_reached'
  assert result.global_step == 30
  assert result.time_to_target == result.eval_results[-1]['accumulated_submission_time']


def test_keeps_going_past_target_when_asked():
  result = _run(target=0.3, max_steps=50, stop_at_target=False)
  assert result.status == 'max_steps'
  assert result.time_to_target == result.eval_results[2]['accumulated_submission_time']


def test_training_complete_error_ends_with_a_final_eval():
  result = _run(complete_at=15)
  assert result.status == 'training_complete'
  assert result.eval_results[-1]['global_step'] == 15


@pytest.mark.parametrize('ruleset,budget', [('external', 1.0), ('self', 1.5)])
def test_budget_exhausted_and_self_tuning_gets_one_and_a_half(ruleset, budget):
  # 0.01 s of device time per step; budget 1 s (x1.5 for self-tuning). The host
  # runs at most 0.05 s ahead of the device, so the stop overshoots by <= 6 steps.
  result = _run(budget=1.0, every=10_000, ruleset=ruleset)
  assert result.status == 'budget_exhausted'
  assert budget <= result.accumulated_submission_time <= budget + 0.06
  assert budget * 100 - 5 <= result.global_step <= budget * 100 + 6


def test_train_state_is_read_only_and_has_the_clock():
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.0)
  seen = []
  sub = fake_submission(device, 0.01, 0.0, 0.0, 0.0)
  inner = sub.update_params

  def update_params(*args, train_state=None):
    seen.append(dict(train_state))
    with pytest.raises(TypeError):
      train_state['accumulated_submission_time'] = 0.0
    return inner(*args, train_state=train_state)

  sub = sub.__class__(**{**sub.__dict__, 'update_params': update_params})
  runner.train_once(
    workload,
    sub,
    None,
    0,
    None,
    runner.RunConfig(eval_every_steps=5, max_global_steps=12),
    clock=device.clock(),
  )
  assert {
    'accumulated_submission_time',
    'last_eval_time',
    'time_remaining_sec',
    'max_allowed_runtime_sec',
  } <= set(seen[0])
  assert seen[0]['last_eval_time'] is None
  assert seen[6]['accumulated_submission_time'] == pytest.approx(0.05)
  assert seen[6]['time_remaining_sec'] < workload.max_allowed_runtime_sec


def test_log_files_have_algoperf_layout_and_columns(tmp_path):
  result = _run(tmp_path, max_steps=30)
  log_dir = tmp_path / 'trial_1'
  assert {
    'eval_measurements.csv',
    'hparams.json',
    'meta_data_0.json',
    'flags_0.json',
    'trial_summary.json',
  } <= set(os.listdir(log_dir))
  with open(log_dir / 'eval_measurements.csv') as f:
    rows = list(csv.DictReader(f))
  assert ALGOPERF_COLUMNS | {'train/loss', 'validation/loss', 'validation/num_examples'} == set(
    rows[0]
  )
  assert [int(r['global_step']) for r in rows] == [10, 20, 30]
  assert float(rows[-1]['accumulated_submission_time']) == pytest.approx(
    result.accumulated_submission_time
  )
  meta = json.loads((log_dir / 'meta_data_0.json').read_text())
  for key in (
    'device.kind',
    'device.count',
    'version.jax',
    'version.jaxlib',
    'version.flax',
    'version.optax',
    'cpu.model',
    'harness.git_commit',
    'rng_seed',
  ):
    assert key in meta
  assert meta['rng_seed'] == 7
  summary = json.loads((log_dir / 'trial_summary.json').read_text())
  assert summary['status'] == 'max_steps' and summary['rng_seed'] == 7


def test_failing_submission_leaves_its_reason_on_disk(tmp_path):
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.0)
  sub = fake_submission(device, 0.01, 0.0, 0.0, 0.0)

  def broken(*args, **kwargs):
    raise FloatingPointError('loss is nan')

  sub = sub.__class__(**{**sub.__dict__, 'update_params': broken})
  with pytest.raises(FloatingPointError):
    runner.train_once(
      workload, sub, None, 0, str(tmp_path), runner.RunConfig(), clock=device.clock()
    )
  summary = json.loads((tmp_path / 'trial_summary.json').read_text())
  assert summary['status'] == 'failed' and 'loss is nan' in summary['error']
  assert 'FloatingPointError' in (tmp_path / 'error.txt').read_text()


def test_non_finite_metrics_end_the_trial_as_failed(tmp_path):
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.0)
  workload._eval_model_on_split = lambda *a, **k: {'loss': float('nan')}
  sub = fake_submission(device, 0.01, 0.0, 0.0, 0.0)
  with pytest.raises(runner.NonFiniteError):
    runner.train_once(
      workload,
      sub,
      None,
      0,
      str(tmp_path),
      runner.RunConfig(eval_every_steps=5),
      clock=device.clock(),
    )
  summary = json.loads((tmp_path / 'trial_summary.json').read_text())
  assert summary['status'] == 'failed' and 'non-finite' in summary['error']
  with open(tmp_path / 'eval_measurements.csv') as f:  # The diverged eval is on disk.
    assert [r['global_step'] for r in csv.DictReader(f)] == ['5']


def test_ctrl_c_leaves_the_trial_unfinished_and_resumable(tmp_path):
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.0)
  sub = fake_submission(device, 0.01, 0.0, 0.0, 0.0)
  inner = sub.update_params

  def interrupted(*args, **kwargs):
    if args[9] == 12:  # global_step
      raise KeyboardInterrupt
    return inner(*args, **kwargs)

  sub = sub.__class__(**{**sub.__dict__, 'update_params': interrupted})
  with pytest.raises(KeyboardInterrupt):
    runner.train_once(
      workload,
      sub,
      None,
      0,
      str(tmp_path),
      runner.RunConfig(eval_every_steps=5),
      clock=device.clock(),
    )
  assert not (tmp_path / 'trial_summary.json').exists()
  with open(tmp_path / 'eval_measurements.csv') as f:
    assert [r['global_step'] for r in csv.DictReader(f)] == ['5', '10']
  assert json.loads((tmp_path / 'checkpoints' / 'checkpoint.json').read_text())['global_step'] == 10


@pytest.mark.parametrize(
  'period,saved_at', [(0.0, [5, 10, 15, 20, 25, 30]), (0.12, [5, 20]), (1e9, [5])]
)
def test_checkpoint_period_skips_evals_within_the_period(tmp_path, monkeypatch, period, saved_at):
  # 0.01 s of device time per step, an eval every 5 steps (0.05 s): with a 0.12 s
  # period the checkpoint after step 5 is followed by the one at step 20.
  from algoperf_like import checkpoints

  saved = []
  monkeypatch.setattr(
    checkpoints.TrialCheckpointer,
    'save',
    lambda self, state, record: saved.append(record['global_step']),
  )
  device = FakeDevice()
  workload = FakeWorkload(device, eval_seconds=0.0)
  sub = fake_submission(device, 0.01, 0.0, 0.0, 0.0)
  runner.train_once(
    workload,
    sub,
    None,
    0,
    str(tmp_path),
    runner.RunConfig(eval_every_steps=5, max_global_steps=30, checkpoint_period_sec=period),
    clock=device.clock(),
  )
  assert saved == saved_at


def test_selection_from_candidates_is_padded_to_the_batch_size():
  import numpy as np

  from algoperf_like.submission import Submission
  from tests.quadratic import QuadraticWorkload

  seen = {'candidates': set(), 'batches': set(), 'weights': set()}

  def data_selection(workload, input_queue, *args):
    candidates = next(input_queue)
    seen['candidates'].add(len(candidates['inputs']))
    return {k: v[:10] for k, v in candidates.items()}  # Keep 10 of 64.

  def update_params(workload, params, *args, train_state=None):
    batch = args[3]
    seen['batches'].add(len(batch['inputs']))
    seen['weights'].add(float(np.sum(batch['weights'])))
    return args[5], params, args[1]

  sub = Submission(
    path='<select>',
    module=None,
    get_batch_size=lambda name: 16,
    init_optimizer_state=lambda *a: {},
    update_params=update_params,
    prepare_for_eval=None,
    data_selection=data_selection,
    update_params_takes_train_state=True,
    get_candidate_batch_size=lambda name: 64,
  )
  runner.train_once(
    QuadraticWorkload(),
    sub,
    None,
    0,
    None,
    runner.RunConfig(max_global_steps=5, eval_every_steps=5),
  )
  assert seen == {'candidates': {64}, 'batches': {16}, 'weights': {10.0}}
