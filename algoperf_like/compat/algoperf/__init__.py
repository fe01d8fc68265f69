"""The ``algoperf`` package an AlgoPerf submission sees (see ``algoperf_like.compat``).

Its submodules re-export this harness's own: ``spec`` is ``algoperf_like.spec`` itself.
"""
