"""Use cases. Each takes the stores it works on as arguments; none builds its own."""
