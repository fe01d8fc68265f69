"""The registry: every workload, suite and baseline submission the harness knows, by name.

The runner, sweep, checker, suite, target setting and command line reach workloads and
baselines only through this module, and no other list of their names exists. Entries
name a module and an attribute (``'module:Class'``), so importing the registry imports
no workload code (and no JAX).

A workload of your own, without editing the package: put it in a module that registers
it when imported, and name that module on the command line with ``--workload_module``
(a dotted module name, or the path of a ``.py`` file)::

    # my_workloads.py
    from algoperf_like import registry, spec

    class MyWorkload(spec.Workload):
      ...

    registry.register_workload('my_workload', MyWorkload)

    $ algoperf-like run --workload_module=my_workloads.py --workload=my_workload ...

Every process that runs trials (a child process, a Slurm task) imports the same
modules first, so the name resolves there too.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

WorkloadFactory = Union[str, Callable[..., object]]  # 'module:attr', or called with data_dir.

_WL = 'algoperf_like.workloads'
# name -> factory. Variants are entries of their own, each with its own targets.
WORKLOADS: Dict[str, WorkloadFactory] = {
  'mnist1d': f'{_WL}.mnist1d.workload:Mnist1dWorkload',
  'mnist1d_gelu': f'{_WL}.mnist1d.workload:Mnist1dGeluWorkload',
  'mnist1d_label_noise': f'{_WL}.mnist1d.workload:Mnist1dLabelNoiseWorkload',
  'mnist1d_imbalanced': f'{_WL}.mnist1d.workload:Mnist1dImbalancedWorkload',
  'mnist1d_duplicates': f'{_WL}.mnist1d.workload:Mnist1dDuplicatesWorkload',
  'ogbg_motifs': f'{_WL}.ogbg_motifs.workload:OgbgMotifsWorkload',
  'ogbg_motifs_gelu': f'{_WL}.ogbg_motifs.workload:OgbgMotifsGeluWorkload',
  'criteo_synth': f'{_WL}.criteo_synth.workload:CriteoSynthWorkload',
  'criteo_synth_layernorm': f'{_WL}.criteo_synth.workload:CriteoSynthLayerNormWorkload',
  'fastmri1d': f'{_WL}.fastmri1d.workload:Fastmri1dWorkload',
  'fastmri1d_tanh': f'{_WL}.fastmri1d.workload:Fastmri1dTanhWorkload',
  'ctc_digits': f'{_WL}.ctc_digits.workload:CtcDigitsWorkload',
  'ctc_digits_gelu': f'{_WL}.ctc_digits.workload:CtcDigitsGeluWorkload',
  'scan_transformer': f'{_WL}.scan_transformer.workload:ScanTransformerWorkload',
  'scan_transformer_post_ln': f'{_WL}.scan_transformer.workload:ScanTransformerPostLnWorkload',
}

# AlgoPerf v0.6's own workloads at full scale (data from --data_dir; GPU/TPU hosts).
FULL_SCALE: Dict[str, WorkloadFactory] = {
  'wmt': f'{_WL}.wmt.workload:WmtWorkload',
  'wmt_attention_temp': f'{_WL}.wmt.workload:WmtWorkloadAttentionTemp',
  'wmt_glu_tanh': f'{_WL}.wmt.workload:WmtWorkloadGLUTanH',
  'wmt_post_ln': f'{_WL}.wmt.workload:WmtWorkloadPostLN',
  'imagenet_resnet': f'{_WL}.imagenet_resnet.workload:ImagenetResNetWorkload',
  'imagenet_resnet_gelu': f'{_WL}.imagenet_resnet.workload:ImagenetResNetGELUWorkload',
  'imagenet_resnet_large_bn_init': f'{_WL}.imagenet_resnet.workload:ImagenetResNetLargeBNScaleWorkload',
  'imagenet_resnet_silu': f'{_WL}.imagenet_resnet.workload:ImagenetResNetSiLUWorkload',
  'imagenet_vit': f'{_WL}.imagenet_vit.workload:ImagenetVitWorkload',
  'imagenet_vit_glu': f'{_WL}.imagenet_vit.workload:ImagenetVitGluWorkload',
  'imagenet_vit_map': f'{_WL}.imagenet_vit.workload:ImagenetVitMapWorkload',
  'imagenet_vit_post_ln': f'{_WL}.imagenet_vit.workload:ImagenetVitPostLNWorkload',
  'ogbg': f'{_WL}.ogbg.workload:OgbgWorkload',
  'ogbg_gelu': f'{_WL}.ogbg.workload:OgbgGeluWorkload',
  'ogbg_model_size': f'{_WL}.ogbg.workload:OgbgModelSizeWorkload',
  'ogbg_silu': f'{_WL}.ogbg.workload:OgbgSiluWorkload',
  'criteo1tb': f'{_WL}.criteo1tb.workload:Criteo1TbDlrmSmallWorkload',
  'criteo1tb_embed_init': f'{_WL}.criteo1tb.workload:Criteo1TbDlrmSmallEmbedInitWorkload',
  'criteo1tb_layernorm': f'{_WL}.criteo1tb.workload:Criteo1TbDlrmSmallLayerNormWorkload',
  'criteo1tb_resnet': f'{_WL}.criteo1tb.workload:Criteo1TbDlrmSmallResNetWorkload',
  'criteo1tb_test': f'{_WL}.criteo1tb.workload:Criteo1TbDlrmSmallTestWorkload',
  'cifar': f'{_WL}.cifar.workload:CifarWorkload',
  'fastmri': f'{_WL}.fastmri.workload:FastMRIWorkload',
  'fastmri_layernorm': f'{_WL}.fastmri.workload:FastMRILayerNormWorkload',
  'fastmri_model_size': f'{_WL}.fastmri.workload:FastMRIModelSizeWorkload',
  'fastmri_tanh': f'{_WL}.fastmri.workload:FastMRITanhWorkload',
  'mnist': f'{_WL}.mnist.workload:MnistWorkload',
  'librispeech_conformer': f'{_WL}.librispeech_conformer.workload:LibriSpeechConformerWorkload',
  'librispeech_conformer_attention_temperature': (
    f'{_WL}.librispeech_conformer.workload:LibriSpeechConformerAttentionTemperatureWorkload'
  ),
  'librispeech_conformer_gelu': f'{_WL}.librispeech_conformer.workload:LibriSpeechConformerGeluWorkload',
  'librispeech_conformer_layernorm': f'{_WL}.librispeech_conformer.workload:LibriSpeechConformerLayerNormWorkload',
  'librispeech_deepspeech': f'{_WL}.librispeech_deepspeech.workload:LibriSpeechDeepSpeechWorkload',
  'librispeech_deepspeech_no_resnet': f'{_WL}.librispeech_deepspeech.workload:LibriSpeechDeepSpeechNoResNetWorkload',
  'librispeech_deepspeech_norm_and_spec_aug': (
    f'{_WL}.librispeech_deepspeech.workload:LibriSpeechDeepSpeechNormAndSpecAugWorkload'
  ),
  'librispeech_deepspeech_tanh': f'{_WL}.librispeech_deepspeech.workload:LibriSpeechDeepSpeechTanhWorkload',
}
WORKLOADS.update(FULL_SCALE)

# Datasets that `algoperf-like datasets prepare` knows: name -> 'module:function' (see
# algoperf_like.datasets), and the full-scale workloads that read each.
DATASETS: Dict[str, str] = {
  'wmt': f'{_WL}.wmt.prepare:prepare',
  'imagenet': f'{_WL}.imagenet_resnet.prepare:prepare',
  'ogbg': f'{_WL}.ogbg.prepare:prepare',
  'criteo1tb': f'{_WL}.criteo1tb.prepare:prepare',
  'cifar': f'{_WL}.cifar.prepare:prepare',
  'fastmri': f'{_WL}.fastmri.prepare:prepare',
  'mnist': f'{_WL}.mnist.prepare:prepare',
  'librispeech': f'{_WL}.librispeech.prepare:prepare',
}

# Named groups of workloads, accepted wherever a workload name is.
SUITES: Dict[str, List[str]] = {
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
  # The checker's smoke run: the smallest workloads (seconds to set up, shared data), and a
  # base/variant pair, as AlgoPerf's held-out variants are, so that get_batch_size and the
  # training step meet a second workload name and model.
  'smoke': ['mnist1d', 'mnist1d_gelu'],
  # make demo (suite --quick): three base workloads of different families (graphs, click
  # logs, sequence to sequence) whose trials are the shortest, so that the four baselines'
  # leaderboard comes within 5 minutes on a 2-core machine.
  'demo': ['ogbg_motifs', 'criteo_synth', 'scan_transformer'],
  # The noise study's default (algoperf-like noise, make noise-report): the two cheapest
  # base workloads, so that seeds x repeats of several submissions fit in minutes.
  'noise': ['mnist1d', 'criteo_synth'],
  # AlgoPerf v0.6's workloads at full scale, base workloads and variants.
  'algoperf_v06': sorted(FULL_SCALE),
}
DEFAULT_SUITE = 'cpu_qualification'  # What the suite command runs.

# Baseline submissions: name -> the package holding its submission.py (and, for external
# tuning, its tuning_search_space.json).
_SUB = 'algoperf_like.submissions'
SUBMISSIONS: Dict[str, str] = {
  name: f'{_SUB}.{name}'
  for name in (
    'adamw',
    'momentum',
    'nadamw',
    'nadamw_self_tuning',
    'nesterov',
    'online_batch_selection',
    'rs2',
    'selective_backprop',
    'template',
    'uniform',
  )
}
# Named groups of baselines, accepted wherever a list of baseline names is.
SUBMISSION_GROUPS: Dict[str, Tuple[str, ...]] = {
  # AlgoPerf's target-setting algorithms; the suite command runs them by default.
  'target_setting': ('adamw', 'nadamw', 'nesterov', 'momentum'),
  'data_selection': ('uniform', 'rs2', 'online_batch_selection', 'selective_backprop'),
}
DEFAULT_SUBMISSIONS = 'target_setting'

SUBMISSION_FILE = 'submission.py'
SEARCH_SPACE_FILE = 'tuning_search_space.json'


class UnknownWorkloadError(KeyError):
  """A workload or suite name that is not registered (one-line message)."""

  def __str__(self):
    return self.args[0]


class UnknownSubmissionError(KeyError):
  """A baseline name that is not registered: ``(message, name)``."""

  def __str__(self):
    return self.args[0]


# ----- Workloads and suites. -----
def register_workload(name: str, factory: WorkloadFactory, *, replace: bool = False) -> None:
  """Register a workload under ``name``.

  Args:
    name: the name that ``--workload`` and the logs use.
    factory: a ``spec.Workload`` subclass (or any callable) called as
      ``factory(data_dir=...)``, or ``'module:attr'`` naming one.
    replace: allow replacing an existing entry (otherwise a name collision is an error,
      so that a plug-in cannot shadow a built-in workload by accident).
  """
  if name in WORKLOADS and not replace and not _same(WORKLOADS[name], factory):
    raise ValueError(f'workload {name!r} is already registered ({WORKLOADS[name]!r})')
  if name in SUITES:
    raise ValueError(f'{name!r} is the name of a suite')
  WORKLOADS[name] = factory


def _same(a: WorkloadFactory, b: WorkloadFactory) -> bool:
  """The same factory, also when one file was imported under two module names."""
  if a == b:
    return True
  try:
    return a.__qualname__ == b.__qualname__ and inspect.getsourcefile(a) == inspect.getsourcefile(b)
  except (AttributeError, TypeError):
    return False


def register_suite(name: str, workloads: Sequence[str], *, replace: bool = False) -> None:
  """Register a named group of registered workloads."""
  if isinstance(workloads, str):
    raise TypeError('workloads must be a list of names, not a string')
  unknown = [w for w in workloads if w not in WORKLOADS]
  if unknown:
    raise UnknownWorkloadError(f'suite {name!r}: unknown workloads {", ".join(unknown)}')
  if name in SUITES and not replace and list(SUITES[name]) != list(workloads):
    raise ValueError(f'suite {name!r} is already registered')
  if name in WORKLOADS:
    raise ValueError(f'{name!r} is the name of a workload')
  SUITES[name] = list(workloads)


def get_dataset_preparer(name: str) -> Callable[..., str]:
  """The ``prepare(data_dir, raw_dir, overwrite)`` function of a registered dataset."""
  return _resolve(DATASETS[name])


def dataset_workloads(dataset: str) -> List[str]:
  """The registered workloads whose ``dataset`` attribute is ``dataset``."""
  out = []
  for name, factory in sorted(FULL_SCALE.items()):
    cls = _resolve(factory) if isinstance(factory, str) else factory
    if getattr(cls, 'dataset', None) == dataset:
      out.append(name)
  return out


def workload_names() -> List[str]:
  return sorted(WORKLOADS)


def suite_names() -> List[str]:
  return sorted(SUITES)


def _unknown_workload(name: str) -> UnknownWorkloadError:
  return UnknownWorkloadError(
    f'unknown workload {name!r} (known: {", ".join(workload_names())}; '
    f'suites: {", ".join(suite_names())})'
  )


def get_workload(name: str, data_dir: Optional[str] = None):
  """Instantiate the workload registered under ``name``."""
  if name not in WORKLOADS:
    raise _unknown_workload(name)
  factory = WORKLOADS[name]
  if isinstance(factory, str):
    factory = _resolve(factory)
  return factory(data_dir=data_dir)


def expand_workloads(names: Union[str, Iterable[str]]) -> List[str]:
  """Workload names from names and suite names (a list, or one comma-separated string).

  Duplicates are dropped, the first occurrence keeps its place.

  Raises:
    UnknownWorkloadError: a name is neither a workload nor a suite.
  """
  items = names.split(',') if isinstance(names, str) else list(names)
  out: List[str] = []
  for item in (i.strip() for i in items):
    if not item:
      continue
    for name in SUITES.get(item, [item]):
      if name not in WORKLOADS:
        raise _unknown_workload(name)
      if name not in out:
        out.append(name)
  return out


def _resolve(target: str):
  module_name, _, attribute = target.partition(':')
  return getattr(importlib.import_module(module_name), attribute)


def import_workload_module(name_or_path: str) -> ModuleType:
  """Import a module that registers workloads: a dotted module name or a ``.py`` path.

  A file is imported once per process under a name derived from its absolute path.
  """
  if name_or_path.endswith('.py') or os.sep in name_or_path:
    path = os.path.abspath(os.path.expanduser(name_or_path))
    if not os.path.isfile(path):
      raise FileNotFoundError(f'{name_or_path}: no such file')
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    module_name = f'_algoperf_like_workloads_{digest}'
    if module_name in sys.modules:
      return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
      spec.loader.exec_module(module)
    except BaseException:
      del sys.modules[module_name]
      raise
    return module
  return importlib.import_module(name_or_path)


def portable_module_name(name_or_path: str) -> str:
  """The form of a ``--workload_module`` value that another process can import (paths absolute)."""
  if name_or_path.endswith('.py') or os.sep in name_or_path:
    return os.path.abspath(os.path.expanduser(name_or_path))
  return name_or_path


# ----- Baseline submissions. -----
def submission_names() -> List[str]:
  return sorted(SUBMISSIONS)


def submission_group(name: str) -> Tuple[str, ...]:
  return SUBMISSION_GROUPS[name]


def expand_submissions(names: Union[str, Iterable[str]]) -> List[str]:
  """Baseline names from names and group names (a list, or one comma-separated string).

  Raises:
    UnknownSubmissionError: a name is neither a baseline nor a group.
  """
  items = names.split(',') if isinstance(names, str) else list(names)
  out: List[str] = []
  for item in (i.strip() for i in items):
    if not item:
      continue
    for name in SUBMISSION_GROUPS.get(item, (item,)):
      if name not in SUBMISSIONS:
        raise UnknownSubmissionError(
          f'unknown baseline {name!r} (known: {", ".join(submission_names())}; '
          f'groups: {", ".join(sorted(SUBMISSION_GROUPS))})',
          name,
        )
      if name not in out:
        out.append(name)
  return out


def submission_folder(name: str) -> str:
  """The folder of the baseline ``name`` on this file system (package data, read in place)."""
  if name not in SUBMISSIONS:
    raise UnknownSubmissionError(
      f'unknown baseline {name!r} (known: {", ".join(submission_names())})', name
    )
  return str(importlib.resources.files(SUBMISSIONS[name]))


def submission_path(name: str) -> str:
  """The ``submission.py`` of the baseline ``name``."""
  return os.path.join(submission_folder(name), SUBMISSION_FILE)


def search_space_path(name: str) -> str:
  """The ``tuning_search_space.json`` of the baseline ``name`` (it may not exist: self-tuning)."""
  return os.path.join(submission_folder(name), SEARCH_SPACE_FILE)


def resolve_submission(value: str) -> str:
  """The ``submission.py`` that ``value`` names: a file, a folder holding one, or a baseline.

  A path that exists wins over a baseline of the same name.

  Raises:
    FileNotFoundError: none of those (the message names the baselines).
  """
  path = os.path.expanduser(value)
  if os.path.isfile(path):
    return path
  if os.path.isdir(path) and os.path.isfile(os.path.join(path, SUBMISSION_FILE)):
    return os.path.join(path, SUBMISSION_FILE)
  if value in SUBMISSIONS:
    return submission_path(value)
  raise FileNotFoundError(
    f'{value}: file not found (nor a folder with a {SUBMISSION_FILE}, nor a baseline: '
    f'{", ".join(submission_names())})'
  )
