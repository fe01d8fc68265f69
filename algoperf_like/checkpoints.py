"""Save and restore everything a trial needs to continue (orbax-checkpoint).

A checkpoint holds the array leaves of the parameters, optimizer state and
model state (orbax), plus a JSON record of the loop: global step, accumulated
times, time to target, evaluation history, preemption count and the input
pipeline's position. Random keys need no saving: every step's keys derive
from the trial seed and the step number.

Submission state may hold things that are not arrays (an optax update
function, say). Those are rebuilt by the ordinary set-up, which runs again
on resume; the saved leaves then replace the array leaves of that freshly
built state, in order. Only the latest checkpoint is kept, unless ``keep_all``
(AlgoPerf's ``--save_intermediate_checkpoints``): then every ``step_N/`` stays.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Optional, Tuple

import jax
import numpy as np

from algoperf_like import trial_logs

_NUMBER = (int, float, np.number, np.bool_)
STATE_FILE = 'checkpoint.json'


def _is_saved(leaf: Any) -> bool:
  return isinstance(leaf, (jax.Array, np.ndarray) + _NUMBER) and not isinstance(leaf, bool)


def array_leaves(tree: Any) -> list:
  """The leaves of ``tree`` that a checkpoint stores (arrays and numbers), in order."""
  return [leaf for leaf in jax.tree.leaves(tree) if _is_saved(leaf)]


def replace_array_leaves(template: Any, values: list) -> Any:
  """``template`` with its stored leaves replaced by ``values`` (same order)."""
  leaves, treedef = jax.tree.flatten(template)
  values = iter(values)
  out = []
  for leaf in leaves:
    if not _is_saved(leaf):
      out.append(leaf)
      continue
    value = next(values)
    out.append(type(leaf)(np.asarray(value)) if isinstance(leaf, _NUMBER) else value)
  if next(values, None) is not None:
    raise ValueError('checkpoint has more leaves than the freshly initialised state')
  return treedef.unflatten(out)


class TrialCheckpointer:
  """Checkpoints of one trial, in ``{log_dir}/checkpoints``."""

  def __init__(self, log_dir: str, keep_all: bool = False) -> None:
    self.directory = os.path.join(os.path.abspath(log_dir), 'checkpoints')
    self.keep_all = keep_all

  def save(self, state: Tuple[Any, Any, Any], record: Dict[str, Any]) -> None:
    """Write ``(optimizer_state, params, model_state)`` and the loop ``record``.

    The JSON record is written last, after orbax has committed the arrays, and
    names the array directory: a kill at any point leaves the previous
    checkpoint intact and referenced.
    """
    import orbax.checkpoint as ocp

    step = record['global_step']
    name = f'step_{step}'
    path = os.path.join(self.directory, name)
    if os.path.exists(path):
      shutil.rmtree(path)
    leaves = {
      str(i): np.asarray(x) if isinstance(x, _NUMBER) else x
      for i, x in enumerate(array_leaves(state))
    }
    ocp.PyTreeCheckpointer().save(path, {'leaves': leaves})
    previous = self.latest()
    trial_logs.write_json(os.path.join(self.directory, STATE_FILE), dict(record, arrays=name))
    if previous and previous['arrays'] != name and not self.keep_all:
      shutil.rmtree(os.path.join(self.directory, previous['arrays']), ignore_errors=True)

  def latest(self) -> Optional[Dict[str, Any]]:
    """The record of the latest complete checkpoint, or None."""
    try:
      with open(os.path.join(self.directory, STATE_FILE)) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def restore(self, template: Tuple[Any, Any, Any]) -> Tuple[Tuple[Any, Any, Any], Dict[str, Any]]:
    """``(state, record)`` of the latest checkpoint, shaped like ``template``."""
    import orbax.checkpoint as ocp

    record = self.latest()
    if record is None:
      raise FileNotFoundError(f'no checkpoint in {self.directory}')
    target = {
      'leaves': {
        str(i): np.asarray(x) if isinstance(x, _NUMBER) else x
        for i, x in enumerate(array_leaves(template))
      }
    }
    restored = ocp.PyTreeCheckpointer().restore(
      os.path.join(self.directory, record['arrays']),
      item=target,
      restore_args=ocp.checkpoint_utils.construct_restore_args(target),
    )
    values = [restored['leaves'][str(i)] for i in range(len(target['leaves']))]
    return replace_array_leaves(template, values), record
