"""AlgoPerf's ``ogbg`` workloads: a graph network on OGB-molpcba (TFDS ``ogbg_molpcba:0.1.3``)."""
