"""MLflow: the registry gateway, and the registry events (webhooks, reconciliation)."""
