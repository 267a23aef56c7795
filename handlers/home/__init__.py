"""handlers/home."""
