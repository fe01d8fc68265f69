"""AlgoPerf's ``workloads.workloads``: the base workload names and the variant mapping.

A submission asks ``get_base_workload_name`` to treat a variant like its base workload;
here the base of a workload is the AlgoPerf workload it stands for
(``algoperf_base_workload``: ``mnist1d`` -> ``mnist``), or, for AlgoPerf's own names,
the name up to the variant suffix.
"""

from __future__ import annotations


def _base_workloads():
  from algoperf_like.workloads import targets

  # AlgoPerf's base workloads are those its workloads declare as their base.
  return tuple(sorted({e['base_workload'] for e in targets.load_algoperf_workloads().values()}))


BASE_WORKLOADS = _base_workloads()


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
