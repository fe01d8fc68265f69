"""Smoke test of the throw-away Slurm cluster: sbatch --wrap, then submitit jobs.

Runs against the plain cluster (no accounting: sacct disabled) and against one with slurmdbd
(sacct works), one module-scoped cluster each.
"""

import contextlib
import os
import subprocess
import sys
import time

import pytest

from tests.slurm.cluster import SlurmUnavailable, log_tails, running_cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

JOB_TIMEOUT_S = 60


@pytest.fixture(scope='module', params=[False, True], ids=['plain', 'accounting'])
def slurm_cluster(request):
  with contextlib.ExitStack() as stack:
    try:
      info = stack.enter_context(running_cluster(accounting=request.param))
    except SlurmUnavailable as e:
      pytest.skip(f'Slurm cannot be installed here: {e}')
    yield info


def _diagnostics(cluster, job_id=None):
  out = []
  for cmd in (['squeue'], ['sinfo'], ['scontrol', 'show', 'job', str(job_id)] if job_id else None):
    if cmd:
      res = subprocess.run(cmd, capture_output=True, text=True, check=False)
      out.append(f'$ {" ".join(cmd)}\n{res.stdout}{res.stderr}')
  return '\n'.join(out) + '\n' + log_tails(cluster['state_dir'])


def test_sbatch_wrap(slurm_cluster, tmp_path):
  out_file = tmp_path / 'hello.out'
  res = subprocess.run(
    [
      'sbatch',
      '--parsable',
      f'--partition={slurm_cluster["partition"]}',
      '--time=1',
      f'--output={out_file}',
      '--wrap',
      'echo "hello from job $SLURM_JOB_ID on $(hostname)"',
    ],
    capture_output=True,
    text=True,
    timeout=30,
    check=False,
  )
  assert res.returncode == 0, f'sbatch failed: {res.stderr}\n{_diagnostics(slurm_cluster)}'
  job_id = res.stdout.strip().split(';')[0]
  deadline = time.monotonic() + JOB_TIMEOUT_S
  while time.monotonic() < deadline:
    if out_file.exists() and 'hello from job' in out_file.read_text():
      break
    time.sleep(0.2)
  else:
    pytest.fail(
      f'job {job_id} wrote no output in {JOB_TIMEOUT_S} s\n{_diagnostics(slurm_cluster, job_id)}'
    )
  assert out_file.read_text().startswith(f'hello from job {job_id} on ')


def test_submitit_job(slurm_cluster, tmp_path):
  submitit = pytest.importorskip('submitit')

  # Defined locally so that cloudpickle ships it by value: the job need not import this module.
  def probe(x):
    import os as os_
    import sys as sys_

    return x * 2, sys_.executable, os_.environ.get('SLURM_JOB_ID')

  executor = submitit.AutoExecutor(folder=tmp_path / 'submitit', cluster='slurm')
  executor.update_parameters(
    slurm_partition=slurm_cluster['partition'], timeout_min=2, cpus_per_task=1
  )
  job = executor.submit(probe, 21)
  # job.result() alone would wait forever if the job died without a result: on the plain
  # cluster sacct is disabled, so submitit cannot tell that the job ended.
  deadline = time.monotonic() + JOB_TIMEOUT_S
  while not job.paths.result_pickle.exists():
    if time.monotonic() > deadline:
      job.cancel(check=False)
      pytest.fail(
        f'submitit job {job.job_id} produced no result in {JOB_TIMEOUT_S} s\n'
        f'stdout: {job.stdout()}\nstderr: {job.stderr()}\n'
        f'{_diagnostics(slurm_cluster, job.job_id)}'
      )
    time.sleep(0.2)
  value, executable, slurm_job_id = job.result()
  assert value == 42
  assert executable == sys.executable  # the job ran in this interpreter (the project's venv)
  assert slurm_job_id == str(job.job_id)
  assert os.environ['SLURM_CONF'] == slurm_cluster['conf']


def test_sacct_sees_cancelled_submitit_job(slurm_cluster, tmp_path):
  if not slurm_cluster['accounting']:
    res = subprocess.run(['sacct'], capture_output=True, text=True, check=False)
    assert res.returncode != 0 and 'accounting storage is disabled' in res.stderr
    pytest.skip('sacct is disabled without accounting: submitit cannot see a cancelled job end')
  submitit = pytest.importorskip('submitit')
  executor = submitit.AutoExecutor(folder=tmp_path / 'submitit', cluster='slurm')
  executor.update_parameters(
    slurm_partition=slurm_cluster['partition'], timeout_min=2, cpus_per_task=1
  )
  job = executor.submit(time.sleep, 300)
  deadline = time.monotonic() + JOB_TIMEOUT_S
  while job.state != 'RUNNING':  # job.state calls sacct at most every ~2 s
    assert time.monotonic() < deadline, _diagnostics(slurm_cluster, job.job_id)
    time.sleep(0.5)
  job.cancel()
  while not job.done(force_check=True):
    assert time.monotonic() < deadline, _diagnostics(slurm_cluster, job.job_id)
    time.sleep(0.5)
  assert job.state.startswith('CANCELLED')
