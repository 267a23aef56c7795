"""Slack side effects of approval decisions: card updates, thread replies, ephemerals, Home."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_sdk import WebClient

import handlers.history.home
from bot.approvals.outcomes import ANNOUNCED, COMMITTED, Outcome, OutcomeKind, RequestKind
from bot.approvals.service import ApprovalService
from bot.clock import SYSTEM, Clock
from bot.policy.permissions import Action
from bot.storage.tables import ApprovalVote, PromotionRequest
from handlers import metadata as events
from handlers.approvals import blocks as cards
from handlers.audit.anchors import post_applied_anchor
from handlers.blocks import Reply, clip, esc, mention
from handlers.slack_client import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)


class SlackDirectory:
    """User-group members via `usergroups.users.list`, cached for `ttl` seconds (the
    `Directory` of bot.policy.permissions).

    When a lookup fails, the list fetched last is used for at most one more `ttl` (Slack
    having a bad minute should not stop approvals); after that the group has no members
    until a lookup succeeds again: someone removed from the group must not keep its rights.
    """

    def __init__(self, client: WebClient, ttl: float = 60.0, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self._cache: dict[str, tuple[datetime, set[str]]] = {}  # when fetched, members

    def group_members(self, group_id: str) -> set[str]:
        now = self.clock.now()
        hit = self._cache.get(group_id)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            resp = self.client.usergroups_users_list(usergroup=group_id)
        except SLACK_FAILURES as exc:
            stale = hit is not None and now - hit[0] < 2 * self.ttl
            log.warning(
                "usergroups.users.list %s failed: %s; %s",
                group_id,
                slack_error(exc),
                "using the members fetched last" if stale else "the group counts as empty",
            )
            return hit[1] if hit and stale else set()
        members = set(resp.get("users") or [])
        self._cache[group_id] = (now, members)
        return members


def post_card(
    client: WebClient, svc: ApprovalService, outcome: Outcome, channel: str
) -> str | None:
    """Post a new request's card in the channel; returns an error text when Slack refused."""
    req = outcome.request
    assert req is not None
    try:
        resp = client.chat_postMessage(
            channel=channel,
            **cards.approval_card(req, []).payload(),
            metadata=events.requested(req),
        )
    except SLACK_FAILURES as exc:
        error = slack_error(exc)
        log.warning("posting the card of %s failed: %s", req.id, error)
        if isinstance(exc, OSError):  # no answer: Slack may well have posted it
            return (
                f"I opened request `{req.id}`, but Slack did not confirm its card ({error}); "
                "if it does not show up here, it is in `/mlops pending` and my App Home."
            )
        return (
            f"I opened request `{req.id}` but could not post its card here ({error}); "
            "invite me to this channel, or find it with `/mlops pending` and in my App Home."
        )
    svc.attach_message(req.id, resp["channel"], resp["ts"])
    return None


def open_request(
    client: WebClient,
    svc: ApprovalService,
    model: str,
    version: str,
    alias: str,
    user: str,
    reason: str,
    channel: str | None,
    kind: RequestKind = RequestKind.PROMOTE,
) -> Outcome:
    """Open a promotion request and post its card; the outcome's message says what happened.

    ApprovalError and RegistryError propagate: the caller shows them to the user.
    """
    outcome = svc.request_promotion(model, version, alias, user, reason, channel, kind)
    if outcome.kind == OutcomeKind.REQUESTED and outcome.request is not None:
        problem = post_card(client, svc, outcome, channel) if channel else "no channel to post in"
        if problem:
            return Outcome(OutcomeKind.UNPOSTED, problem, outcome.request)
        req = outcome.request
        outcome.message = (
            f"Request `{req.id}` posted: {req.required_approvals} approval(s) needed"
            f"{'' if req.gates_passed else '; gates fail, so an approver must Override'}."
        )
    return outcome


def refresh_card(client: WebClient, svc: ApprovalService, request_id: str, note: str = "") -> None:
    """Re-render the card from the database (the single source of truth)."""
    req, votes = svc.get(request_id)
    if req is not None:
        update_card(client, req, votes, note)


