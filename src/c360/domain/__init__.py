"""The domain core: plain Python with no I/O (no files, network, databases or engines)."""
