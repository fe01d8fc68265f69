"""AlgoPerf's mnist, cifar and fastmri workloads (and fastmri's variants) at reduced size.

Real configurations are checked by ``jax.eval_shape`` against AlgoPerf's parameter
counts (obtained by running AlgoPerf's own JAX models); training and evaluation run on
data in the real on-disk formats (TFDS mock data; tiny fastMRI ``.h5`` volumes packed
into the tarballs a user downloads, then ``datasets prepare``), at reduced widths.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from algoperf_like import registry, runner, search_space, spec
from algoperf_like import submission as submission_lib
from algoperf_like.cli import main as cli_main
from algoperf_like.workloads.cifar import input_pipeline as cifar_input
from algoperf_like.workloads.cifar.workload import CifarWorkload
from algoperf_like.workloads.common import full_scale
from algoperf_like.workloads.fastmri import input_pipeline as mri_input
from algoperf_like.workloads.fastmri import ssim as ssim_lib
from algoperf_like.workloads.fastmri import workload as mri_workload
from algoperf_like.workloads.mnist.workload import MnistWorkload

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASTMRI = ('fastmri', 'fastmri_model_size', 'fastmri_tanh', 'fastmri_layernorm')
# Trainable parameters of AlgoPerf's JAX models (run as an oracle), and batch-norm state.
ALGOPERF_NUM_PARAMS = {
  'mnist': (101_770, 0),
  'cifar': (11_173_962, 9_600),
  'fastmri': (7_756_097, 0),
  'fastmri_model_size': (7_692_929, 0),
  'fastmri_tanh': (7_756_097, 0),
  'fastmri_layernorm': (7_761_985, 0),
}
MOCK_EXAMPLES = 40  # Per TFDS split.


def _small_constants(w, train, validation, test, eval_train):
  return dataclasses.replace(
    w.constants,
    eval_batch_size=4,
    num_train_examples=train,
    num_validation_examples=validation,
    num_test_examples=test,
    num_eval_train_examples=eval_train,
  )


class SmallMnist(MnistWorkload):
  def __init__(self, data_dir=None):
    super().__init__(data_dir)
    self.constants = _small_constants(self, 32, 8, 12, 8)


class SmallCifar(CifarWorkload):
  num_filters = 4
  stage_sizes = (1, 1, 1, 1)  # The real (2, 2, 2, 2) is checked by eval_shape.

  def __init__(self, data_dir=None):
    super().__init__(data_dir)
    self.constants = _small_constants(self, 32, 8, 12, 8)


def _small_fastmri(base):
  """Two pooling layers fewer (the real depth is checked by eval_shape), narrow, 16x16."""

  class Small(base):
    num_channels = base.num_channels // 8
    num_pool_layers = base.num_pool_layers - 2
    image_size = 16
    init_batch = 2
    num_validation_volumes = 2

    def __init__(self, data_dir=None):
      super().__init__(data_dir)
      self.constants = _small_constants(self, 12, 8, 4, 8)

  Small.__name__ = f'Small{base.__name__}'
  return Small


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('name', sorted(ALGOPERF_NUM_PARAMS))
def test_real_config_has_algoperfs_parameter_tree(name):
  w = registry.get_workload(name)
  params, state = jax.eval_shape(w.init_model_fn, jax.random.PRNGKey(0))
  assert (_count(params), _count(state)) == ALGOPERF_NUM_PARAMS[name]
  assert w.param_shapes['Conv_0' if name.startswith('fastmri') else 'Dense_0']
  assert all(w.is_output_params(k) for k in w.output_param_keys)
  assert set(w.output_param_keys) <= set(params)
  types = jax.tree.leaves(w.model_params_types)
  assert len(types) == len(jax.tree.leaves(params))
  if name == 'cifar':
    block = params['ResNetBlock_2']  # The first block of stage 2 projects its shortcut.
    assert block['Conv_proj']['kernel'].shape == (1, 1, 64, 128)
    assert set(block) == {
      'Conv_0',
      'BatchNorm_0',
      'Conv_1',
      'BatchNorm_1',
      'Conv_proj',
      'BatchNorm_proj',
    }
    assert set(state) == {'batch_stats'}
    assert w.model_params_types['BatchNorm_init']['scale'] == spec.ParameterType.BATCH_NORM_SCALE
    assert w.model_params_types['Conv_init']['kernel'] == spec.ParameterType.CONV_WEIGHT
  if name == 'mnist':
    assert params['Dense_0']['kernel'].shape == (784, 128)
  if name == 'fastmri':
    assert params['ConvBlock_4']['Conv_0']['kernel'].shape == (3, 3, 256, 512)
    assert params['TransposeConvBlock_3']['ConvTranspose_0']['kernel'].shape == (2, 2, 64, 32)
    assert params['Conv_0']['kernel'].shape == (1, 1, 32, 1)
  if name == 'fastmri_layernorm':
    assert params['ConvBlock_0']['LayerNorm_1']['scale'].shape == (32,)
    types = w.model_params_types['ConvBlock_0']['LayerNorm_1']
    assert types['scale'] == spec.ParameterType.LAYER_NORM_SCALE


def _train_on_fixed_batch(w, batch, steps=6, learning_rate=3e-3):
  """Adam on one batch; the losses before each step."""
  params, state = w.init_model_fn(jax.random.PRNGKey(0))
  opt = optax.adam(learning_rate)
  opt_state = opt.init(params)

  @jax.jit
  def step(params, state, opt_state, rng):
    def loss(p):
      out, new_state = w.model_fn(p, batch, state, spec.ForwardPassMode.TRAIN, rng, True, None, 0.0)
      terms = w.loss_fn(batch['targets'], out, batch.get('weights'), 0.1)
      return terms['summed'] / terms['n_valid_examples'], new_state

    (value, new_state), grads = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_state, opt_state, value

  losses = []
  for i in range(steps):
    params, state, opt_state, value = step(params, state, opt_state, jax.random.PRNGKey(i))
    losses.append(float(value))
  return params, state, losses


def _check_training_and_eval(w, data_dir, eval_batch_size, keys):
  queue = w._build_input_queue(jax.random.PRNGKey(1), 'train', data_dir, 8)
  batch = next(queue)
  params, state, losses = _train_on_fixed_batch(w, batch)
  assert all(np.isfinite(losses)), losses
  assert losses[-1] < losses[0], losses
  result = w.eval_model(eval_batch_size, params, state, jax.random.PRNGKey(2), data_dir, None, 6)
  expected = {f'{s}/{k}' for s in ('train', 'validation', 'test') for k in keys}
  expected |= {'validation/num_examples', 'test/num_examples'}
  assert set(result) == expected
  assert all(np.isfinite(v) for v in result.values()), result
  assert result['validation/num_examples'] == w.num_validation_examples
  return params, state, result


def test_unprepared_tfds_data_dir_is_a_one_line_error(tmp_path):
  # Before the module's mock data is switched on (tests run in file order).
  for w in (SmallMnist(), SmallCifar()):
    with pytest.raises(full_scale.DatasetMissingError, match=f'--dataset={w.dataset} ') as e:
      w._build_input_queue(jax.random.PRNGKey(0), 'train', str(tmp_path), 8)
    assert '\n' not in str(e.value)


@pytest.fixture(scope='module')
def mock_tfds(tmp_path_factory):
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES):
    yield str(tmp_path_factory.mktemp('tfds'))


def test_mnist_trains_and_evaluates(mock_tfds):
  w = SmallMnist()
  _, _, result = _check_training_and_eval(w, mock_tfds, 8, ('accuracy', 'loss'))
  assert 0.0 <= result['validation/accuracy'] <= 1.0
  images, _ = w._split_arrays('validation', mock_tfds)
  assert images.shape == (8, 28, 28, 1)
  inputs = next(w._build_input_queue(jax.random.PRNGKey(0), 'validation', mock_tfds, 8))['inputs']
  # AlgoPerf's normalisation of the raw 0..255 pixel values.
  np.testing.assert_allclose(inputs, (images.astype(np.float32) - 0.1307) / 0.3081, rtol=1e-6)


def test_cifar_trains_keeps_batch_norm_state_and_evaluates(mock_tfds):
  w = SmallCifar()
  params, state, result = _check_training_and_eval(w, mock_tfds, 8, ('accuracy', 'loss'))
  _, initial = w.init_model_fn(jax.random.PRNGKey(0))
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), state, initial)
  assert max(jax.tree.leaves(moved)) > 0  # The running statistics were updated.
  # Evaluation reads the running averages: another state, another result.
  other = w.eval_model(8, params, initial, jax.random.PRNGKey(2), mock_tfds, None, 6)
  assert other['validation/loss'] != result['validation/loss']


def test_cifar_train_stream_is_deterministic_resumable_and_augmented(mock_tfds):
  w = SmallCifar()
  key = jax.random.PRNGKey(3)
  first = w._build_input_queue(key, 'train', mock_tfds, 8)
  batches = [next(first) for _ in range(6)]  # Over an epoch boundary (4 batches an epoch).
  resumed = w._build_input_queue(key, 'train', mock_tfds, 8)
  resumed.set_state(first.get_state())
  assert json.dumps(first.get_state()) == '{"batches_produced": 6}'
  np.testing.assert_array_equal(next(resumed)['inputs'], next(first)['inputs'])
  again = w._build_input_queue(key, 'train', mock_tfds, 8)
  for b in batches:
    np.testing.assert_array_equal(next(again)['inputs'], b['inputs'])
  assert batches[0]['inputs'].shape == (8, 32, 32, 3)
  # Crop and flip by hand: a flipped crop of the padded image, 2 pixels of zero a side.
  image = np.arange(2 * 32 * 32 * 3, dtype=np.int64).reshape(2, 32, 32, 3).astype(np.uint8)
  out = cifar_input.random_crop_and_flip(image, np.random.default_rng(0))
  padded = np.pad(image, ((0, 0), (2, 2), (2, 2), (0, 0)))
  for i in range(2):
    windows = [
      padded[i, t : t + 32, l : l + 32][:, ::f] for t in range(5) for l in range(5) for f in (1, -1)
    ]
    assert any(np.array_equal(out[i], win) for win in windows)


# ----- fastMRI: tiny volumes in the archives a user downloads. -----
def _volume(rng, slices, rows=32, cols=24, size=16):
  kspace = rng.standard_normal((slices, rows, cols)) + 1j * rng.standard_normal(
    (slices, rows, cols)
  )
  kspace = (kspace * 1e-5).astype(np.complex64)
  image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(kspace, axes=(1, 2))), axes=(1, 2))
  image = np.abs(image * np.sqrt(rows * cols))
  top, left = (rows - size) // 2, (cols - size) // 2
  target = image[:, top : top + size, left : left + size].astype(np.float32)
  return kspace, target


def _write_archives(raw_dir, rng):
  import h5py

  os.makedirs(raw_dir, exist_ok=True)
  layout = {'train': (3, 4), 'val': (3, 4), 'test': (1, 4)}  # volumes, slices
  for split, (volumes, slices) in layout.items():
    folder = os.path.join(raw_dir, f'singlecoil_{split}')
    os.makedirs(folder)
    for v in range(volumes):
      kspace, target = _volume(rng, slices)
      with h5py.File(os.path.join(folder, f'file{split}{v:03d}.h5'), 'w') as f:
        f['kspace'] = kspace
        if split != 'test':
          f['reconstruction_esc'] = target
        f.attrs['max'] = float(target.max())
    with tarfile.open(os.path.join(raw_dir, f'knee_singlecoil_{split}.tar.xz'), 'w:xz') as tar:
      tar.add(folder, arcname=f'singlecoil_{split}')


@pytest.fixture(scope='module')
def fastmri_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp('fastmri')
  raw, data = str(root / 'raw'), str(root / 'data')
  _write_archives(raw, np.random.default_rng(0))
  assert (
    cli_main(['datasets', 'prepare', '--dataset=fastmri', f'--data_dir={data}', f'--raw_dir={raw}'])
    == 0
  )
  return data


def test_fastmri_prepare_lays_out_algoperfs_folders(fastmri_dir, tmp_path, capsys):
  for folder, count in (
    ('knee_singlecoil_train', 3),
    ('knee_singlecoil_val', 3),
    ('knee_singlecoil_test', 1),
  ):
    files = os.listdir(os.path.join(fastmri_dir, 'fastmri', folder))
    assert len([f for f in files if f.endswith('.h5')]) == count
  raw = tmp_path / 'raw'
  raw.mkdir()
  (raw / 'knee_singlecoil_val.tar.xz').write_bytes(b'')
  code = cli_main(
    ['datasets', 'prepare', '--dataset=fastmri', f'--data_dir={tmp_path}', f'--raw_dir={raw}']
  )
  err = capsys.readouterr().err.strip()
  assert code == 2 and len(err.splitlines()) == 1
  assert 'knee_singlecoil_train.tar.xz' in err and 'knee_singlecoil_test.tar.xz' in err
  assert 'knee_singlecoil_val.tar.xz' not in err
  with pytest.raises(full_scale.DatasetMissingError, match='datasets prepare --dataset=fastmri'):
    mri_workload.FastMRIWorkload()._build_input_queue(
      jax.random.PRNGKey(0), 'train', str(tmp_path), 2
    )


@pytest.mark.parametrize('name', FASTMRI)
def test_fastmri_trains_and_evaluates(fastmri_dir, name):
  w = _small_fastmri(type(registry.get_workload(name)))()
  assert w.workload_name == name
  _, _, result = _check_training_and_eval(w, fastmri_dir, 4, ('ssim', 'loss'))
  assert -1.0 <= result['validation/ssim'] <= 1.0
  assert result['test/num_examples'] == 4


def test_fastmri_examples_and_stream(fastmri_dir):
  root = mri_input.dataset_root(fastmri_dir)
  w = _small_fastmri(mri_workload.FastMRIWorkload)()
  val = w._eval_batches('validation', fastmri_dir, 8, 8)
  assert len(val) == 1 and val[0]['inputs'].shape == (8, 16, 16)
  assert val[0]['weights'].sum() == 8
  # The mask keeps the central 8% of columns and an expected quarter of all.
  mask = mri_input.eval_mask(368)
  assert mask[(368 - 29 + 1) // 2 :][:29].all() and mask.sum() == pytest.approx(92, abs=25)
  np.testing.assert_array_equal(mask, mri_input.eval_mask(368))
  ex = mri_input.SliceReader(
    mri_input.split_files(root, 'validation', 2), mri_workload._eval_mask
  ).example(0)
  assert set(ex) == {'inputs', 'targets', 'mean', 'std', 'volume_max'}
  assert np.abs(ex['inputs']).max() <= 6 and abs(float(ex['inputs'].mean())) < 1e-4
  q = w._build_input_queue(jax.random.PRNGKey(0), 'train', fastmri_dir, 4)
  batches = [next(q) for _ in range(4)]  # 3 batches an epoch.
  r = w._build_input_queue(jax.random.PRNGKey(0), 'train', fastmri_dir, 4)
  r.set_state({'batches_produced': 2})
  for b in batches[2:]:
    np.testing.assert_array_equal(next(r)['inputs'], b['inputs'])


def test_fastmri_dropout_rate_at_call_time(fastmri_dir):
  w = _small_fastmri(mri_workload.FastMRIWorkload)()
  params, _ = w.init_model_fn(jax.random.PRNGKey(0))
  batch = {'inputs': jax.random.normal(jax.random.PRNGKey(5), (2, 16, 16))}
  train, key = spec.ForwardPassMode.TRAIN, jax.random.PRNGKey(1)
  # The rate traced, as submissions pass it under jit: one compilation for every rate.
  traced = jax.jit(lambda r: w.model_fn(params, batch, None, train, key, False, None, r)[0])
  evaluate = jax.jit(
    lambda: w.model_fn(params, batch, None, spec.ForwardPassMode.EVAL, None, False)[0]
  )
  off, on = traced(0.0), traced(0.5)
  assert not np.allclose(off, on)
  np.testing.assert_allclose(off, evaluate(), rtol=1e-4, atol=1e-5)


def _ssim_by_hand(x, y, data_range):
  """SSIM from its definition, window by window (7x7, symmetric extension, sample stats)."""
  xp, yp = np.pad(x, 3, mode='symmetric'), np.pad(y, 3, mode='symmetric')
  c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
  values = []
  for i in range(3, x.shape[0] - 3):
    for j in range(3, x.shape[1] - 3):
      a, b = xp[i : i + 7, j : j + 7].ravel(), yp[i : i + 7, j : j + 7].ravel()
      cov = np.cov(a, b)  # Sample (n - 1) statistics.
      num = (2 * a.mean() * b.mean() + c1) * (2 * cov[0, 1] + c2)
      den = (a.mean() ** 2 + b.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)
      values.append(num / den)
  return np.mean(values)


def test_ssim_by_hand():
  rng = np.random.default_rng(0)
  x = rng.random((2, 12, 11)).astype(np.float32)
  y = (x + 0.3 * rng.random((2, 12, 11))).astype(np.float32)
  mean, std, vmax = (
    np.array([0.5, 0.1], np.float32),
    np.array([2.0, 1.0], np.float32),
    np.array([3.0, 0.0], np.float32),
  )
  got = np.asarray(ssim_lib.ssim(jnp.asarray(x), jnp.asarray(y), mean, std, vmax))
  for i in range(2):
    want = _ssim_by_hand(x[i] * std[i] + mean[i], y[i] * std[i] + mean[i], vmax[i] or 1.0)
    assert got[i] == pytest.approx(want, rel=1e-4)
  assert np.asarray(ssim_lib.ssim(jnp.asarray(x), jnp.asarray(x))) == pytest.approx(1.0, abs=1e-5)


def test_run_trains_fastmri_from_the_prepared_data_dir(fastmri_dir, tmp_path):
  w = _small_fastmri(mri_workload.FastMRITanhWorkload)()
  sub = submission_lib.load_submission(os.path.join(REPO, 'submissions', 'nadamw', 'submission.py'))
  hparams = search_space.make_hyperparameters(
    {
      'learning_rate': 1e-3,
      'one_minus_beta1': 0.1,
      'beta2': 0.999,
      'weight_decay': 0.0,
      'warmup_factor': 0.05,
    }
  )
  sub = dataclasses.replace(sub, get_batch_size=lambda name: 4)
  result = runner.train_once(
    w,
    sub,
    hparams,
    0,
    str(tmp_path / 'log'),
    runner.RunConfig(
      data_dir=fastmri_dir, max_global_steps=3, eval_every_steps=3, save_checkpoints=False
    ),
  )
  last = result.eval_results[-1]
  assert last['global_step'] == 3 and np.isfinite(last['validation/ssim'])


# ----- 8 virtual devices give the losses of one (mnist: the smallest image workload). -----
EIGHT = textwrap.dedent("""
    import json, sys
    import dataclasses
    import jax, optax
    import tensorflow_datasets as tfds
    from algoperf_like import jax_sharding_utils, spec
    from algoperf_like.workloads.mnist.workload import MnistWorkload

    class Small(MnistWorkload):
      def __init__(self, data_dir=None):
        super().__init__(data_dir)
        self.constants = dataclasses.replace(self.constants, num_train_examples=32,
            num_validation_examples=8, num_test_examples=16, num_eval_train_examples=8)

    with tfds.testing.mock_data(num_examples=40):
      w = Small()
      queue = w._build_input_queue(jax.random.PRNGKey(1), 'train', sys.argv[1], 16)
      params, state = jax_sharding_utils.replicate(w.init_model_fn(jax.random.PRNGKey(0)))
      opt = optax.adam(1e-2)
      opt_state = opt.init(params)

      @jax.jit
      def step(params, opt_state, batch):
        def loss(p):
          out, _ = w.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, None, True)
          t = w.loss_fn(batch['targets'], out, batch['weights'], 0.1)
          return t['summed'] / t['n_valid_examples']
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, value

      losses = []
      for _ in range(6):
        batch = next(queue)
        params, opt_state, value = step(params, opt_state, batch)
        losses.append(float(value))
      result = w.eval_model(16, params, state, jax.random.PRNGKey(2), sys.argv[1], None, 6)
      sharding = str(getattr(batch['inputs'], 'sharding', None))
    print(json.dumps({'devices': jax.device_count(), 'losses': losses, 'eval': result,
                      'sharding': sharding}))
    """)


def _run_devices(data_dir, devices):
  env = dict(os.environ)
  env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
  env['JAX_PLATFORMS'] = 'cpu'
  proc = subprocess.Popen(
    [sys.executable, '-c', EIGHT, data_dir],
    cwd=REPO,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  return proc


def test_eight_devices_give_the_losses_of_one(tmp_path):
  procs = [_run_devices(str(tmp_path), n) for n in (1, 8)]
  outs = []
  for proc in procs:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    outs.append(json.loads(out.strip().splitlines()[-1]))
  one, eight = outs
  assert (one['devices'], eight['devices']) == (1, 8)
  assert "'batch'" in eight['sharding']  # The batches were split over the 8 devices.
  assert one['sharding'] == 'None'  # One device: host batches.
  np.testing.assert_allclose(eight['losses'], one['losses'], rtol=1e-4)
  assert one['losses'][-1] < one['losses'][0]
  for key, value in one['eval'].items():
    assert eight['eval'][key] == pytest.approx(value, rel=1e-4), key
