"""bot/registry."""
