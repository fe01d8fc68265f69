"""Workloads: one folder each (installed as ``algoperf_like.workloads``; see setup.py).

The workloads are registered by name in :mod:`algoperf_like.registry`. This package
also holds their targets as data (``targets.json``, ``target_setting/``), read with
``importlib.resources``; it imports nothing, so reading that data loads no workload code.
"""
