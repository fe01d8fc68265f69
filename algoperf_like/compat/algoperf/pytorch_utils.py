"""AlgoPerf's ``pytorch_utils`` as a JAX run sees it: no PyTorch, no DDP.

JAX submissions import ``pytorch_setup`` only to learn that they are not running
under PyTorch DDP; the PyTorch-only names raise a one-line error.
"""

from __future__ import annotations

from typing import Tuple

import jax


def pytorch_setup() -> Tuple[bool, int, str, int]:
  """``(use_pytorch_ddp, rank, device, n_gpus)``: never DDP here, rank 0, the JAX
  backend's name and its number of local devices."""
  return False, 0, jax.default_backend(), jax.local_device_count()


def _pytorch_only(name: str):
  def fail(*args, **kwargs):
    raise NotImplementedError(
      f'algoperf.pytorch_utils.{name}: PyTorch only (this harness runs JAX)'
    )

  fail.__name__ = name
  return fail


pytorch_init = _pytorch_only('pytorch_init')
sync_ddp_time = _pytorch_only('sync_ddp_time')
update_batch_norm_fn = _pytorch_only('update_batch_norm_fn')
