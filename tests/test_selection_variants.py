"""The data-selection variants of mnist1d corrupt exactly what they say, only in training."""

import numpy as np

from algoperf_like import registry
from algoperf_like.workloads.common import tfds_data
from algoperf_like.workloads.mnist1d import dataset
from algoperf_like.workloads.mnist1d import selection_variants as sv


def _train_split():
  rng = np.random.RandomState(0)
  labels = np.repeat(np.arange(10), 1000).astype(np.int64)
  rng.shuffle(labels)
  inputs = rng.normal(size=(len(labels), dataset.SEQUENCE_LENGTH)).astype(np.float32)
  return inputs, labels


def test_label_noise_changes_the_stated_fraction_to_other_classes():
  inputs, labels = _train_split()
  noisy_inputs, noisy = sv.label_noise((inputs, labels), fraction=0.3, seed=1)
  changed = noisy != labels
  assert changed.sum() == 3000  # Every drawn example moved to a *different* class.
  assert np.array_equal(noisy_inputs, inputs)
  assert set(np.unique(noisy)) == set(range(10))
  again = sv.label_noise((inputs, labels), fraction=0.3, seed=1)[1]
  assert np.array_equal(again, noisy)  # Deterministic from the seed.


def test_class_imbalance_keeps_a_geometric_tail():
  inputs, labels = _train_split()
  kept_inputs, kept = sv.class_imbalance((inputs, labels), largest_class=980, ratio=0.05)
  counts = np.bincount(kept, minlength=10)
  assert counts[0] == 980 and counts[9] == 49
  assert np.all(np.diff(counts) < 0)
  assert counts.tolist() == sv.class_counts(980, 0.05).tolist()
  # The first n_k examples of each class, in stored order.
  first = np.flatnonzero(labels == 9)[:49]
  assert np.array_equal(kept_inputs[kept == 9], inputs[first])


def test_near_duplicates_are_jittered_copies():
  inputs, labels = _train_split()
  dup_inputs, dup_labels = sv.near_duplicates(
    (inputs, labels), unique=200, copies=5, jitter=0.1, seed=2
  )
  assert dup_inputs.shape == (1000, dataset.SEQUENCE_LENGTH) and dup_inputs.dtype == np.float32
  # Every example is within a few jitter widths of one of the 200 originals, with its label.
  distance = np.linalg.norm(dup_inputs[:, None, :] - inputs[None, :200, :], axis=-1)
  nearest = distance.argmin(axis=1)
  assert np.all(distance.min(axis=1) < 0.1 * np.sqrt(dataset.SEQUENCE_LENGTH) * 2)
  assert np.array_equal(dup_labels, labels[nearest])
  assert np.all(np.bincount(nearest, minlength=200) == 5)


def test_variants_share_the_clean_evaluation_splits(data_dir):
  clean = {
    split: tfds_data.load_split(dataset.Mnist1d, split, data_dir)
    for split in ('validation', 'test')
  }
  for name in registry.SUITES['data_selection']:
    workload = registry.get_workload(name, data_dir)
    for split, arrays in clean.items():
      assert tfds_data.fingerprint(workload._arrays(split, data_dir)) == tfds_data.fingerprint(
        arrays
      )
    train = workload._arrays('train', data_dir)
    assert len(train['targets']) == workload.num_train_examples
