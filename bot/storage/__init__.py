"""bot/storage."""
