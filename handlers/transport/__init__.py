"""handlers/transport."""
