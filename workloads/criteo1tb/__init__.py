"""AlgoPerf's Criteo 1TB workloads: DLRM-small and its variants on the Criteo 1TB click logs."""
