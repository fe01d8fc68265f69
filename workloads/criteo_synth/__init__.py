"""Synthetic click-through prediction with a DLRM-style model (a criteo1tb stand-in, CPU suite)."""
