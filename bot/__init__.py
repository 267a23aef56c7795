"""mlops-bot domain and infrastructure: approvals, audit, policy, MLflow, monitoring, storage.

No Slack library here (import-linter checks it); `bot.cli` is the composition root.
"""
