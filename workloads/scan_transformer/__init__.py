"""SCAN-style command-to-action translation with a tiny transformer (CPU suite)."""
