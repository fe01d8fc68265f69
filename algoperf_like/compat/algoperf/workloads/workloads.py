"""AlgoPerf's ``workloads.workloads``: the base workload names and the variant mapping.

A submission asks ``get_base_workload_name`` to treat a variant like its base workload;
here the base of a workload is the AlgoPerf workload it stands for
(``algoperf_base_workload``: ``mnist1d`` -> ``mnist``), or, for AlgoPerf's own names,
the name up to the variant suffix.
"""

from __future__ import annotations

BASE_WORKLOADS = (
  'criteo1tb',
  'fastmri',
  'imagenet_resnet',
  'imagenet_vit',
  'librispeech_conformer',
  'librispeech_deepspeech',
  'ogbg',
  'wmt',
  'mnist',
  'cifar',
)


def get_base_workload_name(workload_name: str) -> str:
  """The base workload of ``workload_name`` (itself when it is one)."""
  from algoperf_like import registry

  if workload_name in registry.workload_names():
    base = getattr(registry.get_workload(workload_name), 'algoperf_base_workload', None)
    if base:
      return base
  for base in sorted(BASE_WORKLOADS, key=len, reverse=True):
    if workload_name == base or workload_name.startswith(base + '_'):
      return base
  return workload_name
