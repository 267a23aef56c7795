"""mlops-bot domain: config, MLflow gateway, approvals, audit, reports, rendering."""
