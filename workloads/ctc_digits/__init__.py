"""LibriSpeech-like CTC workload (CPU suite): transcribe sequences of MNIST-1D digits."""
