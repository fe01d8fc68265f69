"""AlgoPerf's ``workloads`` package, as far as submissions use it (``workloads.workloads``)."""
