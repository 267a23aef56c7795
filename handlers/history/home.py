"""App Home's alias history (published by handlers/home): the timeline of each model the
viewer owns or approves."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.approvals import history as log
from bot.approvals.service import ApprovalService
from handlers.history.blocks import home_blocks

MAX_MODELS = 5


def viewer_models(svc: ApprovalService, user: str) -> list[str]:
    """The models `user` owns or approves (user groups included): those of the policy file,
    and those with alias history in the audit log (default approvers approve any model)."""
    rt = svc.rt
    names = sorted(set(rt.policy.file.models) | set(log.models_with_history(rt)))
    mine = []
    for name in names:
        policy = rt.policy.for_model(name)
        if user in policy.owners or svc.permissions.is_approver(user, policy):
            mine.append(name)
    return mine[:MAX_MODELS]


def history_blocks(svc: ApprovalService, user: str, room: int) -> list[Block]:
    """The history section of `user`'s App Home, in at most `room` blocks (none when the
    viewer owns and approves nothing, or there is no room)."""
    models = viewer_models(svc, user) if room >= 3 else []
    if not models:
        return []
    return home_blocks(log.histories(svc.rt, models, whole=False), room)
