"""A fingerprint of the hardware and software a trial ran on (``meta_data_{k}.json``)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
from typing import Any, Dict

_PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'tensorflow-datasets', 'numpy')


def _version(package: str) -> str:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return 'not installed'


# Instruction-set extensions that change which floating-point kernels run (vector width,
# fused multiply-add, low-precision dot products, matrix units): two CPUs that differ in
# one of these can round a training run differently.
NUMERIC_CPU_FLAGS = (
  'sse4_2', 'avx', 'f16c', 'fma', 'avx2', 'avx_vnni',
  'avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16',
  'amx_tile', 'amx_bf16', 'amx_int8',
  'asimd', 'sve', 'sve2', 'bf16', 'i8mm',
)  # fmt: skip
# XLA's CPU instruction-set levels (--xla_cpu_max_isa), highest first, with the
# /proc/cpuinfo flag each one needs.
_XLA_ISA_LEVELS = (
  ('AMX', 'amx_tile'),
  ('AVX512_BF16', 'avx512_bf16'),
  ('AVX512_VNNI', 'avx512_vnni'),
  ('AVX512', 'avx512f'),
  ('AVX2', 'avx2'),
  ('AVX', 'avx'),
  ('SSE4_2', 'sse4_2'),
)


def _cpuinfo() -> Dict[str, str]:
  """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
  fields: Dict[str, str] = {}
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if not line.strip():
          break
        key, _, value = line.partition(':')
        fields[key.strip()] = value.strip()
  except OSError:
    pass
  return fields


def cpu_fingerprint() -> Dict[str, Any]:
  """Vendor, family/model/stepping and the numerics-relevant instruction-set flags."""
  info = _cpuinfo()
  flags = set((info.get('flags') or info.get('Features') or '').split())
  return {
    'cpu.model': info.get('model name') or platform.processor() or 'unknown',
    'cpu.vendor': info.get('vendor_id') or info.get('CPU implementer') or platform.machine(),
    'cpu.family_model_stepping': '/'.join(
      info.get(k, '?') for k in ('cpu family', 'model', 'stepping')
    )
    if 'cpu family' in info
    else '/'.join(info.get(k, '?') for k in ('CPU architecture', 'CPU part', 'CPU revision')),
    'cpu.numeric_flags': ' '.join(f for f in NUMERIC_CPU_FLAGS if f in flags),
    'cpu.count': os.cpu_count(),
    'xla.cpu_target': xla_cpu_target(flags, os.environ.get('XLA_FLAGS', '')),
    'xla.flags': os.environ.get('XLA_FLAGS', ''),
  }


def xla_cpu_target(cpu_flags: set, xla_flags: str) -> str:
  """The instruction set XLA's CPU code generation targets on this host.

  XLA compiles for the host's best level unless ``--xla_cpu_max_isa`` caps it.
  """
  host = next((level for level, flag in _XLA_ISA_LEVELS if flag in cpu_flags), platform.machine())
  cap = next(
    (f.split('=', 1)[1] for f in xla_flags.split() if f.startswith('--xla_cpu_max_isa=')), None
  )
  if cap is None:
    return f'{host} (host)'
  levels = [level for level, _ in _XLA_ISA_LEVELS]
  if host in levels and cap.upper() in levels:
    effective = levels[max(levels.index(host), levels.index(cap.upper()))]
  else:
    effective = cap
  return f'{effective} (host {host}, --xla_cpu_max_isa={cap})'


def accelerator_driver(platform_name: str) -> str:
  """The accelerator's driver or runtime version ('none' on CPU)."""
  if platform_name == 'gpu' or platform_name == 'cuda':
    try:
      with open('/proc/driver/nvidia/version') as f:
        return f.readline().strip()
    except OSError:
      return 'unknown'
  if platform_name == 'tpu':
    return 'libtpu ' + _version('libtpu')
  return 'none'


def git_commit(path: str) -> str:
  """The commit of the git checkout holding ``path`` ('unknown' outside git)."""
  try:
    out = subprocess.run(
      ['git', 'rev-parse', 'HEAD'], cwd=path, capture_output=True, text=True, timeout=10, check=True
    )
    dirty = subprocess.run(
      ['git', 'status', '--porcelain', '--untracked-files=no'],
      cwd=path,
      capture_output=True,
      text=True,
      timeout=10,
    )
    return out.stdout.strip() + ('-dirty' if dirty.stdout.strip() else '')
  except (OSError, subprocess.SubprocessError):
    return 'unknown'


