"""AlgoPerf's ``cifar`` workload: ResNet-18 with a CIFAR stem on CIFAR-10 (TFDS ``cifar10:3.0.2``)."""
