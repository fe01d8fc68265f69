"""ImageNet ResNet-50 (AlgoPerf's ``imagenet_resnet`` and its variants) and the shared ImageNet data."""
