"""handlers/reports."""
