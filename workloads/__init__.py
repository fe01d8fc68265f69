"""Workloads: one folder each, found through an explicit registry.

``get_workload(name, data_dir)`` imports only the workload asked for, so
importing this package (as scoring does, for ``targets.json``) loads no JAX.
"""

from __future__ import annotations

import importlib

# name -> "module:class". Variants are separate entries with their own targets.
REGISTRY = {
    'mnist1d': 'workloads.mnist1d.workload:Mnist1dWorkload',
    'mnist1d_gelu': 'workloads.mnist1d.workload:Mnist1dGeluWorkload',
}


class UnknownWorkloadError(KeyError):
  def __str__(self):
    return self.args[0]


def workload_names() -> list[str]:
  return sorted(REGISTRY)


def get_workload(name: str, data_dir: str | None = None):
  """Instantiate the workload registered under ``name``."""
  if name not in REGISTRY:
    raise UnknownWorkloadError(
        f'unknown workload {name!r}; known workloads: {", ".join(workload_names())}')
  module_name, class_name = REGISTRY[name].split(':')
  cls = getattr(importlib.import_module(module_name), class_name)
  return cls(data_dir=data_dir)
