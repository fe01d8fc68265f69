"""AlgoPerf's ``logger_utils``: the metrics logger a workload carries."""

from __future__ import annotations

from algoperf_like.trial_logs import MetricLogger  # noqa: F401
