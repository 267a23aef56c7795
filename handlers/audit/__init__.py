"""The audit chain's anchors in Slack: its head posted to MLOPS_BOT_AUDIT_CHANNEL, where the
database writer cannot reach, for an auditor to pass to `mlops-bot audit verify --anchor`."""
