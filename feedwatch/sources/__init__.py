"""Source parsers: one module per source kind, pure functions from bytes to entries."""
