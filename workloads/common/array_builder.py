"""A TFDS builder for data generated offline as numpy arrays.

Subclasses give the features (``FEATURES``: a function returning the feature
dict, ``example_id`` excluded) and the data (``generate()``: ``{split:
{feature: array}}``, arrays aligned along axis 0); this base class writes
each example with its ``example_id`` (its index in the split).
"""

from __future__ import annotations

import inspect
from typing import Dict

import numpy as np
import tensorflow_datasets as tfds
from etils import epath


class ArrayBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base class of the CPU workloads' dataset builders."""

  HOMEPAGE = None

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    # TFDS looks for a builder's metadata folder by its module name, as if the import
    # name followed the folders; algoperf_like.workloads is the folder workloads/ (see
    # setup.py), so name the folder of the builder's file instead.
    cls.pkg_dir_path = epath.Path(inspect.getfile(cls)).parent

  def features(self) -> Dict[str, tfds.features.FeatureConnector]:
    raise NotImplementedError

  def generate(self) -> Dict[str, Dict[str, np.ndarray]]:
    raise NotImplementedError

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
      features=tfds.features.FeaturesDict({**self.features(), 'example_id': np.int64}),
      supervised_keys=('inputs', 'targets'),
      homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {name: self._generate_examples(arrays) for name, arrays in self.generate().items()}

  def _generate_examples(self, arrays):
    for i in range(len(next(iter(arrays.values())))):
      yield i, {**{k: v[i] for k, v in arrays.items()}, 'example_id': i}
