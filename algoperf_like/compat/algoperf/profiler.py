"""AlgoPerf's ``profiler``: ``Profiler`` (time per named action) and ``PassThroughProfiler``."""

from __future__ import annotations

from algoperf_like.profiler import PassThroughProfiler, Profiler  # noqa: F401
