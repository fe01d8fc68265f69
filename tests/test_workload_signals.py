"""Tests of the ``fastmri1d`` and ``ctc_digits`` workloads: data, model, loss, metrics, training."""

import dataclasses
import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algoperf_like import registry, runner, search_space, spec
from algoperf_like import submission as submission_lib
from algoperf_like.workloads.common import layers, losses, metrics, mnist1d_signals, tfds_data
from algoperf_like.workloads.ctc_digits import dataset as ctc_dataset
from algoperf_like.workloads.fastmri1d import dataset as mri_dataset

NAMES = ('fastmri1d', 'fastmri1d_tanh', 'ctc_digits', 'ctc_digits_gelu')
# Proposed targets.json entries (targets.json still holds placeholders).
PROPOSED = {
  'fastmri1d': dict(
    validation_target_value=0.87,
    test_target_value=0.86,
    max_allowed_runtime_sec=16,
    eval_period_time_sec=1.5,
    step_hint=600,
  ),
  'fastmri1d_tanh': dict(
    validation_target_value=0.865,
    test_target_value=0.86,
    max_allowed_runtime_sec=16,
    eval_period_time_sec=1.5,
    step_hint=600,
  ),
  'ctc_digits': dict(
    validation_target_value=0.14,
    test_target_value=0.14,
    max_allowed_runtime_sec=20,
    eval_period_time_sec=1.5,
    step_hint=800,
  ),
  'ctc_digits_gelu': dict(
    validation_target_value=0.11,
    test_target_value=0.11,
    max_allowed_runtime_sec=20,
    eval_period_time_sec=1.5,
    step_hint=800,
  ),
}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NADAMW = dict(
  learning_rate=1e-2,
  one_minus_beta1=0.1,
  beta2=0.999,
  warmup_factor=0.05,
  weight_decay=0.05,
  label_smoothing=0.0,
)


def _with_ids(arrays):
  return dict(arrays, example_id=np.arange(len(arrays['inputs']), dtype=np.int64))


@pytest.fixture(scope='module', params=NAMES)
def workload(request, data_dir):
  return registry.get_workload(request.param, data_dir)


# ----- Data. -----
@pytest.mark.parametrize(
  'module, builder', [(mri_dataset, mri_dataset.Fastmri1d), (ctc_dataset, ctc_dataset.CtcDigits)]
)
def test_generation_is_deterministic_and_matches_the_fingerprints(module, builder):
  state = np.random.get_state()
  first, second = module.generate_arrays(), module.generate_arrays()
  assert np.array_equal(np.random.get_state()[1], state[1])  # Global numpy state untouched.
  for split, size in module.SPLIT_SIZES.items():
    fp = tfds_data.fingerprint(_with_ids(first[split]))
    assert fp == tfds_data.fingerprint(_with_ids(second[split]))
    assert fp == builder.FINGERPRINTS[split]
    assert len(first[split]['inputs']) == size


def test_fastmri1d_inputs_are_undersampled_targets():
  arrays = mri_dataset.generate_arrays()['validation']
  clean, corrupted = arrays['targets'], arrays['inputs']
  np.testing.assert_allclose(arrays['data_range'], clean.max(-1) - clean.min(-1), rtol=1e-6)
  # The centre of k-space is kept: low frequencies differ only by the noise.
  low = np.abs(np.fft.rfft(corrupted - clean)[:, : mri_dataset.CENTER_FREQUENCIES])
  assert np.median(low) < 1.0
  assert np.abs(corrupted - clean).mean() > 0.2


def test_ctc_digits_sequences_are_well_formed():
  arrays = ctc_dataset.generate_arrays()['validation']
  targets, paddings = arrays['targets'], arrays['input_paddings']
  counts = np.sum(targets != ctc_dataset.PAD_ID, axis=1)
  assert counts.min() == ctc_dataset.MIN_DIGITS and counts.max() == ctc_dataset.MAX_DIGITS
  for row, n in zip(targets, counts):  # Digits first, then padding.
    assert np.all(row[:n] >= 0) and np.all(row[:n] < 10) and np.all(row[n:] == ctc_dataset.PAD_ID)
  lengths = np.sum(1 - paddings, axis=1)
  signal = mnist1d_signals.SIGNAL_LENGTH
  assert np.all(lengths >= counts * signal)
  assert np.all(lengths <= counts * (signal + ctc_dataset.MAX_GAP))
  assert np.all(arrays['inputs'][paddings > 0] == 0)
  # Paddings are a suffix.
  assert np.all(np.diff(paddings, axis=1) >= 0)


