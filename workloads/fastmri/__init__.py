"""AlgoPerf's ``fastmri`` workloads: a U-Net reconstructs single-coil knee MRI slices."""
