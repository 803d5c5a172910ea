"""The built-in demo: a loopback server replaying a live story."""
