"""Multi-label motif detection on random small graphs (an ogbg stand-in, CPU suite)."""
