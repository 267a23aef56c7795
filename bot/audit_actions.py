"""Every action the audit log records (an unknown action is a bug, refused at append)."""

from __future__ import annotations

ACTIONS = frozenset(
    {
        "promotion_requested",
        "approval_granted",
        "approval_denied",
        "promotion_rejected",
        "promotion_applied",
        "promotion_failed",
        "request_expired",
        "request_stale",
        "override_used",
        "rollback_requested",
        "report_posted",
        "schedule_changed",
        "out_of_band_change",
        "retrain_triggered",
        "retrain_failed",
        "alias_baseline",
        "report_failed",
        "request_refused",
        "deploy_hook_delivered",
        "deploy_hook_failed",
        "api_token_refused",
    }
)

__all__ = ["ACTIONS"]
