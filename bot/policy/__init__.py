"""The policy file (who approves what, gates, monitors) and the rules built on it."""
