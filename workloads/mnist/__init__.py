"""AlgoPerf's ``mnist`` workload: a sigmoid MLP on MNIST (TFDS ``mnist``)."""
