"""Real local servers standing in for the providers Tocsin talks to: each starts on loopback,
is bounded in time, and stops by itself (use it as a context manager)."""
