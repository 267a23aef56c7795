"""handlers/shell."""