# ----- Models. -----
@pytest.mark.parametrize('kernel_size, strides', [(3, 1), (5, 2), (8, 4), (1, 1)])
def test_conv1d_equals_flax_conv_same_padding(kernel_size, strides):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 37, 3))
  ours = layers.Conv1D(5, kernel_size, strides)
  variables = ours.init(jax.random.PRNGKey(1), x)
  flax_conv = nn.Conv(5, (kernel_size,), strides, padding='SAME')
  np.testing.assert_allclose(ours.apply(variables, x), flax_conv.apply(variables, x), atol=1e-5)


def test_model_output_shapes(workload):
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  batch = next(workload._build_input_queue(jax.random.PRNGKey(1), 'train', None, 4))
  forward = jax.jit(
    lambda p, b: workload.model_fn(
      p, b, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
    )[0]
  )
  out = forward(params, batch)
  if workload.loss_type == spec.LossType.MEAN_ABSOLUTE_ERROR:
    assert out.shape == (4, mri_dataset.SIGNAL_LENGTH)
  else:
    logits, logit_paddings = out
    frames = ctc_dataset.SEQUENCE_LENGTH // 8
    assert logits.shape == (4, frames, ctc_dataset.NUM_DIGITS + 1)
    assert logit_paddings.shape == (4, frames)
    # Enough frames for every digit (and a blank between repeats).
    valid_frames = np.sum(1 - np.asarray(logit_paddings), axis=1)
    assert np.all(valid_frames >= 2 * np.sum(batch['targets'] != ctc_dataset.PAD_ID, axis=1))
  assert sum(workload.is_output_params(k) for k in params) == 1


# ----- Losses. -----
def test_mean_absolute_error_by_hand():
  targets = jnp.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
  predictions = jnp.array([[1.0, -1.0], [1.0, 4.0], [0.0, 0.0]])
  out = losses.mean_absolute_error(targets, predictions, jnp.array([1.0, 1.0, 0.0]))
  np.testing.assert_allclose(out['per_example'], [1.0, 1.5, 0.0])
  assert float(out['summed']) == 2.5 and float(out['n_valid_examples']) == 2
  assert float(losses.mean_absolute_error(targets, predictions)['n_valid_examples']) == 3


def test_ctc_loss_fn_by_hand(data_dir):
  w = registry.get_workload('ctc_digits', data_dir)
  pad = ctc_dataset.PAD_ID
  # Two frames, uniform over the 11 classes (blank + 10 digits).
  logits = jnp.zeros((4, 2, 11))
  logit_paddings = jnp.zeros((4, 2))
  targets = jnp.array(
    [
      [3, pad, pad, pad],  # paths 33, 3-, -3: p = 3/121, 1 digit
      [3, 7, pad, pad],  # only 37: p = 1/121, 2 digits
      [5, pad, pad, pad],
      [1, 2, pad, pad],
    ]
  )  # masked out
  out = w.loss_fn(targets, (logits, logit_paddings), jnp.array([1.0, 1.0, 1.0, 0.0]))
  expected = [math.log(121 / 3), math.log(121) / 2, math.log(121 / 3), 0.0]
  np.testing.assert_allclose(out['per_example'], expected, rtol=1e-5)
  np.testing.assert_allclose(out['summed'], sum(expected), rtol=1e-5)
  assert float(out['n_valid_examples']) == 3
  # A padded frame cannot emit: with one valid frame only the path "3" remains.
  one_frame = w.loss_fn(targets[:1], (logits[:1], jnp.array([[0.0, 1.0]])))
  np.testing.assert_allclose(one_frame['per_example'], [math.log(11)], rtol=1e-5)


# ----- Metrics. -----
def test_ssim_1d_by_hand():
  x, y = jnp.array([[0.0, 1.0, 2.0]]), jnp.array([[0.0, 2.0, 4.0]])
  # One window of 3: means 1, 2; sample variances 1, 4; covariance 2; L = 4.
  c1, c2 = (0.01 * 4) ** 2, (0.03 * 4) ** 2
  expected = (2 * 1 * 2 + c1) * (2 * 2 + c2) / ((1 + 4 + c1) * (1 + 4 + c2))
  np.testing.assert_allclose(
    metrics.ssim_1d(x, y, jnp.array([4.0]), window=3), [expected], rtol=1e-6
  )
  signal = jnp.sin(jnp.arange(40.0))[None]
  np.testing.assert_allclose(metrics.ssim_1d(signal, signal, 2.0), [1.0], rtol=1e-6)
  # Two windows of 2 on constant pieces: (2*1*0 + C1) / (1 + 0 + C1) each (variances 0).
  ones, zeros = jnp.ones((1, 3)), jnp.zeros((1, 3))
  c1 = 0.01**2
  np.testing.assert_allclose(
    metrics.ssim_1d(ones, zeros, 1.0, window=2), [c1 / (1 + c1)], rtol=1e-5
  )