def file_sha256(path: str) -> str:
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


# The images of docker/ bake a JSON file (flavor, lock file hash, source commit) at build time
# and name it in this variable; the run-time variables below say what only the host knows.
IMAGE_INFO_VARIABLE = 'ALGOPERF_LIKE_IMAGE_INFO'
IMAGE_REF_VARIABLE = 'ALGOPERF_LIKE_IMAGE_REF'  # e.g. ghcr.io/org/algoperf-like:cpu
IMAGE_DIGEST_VARIABLE = 'ALGOPERF_LIKE_IMAGE_DIGEST'  # e.g. sha256:... (docker inspect)
# Apptainer and Singularity set these to the image file inside a container.
_APPTAINER_VARIABLES = ('APPTAINER_CONTAINER', 'SINGULARITY_CONTAINER')


def image_fingerprint(environ=None) -> Dict[str, Any]:
  """``image.*`` keys when running in one of the project's images (none outside one).

  An image cannot know its own digest (the digest covers the image, this file included), so
  ``image.digest`` and ``image.ref`` are recorded only when whoever starts the container
  passes them (``-e ALGOPERF_LIKE_IMAGE_DIGEST=...``); under Apptainer the image file's path
  is the reference. ``image.lock_sha256`` is the SHA-256 of the ``constraints.txt`` the image
  installed from, computed at build time.
  """
  environ = os.environ if environ is None else environ
  info: Dict[str, Any] = {}
  path = environ.get(IMAGE_INFO_VARIABLE)
  if path:
    try:
      with open(path) as f:
        info.update({k: v for k, v in json.load(f).items() if k.startswith('image.')})
    except (OSError, ValueError) as e:
      info['image.info_error'] = f'{path}: {e}'
  ref = environ.get(IMAGE_REF_VARIABLE) or next(
    (environ[v] for v in _APPTAINER_VARIABLES if environ.get(v)), None
  )
  if ref:
    info['image.ref'] = ref
  if environ.get(IMAGE_DIGEST_VARIABLE):
    info['image.digest'] = environ[IMAGE_DIGEST_VARIABLE]
  return info


def hardware_class(meta: Dict[str, Any]) -> str | None:
  """The class of machine a trial ran on, from its ``meta_data`` record; None if unknown.

  Trials of one class are comparable by time: the accelerator's kind and count, or for
  a CPU run the CPU model and its core count. This project's records give
  ``device.*`` and ``cpu.*`` keys; AlgoPerf's own give ``gpu_model_name``/``gpu_count``
  and ``cpu_model_name``/``cpu_count``. Anything else (no such keys): None.
  """
  if meta.get('hardware_class'):
    return str(meta['hardware_class'])
  platform_name = meta.get('device.platform')
  if platform_name == 'cpu' and meta.get('cpu.model'):
    return f'cpu: {meta["cpu.model"]} x{meta.get("cpu.count", "?")}'
  if platform_name and meta.get('device.kind'):
    return f'{platform_name}: {meta["device.kind"]} x{meta.get("device.count", "?")}'
  if meta.get('gpu_model_name') and meta.get('gpu_count'):
    return f'gpu: {meta["gpu_model_name"]} x{meta["gpu_count"]}'
  return None


def fingerprint(submission_path: str | None = None) -> Dict[str, Any]:
  """Devices, library versions, CPU, host, harness commit and submission hash."""
  import jax

  devices = jax.devices()
  info: Dict[str, Any] = {
    'device.platform': devices[0].platform,
    'device.kind': devices[0].device_kind,
    'device.count': len(devices),
    'device.driver': accelerator_driver(devices[0].platform),
    **cpu_fingerprint(),
    'host.name': socket.gethostname(),
    'python.version': platform.python_version(),
    'harness.git_commit': git_commit(os.path.dirname(os.path.abspath(__file__))),
  }
  info.update({f'version.{p}': _version(p) for p in _PACKAGES})
  info.update(image_fingerprint())
  info['hardware_class'] = hardware_class(info)
  if submission_path and os.path.isfile(submission_path):
    info['submission.path'] = os.path.abspath(submission_path)
    info['submission.sha256'] = file_sha256(submission_path)
  return info
