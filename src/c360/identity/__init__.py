"""Identity resolution: the deterministic identity graph, probabilistic matching (Splink) and the profiles."""