def test_fastmri1d_eval_masks_padding(data_dir):
  w = registry.get_workload('fastmri1d', data_dir)
  params, model_state = w.init_model_fn(jax.random.PRNGKey(0))
  arrays = tfds_data.load_split(w.builder_cls, 'validation', data_dir)
  real = {k: arrays[k][:3] for k in w.eval_features}
  batch = {k: np.concatenate([v, np.zeros_like(v[:2])]) for k, v in real.items()}
  batch['weights'] = np.array([1.0, 1.0, 1.0, 0.0, 0.0], np.float32)
  out = jax.device_get(w._eval_batch(params, model_state, batch))
  predictions, _ = w.model_fn(
    params, real, model_state, spec.ForwardPassMode.EVAL, None, update_batch_norm=False
  )
  ssim = metrics.ssim_1d(predictions, real['targets'], real['data_range'])
  l1 = np.abs(np.asarray(predictions) - real['targets']).mean(axis=1)
  result = w._metrics([out])
  np.testing.assert_allclose(result['ssim'], float(ssim.mean()), rtol=1e-5)
  np.testing.assert_allclose(result['loss'], l1.mean(), rtol=1e-5)


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
  best_path = jnp.array([[0, 1, 1, 0, 1, 2, 2, 0], [3, 3, 3, 0, 0, 0, 4, 4]])
  logits = jax.nn.one_hot(best_path, 5)
  paddings = jnp.array([[0.0] * 8, [0.0] * 6 + [1.0] * 2])  # The last two frames padded.
  decoded = metrics.ctc_greedy_decode(logits, paddings)
  assert decoded.tolist() == [[1, 1, 2, -1, -1, -1, -1, -1], [3, -1, -1, -1, -1, -1, -1, -1]]


@pytest.mark.parametrize(
  'hyp, ref, distance',
  [
    ([], [], 0),
    ([], [1, 2], 2),
    ([1, 2], [], 2),
    ([1, 2, 3], [1, 3], 1),
    ([3, 1, 2], [1, 2, 3], 2),
    (list('kitten'), list('sitting'), 3),
  ],
)
def test_edit_distance_by_hand(hyp, ref, distance):
  assert metrics.edit_distance(hyp, ref) == distance


def test_ctc_digits_wer_from_eval_outputs(data_dir):
  w = registry.get_workload('ctc_digits', data_dir)
  pad = ctc_dataset.PAD_ID
  outputs = [
    {
      'loss': np.float32(6.0),
      'count': np.float32(3.0),
      'decoded': np.array([[1, 2, pad], [4, pad, pad], [5, 6, 7], [0, 0, 0]]),
      'targets': np.array([[1, 2, pad, pad], [4, 5, 6, pad], [5, 7, pad, pad], [9, 9, 9, 9]]),
      'weights': np.array([1.0, 1.0, 1.0, 0.0]),
    }
  ]
  # Errors: 0 + 2 (two deletions) + 1 (one insertion) over 2 + 3 + 2 reference digits.
  assert w._metrics(outputs) == {'loss': 2.0, 'wer': 3 / 7}


# ----- Training. -----
@pytest.mark.slow
@pytest.mark.numerics
@pytest.mark.parametrize('name', ['fastmri1d', 'ctc_digits'])
def test_nadamw_reaches_the_proposed_target(name, data_dir):
  w = registry.get_workload(name, data_dir)
  w.constants = dataclasses.replace(w.constants, **PROPOSED[name])
  submission = submission_lib.load_submission(
    os.path.join(REPO, 'submissions', 'nadamw', 'submission.py')
  )
  hyperparameters = search_space.make_hyperparameters(NADAMW)
  step_hint = w.step_hint
  result = runner.train_once(
    w,
    submission,
    hyperparameters,
    rng_seed=1,
    log_dir=None,
    config=runner.RunConfig(
      data_dir=data_dir,
      max_global_steps=step_hint,
      eval_every_steps=step_hint // 8,
      max_runtime_sec=1e9,  # Steps end the run, however slow the machine.
      save_checkpoints=False,
    ),
  )
  assert result.status == 'target_reached', result.eval_results[-1]
