"""Workloads: one folder each, found through an explicit registry.

``get_workload(name, data_dir)`` imports only the workload asked for, so
importing this package (as scoring does, for ``targets.json``) loads no JAX.
"""

from __future__ import annotations

import importlib

# name -> "module:class". Variants are separate entries with their own targets.
REGISTRY = {
  'mnist1d': 'algoperf_like.workloads.mnist1d.workload:Mnist1dWorkload',
  'mnist1d_gelu': 'algoperf_like.workloads.mnist1d.workload:Mnist1dGeluWorkload',
  'mnist1d_label_noise': 'algoperf_like.workloads.mnist1d.workload:Mnist1dLabelNoiseWorkload',
  'mnist1d_imbalanced': 'algoperf_like.workloads.mnist1d.workload:Mnist1dImbalancedWorkload',
  'mnist1d_duplicates': 'algoperf_like.workloads.mnist1d.workload:Mnist1dDuplicatesWorkload',
  'ogbg_motifs': 'algoperf_like.workloads.ogbg_motifs.workload:OgbgMotifsWorkload',
  'ogbg_motifs_gelu': 'algoperf_like.workloads.ogbg_motifs.workload:OgbgMotifsGeluWorkload',
  'criteo_synth': 'algoperf_like.workloads.criteo_synth.workload:CriteoSynthWorkload',
  'criteo_synth_layernorm': 'algoperf_like.workloads.criteo_synth.workload:CriteoSynthLayerNormWorkload',
  'fastmri1d': 'algoperf_like.workloads.fastmri1d.workload:Fastmri1dWorkload',
  'fastmri1d_tanh': 'algoperf_like.workloads.fastmri1d.workload:Fastmri1dTanhWorkload',
  'ctc_digits': 'algoperf_like.workloads.ctc_digits.workload:CtcDigitsWorkload',
  'ctc_digits_gelu': 'algoperf_like.workloads.ctc_digits.workload:CtcDigitsGeluWorkload',
  'scan_transformer': 'algoperf_like.workloads.scan_transformer.workload:ScanTransformerWorkload',
  'scan_transformer_post_ln': 'algoperf_like.workloads.scan_transformer.workload:ScanTransformerPostLnWorkload',
}


# Named groups of workloads, accepted wherever a workload name is.
SUITES = {
  'cpu_qualification': [
    'mnist1d',
    'ogbg_motifs',
    'criteo_synth',
    'fastmri1d',
    'ctc_digits',
    'scan_transformer',
  ],
  # Variants where the choice of training examples should change time-to-target.
  'data_selection': ['mnist1d_label_noise', 'mnist1d_imbalanced', 'mnist1d_duplicates'],
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
      f'unknown workload {name!r}; known workloads: {", ".join(workload_names())}'
    )
  module_name, class_name = REGISTRY[name].split(':')
  cls = getattr(importlib.import_module(module_name), class_name)
  return cls(data_dir=data_dir)
