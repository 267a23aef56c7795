"""bot/monitoring."""
