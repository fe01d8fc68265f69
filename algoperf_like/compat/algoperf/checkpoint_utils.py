"""AlgoPerf's ``checkpoint_utils``: the runner checkpoints here, not the submission.

The names exist so that a submission importing them loads; calling one raises a
one-line error (``--save_checkpoints`` makes the runner checkpoint every trial).
"""

from __future__ import annotations


def _runner_only(name: str):
  def fail(*args, **kwargs):
    raise NotImplementedError(
      f'algoperf.checkpoint_utils.{name}: the runner checkpoints trials (--save_checkpoints)'
    )

  fail.__name__ = name
  return fail


maybe_restore_checkpoint = _runner_only('maybe_restore_checkpoint')
save_checkpoint = _runner_only('save_checkpoint')
replicate_checkpoint = _runner_only('replicate_checkpoint')
