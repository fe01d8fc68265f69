"""The images of ``docker/``: what they record, what they install from, and (marker ``image``,
``make test-image``, run by CI, not by ``make test``) the CPU image built with
``docker/build.sh cpu`` and a baseline trained to its target inside it.

The image test needs root (buildah's chroot isolation); ``docker/build.sh`` installs buildah
and debootstrap with apt-get when they are missing. ``check`` runs inside the container
without the bubblewrap sandbox: bubblewrap cannot create namespaces inside a buildah chroot
container (tried: "No permissions to create new namespace", as root and as the image's user),
so the container is the isolation there.
"""

import hashlib
import json
import os
import re
import subprocess

import pytest

from algoperf_like import environment
from algoperf_like.workloads import targets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILES = ('Dockerfile.cpu', 'Dockerfile.cuda', 'Dockerfile.tpu')
LOCK = os.path.join(REPO, 'constraints.txt')


def _lock_sha256() -> str:
  with open(LOCK, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def test_image_fingerprint_has_the_baked_file_and_what_the_host_passed(tmp_path):
  info = tmp_path / 'image.json'
  info.write_text(json.dumps({'image.flavor': 'cpu', 'image.lock_sha256': 'ab12', 'other': 1}))
  env = {
    'ALGOPERF_LIKE_IMAGE_INFO': str(info),
    'ALGOPERF_LIKE_IMAGE_REF': 'ghcr.io/org/algoperf-like:cpu',
    'ALGOPERF_LIKE_IMAGE_DIGEST': 'sha256:ffff',
  }
  assert environment.image_fingerprint(env) == {
    'image.flavor': 'cpu',
    'image.lock_sha256': 'ab12',
    'image.ref': 'ghcr.io/org/algoperf-like:cpu',
    'image.digest': 'sha256:ffff',
  }
  # Under Apptainer the image file is the reference.
  apptainer = {'ALGOPERF_LIKE_IMAGE_INFO': str(info), 'APPTAINER_CONTAINER': '/sif/a.sif'}
  assert environment.image_fingerprint(apptainer)['image.ref'] == '/sif/a.sif'
  assert environment.image_fingerprint({}) == {}  # Outside an image: no image keys.
  broken = environment.image_fingerprint({'ALGOPERF_LIKE_IMAGE_INFO': str(tmp_path / 'no')})
  assert list(broken) == ['image.info_error']


@pytest.mark.parametrize('name', DOCKERFILES)
def test_every_image_installs_from_the_one_lock_file_as_a_non_root_user(name):
  with open(os.path.join(REPO, 'docker', name)) as f:
    text = f.read()
  assert 'COPY constraints.txt /opt/algoperf_like/constraints.txt' in text
  assert '--constraint /opt/algoperf_like/constraints.txt' in text
  assert re.search(r'^USER 1000:1000$', text, re.M)
  assert 'ENTRYPOINT ["algoperf-like"]' in text
  assert 'VOLUME ["/data", "/experiments"]' in text
  assert 'ALGOPERF_LIKE_IMAGE_INFO=/opt/algoperf_like/image.json' in text
  assert '--mount=type=secret,id=ca' in text  # The CA bundle only for the pip step.


def test_the_lock_file_pins_every_dependency():
  import tomllib

  from packaging.requirements import Requirement

  with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
    project = tomllib.load(f)['project']
  with open(LOCK) as f:
    pins = {}
    for line in f:
      if line.strip() and not line.startswith('#'):
        name, _, version = line.strip().partition('==')
        pins[re.sub(r'[-_.]+', '-', name).lower()] = version
  env = {'sys_platform': 'linux', 'platform_machine': 'x86_64', 'python_version': '3.11'}
  for spec in project['dependencies'] + project['optional-dependencies']['test']:
    req = Requirement(spec)
    if req.marker and not req.marker.evaluate(env):
      continue
    name = re.sub(r'[-_.]+', '-', req.name).lower()
    assert name in pins, f'{req.name} is not pinned in constraints.txt (make lock)'
    assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])


