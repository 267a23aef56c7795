"""Approval service and store."""
