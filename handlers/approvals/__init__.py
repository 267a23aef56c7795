"""handlers/approvals."""
