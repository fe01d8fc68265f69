"""AlgoPerf's ``logger_utils``: the metrics logger a workload carries, JSON helpers."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from algoperf_like.trial_logs import MetricLogger  # noqa: F401
from algoperf_like.trial_logs import write_json as _write_json


def makedir(dir_name: str, exist_ok: bool = True) -> None:
  """Create ``dir_name`` and its parents."""
  os.makedirs(dir_name, exist_ok=exist_ok)


def write_json(name: str, log_dict: Any, indent: int = 2) -> None:
  """Write ``log_dict`` as JSON to the file ``name``."""
  del indent
  _write_json(name, log_dict)


def write_hparams(hparams: Any, tuning_dir: str) -> Any:
  """Write ``hparams`` (a namedtuple or dict) to ``tuning_dir/hparams.json``, unless the
  file exists; return the hyperparameters of the file when it does."""
  path = os.path.join(tuning_dir, 'hparams.json')
  if os.path.exists(path):
    with open(path) as f:
      values = json.load(f)
    from algoperf_like.search_space import make_hyperparameters

    return make_hyperparameters(values)
  makedir(tuning_dir)
  write_json(path, hparams._asdict() if hasattr(hparams, '_asdict') else dict(hparams))
  return hparams


def get_log_dir(
  experiment_dir: str, workload: str, framework: str, experiment_name: Optional[str], *_, **__
) -> str:
  """AlgoPerf's layout: ``experiment_dir/experiment_name/{workload}_{framework}``."""
  return os.path.join(
    os.path.expanduser(experiment_dir), experiment_name or '', f'{workload}_{framework}'
  )
