"""AlgoPerf's ``halton``: quasirandom search over a tuning search space."""

from __future__ import annotations

from algoperf_like.search_space import generate_search  # noqa: F401