def show_outcome(client: WebClient, svc: ApprovalService, outcome: Outcome) -> None:
    """Re-render the card after a decision: from the outcome when it holds what the decision
    committed, else (refused, or decided elsewhere) from the database."""
    if outcome.request is None:
        return
    if outcome.kind in COMMITTED:
        update_card(client, outcome.request, outcome.votes)
    else:
        refresh_card(client, svc, outcome.request.id)
    if outcome.kind == OutcomeKind.APPLIED and outcome.audit_id is not None:
        post_applied_anchor(client, svc.rt, outcome.request, outcome.audit_id)


def update_card(
    client: WebClient, req: PromotionRequest, votes: Sequence[ApprovalVote], note: str = ""
) -> None:
    """Draw the card of `req` with `votes` over its message (best effort)."""
    if not req.channel or not req.message_ts:
        return
    try:
        client.chat_update(
            channel=req.channel,
            ts=req.message_ts,
            **cards.approval_card(req, list(votes), note).payload(),
            metadata=events.requested(req),
        )
    except SLACK_FAILURES as exc:
        log.warning("updating the card of %s failed: %s", req.id, slack_error(exc))


def announce(client: WebClient, outcome: Outcome) -> None:
    """After a decision: a thread reply on the card mentioning the requester."""
    req = outcome.request
    if req is None or not req.channel or not req.message_ts:
        return
    if outcome.kind not in ANNOUNCED:
        return
    try:
        client.chat_postMessage(
            channel=req.channel,
            thread_ts=req.message_ts,
            text=f"{mention(req.requester)} {shown(outcome)}{justification(req)}",
            metadata=events.decided(outcome),
        )
    except SLACK_FAILURES as exc:
        log.warning("thread reply for %s failed: %s", req.id, slack_error(exc))


def justification(req: PromotionRequest) -> str:
    """The requester's justification, quoted under a decision in the card's thread."""
    if not req.reason:
        return ""
    quoted = esc(clip(req.reason, 1500)).replace("\n", "\n>")
    return f"\n*Justification*\n>{quoted}"


def shown(outcome: Outcome) -> str:
    """An outcome's message as mrkdwn: escaped (it quotes model names and reasons), except the
    mention of who rejected, which the service wrote from the signed Slack user ID."""
    req = outcome.request
    if outcome.kind == OutcomeKind.REJECTED and req is not None and req.decided_by:
        by = f"Rejected by <@{req.decided_by}>: "
        if outcome.message.startswith(by):
            return by + esc(outcome.message[len(by) :])
    return esc(outcome.message)


def tell(client: WebClient, channel: str | None, user: str, reply: Reply) -> None:
    """An ephemeral message to one user in a channel (best effort)."""
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, **reply.payload())
    except SLACK_FAILURES as exc:
        log.warning("ephemeral to %s failed: %s", user, slack_error(exc))


def direct_message(client: WebClient, user: str, text: str) -> None:
    """A message in the user's DM with the bot (best effort), when there is no channel."""
    try:
        client.chat_postMessage(channel=user, text=esc(text))
    except SLACK_FAILURES as exc:
        log.warning("DM to %s failed: %s", user, slack_error(exc))


def publish_home(
    client: WebClient, svc: ApprovalService, user: str, notice: str | None = None
) -> None:
    """Publish the viewer's App Home."""
    pending = svc.pending()
    actionable = [
        (r, v)
        for r, v in pending
        if svc.refusal(r, v, user, Action.APPROVE) is None
        or svc.refusal(r, v, user, Action.OVERRIDE) is None
    ]
    own = [(r, v) for r, v in pending if r.requester == user]
    view = cards.home_view(actionable, own, svc.decided(10), notice)
    room = 100 - len(view["blocks"])
    view["blocks"] += [b.to_dict() for b in handlers.history.home.history_blocks(svc, user, room)]
    client.views_publish(user_id=user, view=view)
