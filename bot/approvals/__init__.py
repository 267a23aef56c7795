"""Promotion approvals: requests, votes, the compare-and-set that moves an alias once."""
