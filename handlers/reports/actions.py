"""Buttons on posted reports: Show all features, Request promotion, Trigger retraining."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import audit
from bot.approvals.outcomes import OutcomeKind
from bot.clock import as_utc
from bot.config import secret
from bot.monitoring import retrain
from bot.monitoring.document import (
    DocumentError,
    DriftDocument,
    ReportDocument,
    parse_document,
)
from bot.policy.permissions import Action
from bot.storage.tables import ReportRecord
from handlers import action_ids as ids
from handlers import blocks as render
from handlers.approvals.messages import open_request
from handlers.context import approvals_of, permissions_of, runtime_of
from handlers.later import after_ack
from handlers.reports.blocks import CHALLENGER
from handlers.reports.features import features_reply
from handlers.reports.posting import load_record
from handlers.slack_client import SLACK_FAILURES

_ID = re.compile(r"^[0-9a-f]{12}$")
log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.action(ids.REPORT_DETAILS)(handle_details)
    app.action(ids.REPORT_PAGE_PREV)(handle_details)
    app.action(ids.REPORT_PAGE_NEXT)(handle_details)
    app.action(ids.REPORT_PROMOTE)(handle_promote)
    app.action(ids.REPORT_RETRAIN)(handle_retrain)


def _say(respond: Respond, text: str, *, mrkdwn: bool = False) -> None:
    """An ephemeral answer; `text` is plain (escaped here) unless `mrkdwn` says it is built."""
    shown = text if mrkdwn else render.esc(text)
    respond(
        **render.Reply(shown, [render.section(shown)]).payload(),
        response_type="ephemeral",
        replace_original=False,
    )


def _with_record(
    action: dict,
    context: BoltContext,
    respond: Respond,
    work: Callable[[ReportRecord, ReportDocument], None],
    *,
    needs_model: bool = False,
    urgent: bool = False,
) -> None:
    """After the ack: load the report the button belongs to and run `work` on it.

    The button's value is only an ID; the record is re-read from the database. A record whose
    body is not a report document is treated as gone (and logged).
    """

    def rest() -> None:
        value = str(action.get("value") or "")
        record = load_record(runtime_of(context), value) if _ID.match(value) else None
        doc = None
        if record is not None:
            try:
                doc = parse_document(record.body)
            except DocumentError as exc:
                log.warning("report record %s cannot be read: %s", record.id, exc)
        if record is None or doc is None:
            _say(respond, "This report is no longer available.")
        elif record.model_name or not needs_model:
            work(record, doc)

    after_ack(context, rest, lambda text: _say(respond, text), urgent=urgent)


def handle_details(ack: Ack, action: dict, respond: Respond, context: BoltContext) -> None:
    """Show all features (value: the record ID), or another page of them (value `ID:page`,
    from the table's own buttons: that ephemeral message is replaced, not the report)."""
    ack()
    record_id, _, page_text = str(action.get("value") or "").partition(":")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 6 else 1

    def show(record: ReportRecord, doc: ReportDocument) -> None:
        respond(
            **features_reply(doc, record.id, page).payload(),
            response_type="ephemeral",
            replace_original=bool(page_text),
        )

    _with_record({**action, "value": record_id}, context, respond, show)


@dataclass(frozen=True)
class _ModelClick:
    """A click on a Request promotion or Trigger retraining button, once its report was read
    back: the report's model, record and document, and the click's Bolt arguments."""

    model: str
    record: ReportRecord
    doc: ReportDocument
    body: dict
    respond: Respond
    client: WebClient
    context: BoltContext

    @property
    def user(self) -> str:
        return str(self.body["user"]["id"])

    @property
    def channel(self) -> str:
        """Where the report was posted (else where the click came from)."""
        return self.record.channel or self.body["channel"]["id"]

    def say(self, text: str, *, mrkdwn: bool = False) -> None:
        _say(self.respond, text, mrkdwn=mrkdwn)


def _on_model_report(work: Callable[[_ModelClick], None]) -> Callable[..., None]:
    """The listener of a button that acts on the report's model: ack, then (urgent: it changes
    something) `work` on the report read back. A report of no model is left alone."""

    def listener(
        ack: Ack,
        body: dict,
        action: dict,
        respond: Respond,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()

        def on_record(record: ReportRecord, doc: ReportDocument) -> None:
            model = str(record.model_name)
            work(_ModelClick(model, record, doc, body, respond, client, context))

        _with_record(action, context, respond, on_record, needs_model=True, urgent=True)

    return listener


def _promote(click: _ModelClick) -> None:
    """Open the approval flow: the challenger → the report's alias, requested by the clicker."""
    rt, svc = runtime_of(click.context), approvals_of(click.context)
    challenger = rt.registry.get_model(click.model).aliases.get(CHALLENGER)
    if challenger is None:
        click.say(f"`{click.model}` has no `@{CHALLENGER}` any more.")
        return
    doc = click.doc
    outcome = open_request(
        click.client,
        svc,
        click.model,
        challenger,
        doc.alias or "champion",
        click.user,
        f"Requested from the {doc.kind} report of {doc.generated_at}",
        click.channel,
    )
    if outcome.kind != OutcomeKind.REQUESTED:
        click.say(outcome.message)


def _retrain(click: _ModelClick) -> None:
    """Owners and approvers only: POST the signed retraining request, report the outcome."""
    model, record, doc, user = click.model, click.record, click.doc, click.user
    rt = runtime_of(click.context)
    monitor = rt.policy.for_model(model).monitor
    if monitor is None or not monitor.retrain_url:
        click.say(f"`{model}` has no `retrain_url` in the policy file.")
        return
    refusal = permissions_of(click.context).can(user, Action.RETRAIN, model)
    if refusal is not None:
        audit.record(
            rt.engine,
            "retrain_failed",
            user,
            model_name=model,
            details={"reason": "not an owner or approver", "report_id": record.id},
        )
        click.say(refusal.reason)
        return
    reason = _retrain_refusal(click)
    if reason is not None:
        audit.record(
            rt.engine,
            "retrain_failed",
            user,
            model_name=model,
            details={"reason": reason, "report_id": record.id},
        )
        click.say(reason)
        return
    payload = {
        "model": model,
        "version": doc.version,
        "alias": doc.alias,
        "run_id": doc.run_id,
        "requested_by": user,
        "report_id": record.id,
        "report": _summary(doc),
    }
    result = retrain.trigger(
        monitor.retrain_url, payload, secret(rt.settings.mlops_bot_outbound_secret) or ""
    )
    audit.record(
        rt.engine,
        "retrain_triggered" if result.ok else "retrain_failed",
        user,
        model_name=model,
        model_version=doc.version,
        alias=doc.alias,
        run_id=doc.run_id,
        details={"status": result.status, "detail": result.detail, "report_id": record.id},
    )
    text = (
        f":arrows_counterclockwise: <@{user}> triggered retraining of `{render.esc(model)}`: "
        f"{render.esc(result.detail)}" + (f" (HTTP {result.status})" if result.status else "")
    )
    try:
        click.client.chat_postMessage(channel=click.channel, thread_ts=record.ts, text=text)
    except SLACK_FAILURES:
        click.say(text, mrkdwn=True)


def _retrain_refusal(click: _ModelClick) -> str | None:
    """Why this report may not trigger retraining now (the clicker may): it did not alert, no
    outbound secret signs the request, or the model was retrained less than the policy's
    `retrain_cooldown_minutes` ago."""
    rt, model = runtime_of(click.context), click.model
    if not alerted(click.doc):
        return "This report did not alert (no drift, no degradation): retraining is not triggered."
    if not secret(rt.settings.mlops_bot_outbound_secret):
        return (
            "Retraining requests are signed and MLOPS_BOT_OUTBOUND_SECRET is not set; "
            "ask an operator to set it. Nothing was sent."
        )
    cooldown = timedelta(minutes=permissions_of(click.context).limits.retrain_cooldown_minutes)
    last = audit.recent(rt.engine, model=model, limit=1, actions={"retrain_triggered"})
    if last and rt.clock.now() - as_utc(last[0].at) < cooldown:
        return (
            f"`{model}` was sent for retraining at {as_utc(last[0].at):%H:%M} UTC; the policy "
            f"allows one retraining every {int(cooldown.total_seconds() // 60)} minutes."
        )
    return None


def alerted(doc: ReportDocument) -> bool:
    """The report found dataset drift, a degraded metric or an estimated drop (CBPE)."""
    if isinstance(doc, DriftDocument):
        return doc.dataset_drift
    cbpe = doc.performance.cbpe
    return bool(doc.performance.degraded) or bool(cbpe and cbpe.alerts)


handle_promote = _on_model_report(_promote)
handle_retrain = _on_model_report(_retrain)


def _summary(doc: ReportDocument) -> dict[str, Any]:
    """The report part of the retraining payload."""
    if isinstance(doc, DriftDocument):
        return {
            "kind": doc.kind,
            "dataset_drift": doc.dataset_drift,
            "drifted_share": doc.drifted_share,
            "drifted_features": [f.name for f in doc.features if f.drifted],
        }
    perf = doc.performance
    return {"kind": doc.kind, "degraded": perf.degraded, "metrics": perf.metrics}
