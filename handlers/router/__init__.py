"""handlers/router."""
