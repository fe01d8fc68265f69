"""Generic conformance of every registered workload (data, model, loss, eval)."""

import jax
import numpy as np
import pytest

from algoperf_like import registry, spec
from algoperf_like.workloads.common import tfds_data

# The CPU suite's workloads (full-scale ones read prepared data: their own tests).
CPU_WORKLOADS = [n for n in registry.workload_names() if n not in registry.FULL_SCALE]


@pytest.fixture(scope='module', params=CPU_WORKLOADS)
def workload(request, data_dir):
  return registry.get_workload(request.param, data_dir)


def test_dataset_fingerprints_are_declared_and_checked(workload, data_dir):
  fingerprints = workload.builder_cls.FINGERPRINTS
  for split in ('train', 'validation', 'test'):
    arrays = tfds_data.load_split(workload.builder_cls, split, data_dir)
    assert tfds_data.fingerprint(arrays) == fingerprints[split]
    assert np.array_equal(arrays['example_id'], np.arange(len(arrays['example_id'])))


def test_fingerprint_mismatch_is_an_error(monkeypatch, workload, tmp_path, data_dir):
  monkeypatch.setattr(workload.builder_cls, 'FINGERPRINTS', {'validation': '0' * 64})
  monkeypatch.setattr(tfds_data, '_CACHE', {})
  with pytest.raises(tfds_data.DatasetMismatchError, match='does not match its fingerprint'):
    tfds_data.load_split(workload.builder_cls, 'validation', data_dir)


def test_model_loss_and_eval_follow_the_api(workload):
  params, model_state = workload.init_model_fn(jax.random.PRNGKey(0))
  assert jax.tree.structure(workload.param_shapes) == jax.tree.structure(
    jax.tree.map(lambda x: 0, params)
  )
  assert all(
    isinstance(t, spec.ParameterType) for t in jax.tree.leaves(workload.model_params_types)
  )
  batch = next(workload._build_input_queue(jax.random.PRNGKey(1), 'train', None, 8))
  assert {'inputs', 'targets', 'weights', 'example_id'} <= set(batch)
  logits, _ = workload.model_fn(
    params,
    batch,
    model_state,
    spec.ForwardPassMode.TRAIN,
    jax.random.PRNGKey(2),
    update_batch_norm=True,
  )
  out = workload.loss_fn(batch['targets'], logits, batch['weights'])
  assert out['per_example'].shape == (8,)
  assert float(out['n_valid_examples']) == 8
  assert np.isclose(float(out['summed']), float(out['per_example'].sum()), rtol=1e-5)
  metrics = workload.eval_model(
    workload.eval_batch_size, params, model_state, jax.random.PRNGKey(3), None, None, 0
  )
  for split in ('train', 'validation', 'test'):
    assert np.isfinite(metrics[f'{split}/loss'])
    assert f'{split}/{workload.target_metric_name}' in metrics
  assert metrics['validation/num_examples'] == workload.num_validation_examples
