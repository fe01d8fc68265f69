"""Pieces every workload shares: TFDS loading, numpy input pipelines, losses, parameter types."""
