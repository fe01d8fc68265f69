"""A fingerprint of the hardware and software a trial ran on (``meta_data_{k}.json``)."""

from __future__ import annotations

import hashlib
import importlib.metadata
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


def cpu_model() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'


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


def fingerprint(submission_path: str | None = None) -> Dict[str, Any]:
  """Devices, library versions, CPU, host, harness commit and submission hash."""
  import jax

  devices = jax.devices()
  info: Dict[str, Any] = {
    'device.platform': devices[0].platform,
    'device.kind': devices[0].device_kind,
    'device.count': len(devices),
    'cpu.model': cpu_model(),
    'cpu.count': os.cpu_count(),
    'host.name': socket.gethostname(),
    'python.version': platform.python_version(),
    'harness.git_commit': git_commit(os.path.dirname(os.path.abspath(__file__))),
  }
  info.update({f'version.{p}': _version(p) for p in _PACKAGES})
  if submission_path and os.path.isfile(submission_path):
    info['submission.path'] = os.path.abspath(submission_path)
    info['submission.sha256'] = file_sha256(submission_path)
  return info
