"""MNIST-1D classification workload (CPU suite)."""
