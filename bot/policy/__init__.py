"""bot/policy."""