def _buildah(*args, **kw):
  env = {**os.environ, 'STORAGE_DRIVER': os.environ.get('STORAGE_DRIVER', 'vfs')}
  return subprocess.run(['buildah', *args], env=env, text=True, capture_output=True, **kw)


@pytest.mark.image
def test_the_cpu_image_builds_and_trains_a_baseline_to_its_target_inside(tmp_path):
  if os.geteuid() != 0:
    pytest.skip('buildah --isolation chroot needs root')
  build = subprocess.run(
    ['bash', os.path.join(REPO, 'docker', 'build.sh'), 'cpu'],
    text=True,
    capture_output=True,
    timeout=3600,
  )
  assert build.returncode == 0, build.stderr[-3000:]
  image = build.stdout.strip().splitlines()[-1]
  assert image == 'localhost/algoperf-like:cpu'
  assert "checked: the host's CA bundle is in no layer" in build.stderr or not os.path.isfile(
    '/etc/ssl/certs/ca-certificates.crt'
  )
  ctr = _buildah('from', '--pull-never', image, check=True).stdout.strip()
  try:

    def run(*argv):
      return _buildah('run', '--isolation', 'chroot', ctr, '--', *argv, timeout=1800)

    who = run('id', '-u')
    assert who.stdout.strip() == '1000'  # The image's own non-root user.
    # As the Makefile's ONE_RUN_FLAGS, with a step budget (as tests/wheel_smoke.sh): a slow
    # machine trains the same run.
    trained = run(
      'algoperf-like',
      'run',
      '--workload=mnist1d',
      '--submission_path=nadamw',
      '--tuning_search_space=mnist1d_demo_point.json',
      '--num_studies=1',
      '--num_tuning_trials=1',
      f'--max_global_steps={targets.workload_targets("mnist1d")["step_hint"]}',
      '--eval_every_steps=50',
      '--max_runtime_sec=1e9',
      '--data_dir=/data',
      '--experiment_dir=/experiments',
      '--experiment_name=demo',
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert 'target reached in' in trained.stdout, trained.stdout[-2000:]
    meta = run('cat', '/experiments/demo/study_0/mnist1d_jax/trial_1/meta_data_0.json')
    fingerprint = json.loads(meta.stdout)
    assert fingerprint['image.flavor'] == 'cpu'
    assert fingerprint['image.lock_sha256'] == _lock_sha256()
    assert fingerprint['device.platform'] == 'cpu'

    help_text = run('algoperf-like', 'check', '--help').stdout
    nosandbox = ['--nosandbox'] if '--[no]sandbox' in help_text else []
    checked = run(
      'algoperf-like', 'check', '--submission_path=nadamw', '--data_dir=/data', *nosandbox
    )
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert 'Verdict: PASS' in checked.stdout
  finally:
    _buildah('rm', ctr)


def test_the_build_script_is_valid_bash():
  for script in ('build.sh', 'lock.sh'):
    path = os.path.join(REPO, 'docker', script)
    assert subprocess.run(['bash', '-n', path]).returncode == 0, script


def test_slurm_tasks_can_start_python_in_the_image(monkeypatch):
  """``run --slurm_python='apptainer exec IMAGE python'``: submitit starts each task with it."""
  import submitit

  from algoperf_like.executors.slurm import SlurmExecutor

  seen = {}

  class Stop(Exception):
    pass

  class FakeAutoExecutor:
    def __init__(self, folder, cluster, **kwargs):
      seen.update(kwargs, cluster=cluster)

    def update_parameters(self, **kwargs):
      pass

    def map_array(self, fn, jobs):
      raise Stop

  monkeypatch.setattr(submitit, 'AutoExecutor', FakeAutoExecutor)
  command = 'apptainer exec --nv algoperf-like.sif python'
  with pytest.raises(Stop):
    SlurmExecutor('slurm_dir', python=command).run([object()], None)
  assert seen == {'cluster': 'slurm', 'slurm_python': command}
  seen.clear()
  with pytest.raises(Stop):
    SlurmExecutor('slurm_dir').run([object()], None)
  assert seen == {'cluster': 'slurm'}
