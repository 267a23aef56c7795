"""bot/approvals."""
