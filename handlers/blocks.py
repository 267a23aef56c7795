"""Block Kit pieces every feature shares (Reply, sections, escaping, limits) and the replies of
`/mlops models`, `show` and `status`; each feature keeps its own builders beside its listeners
(handlers/approvals/blocks.py, handlers/reports/blocks.py). Built with slack_sdk.models.blocks.

Escaping: every value placed in mrkdwn or in a message's fallback text goes through `esc()`
(model names, aliases, reasons, MLflow texts, error texts that echo the user's words): `<!channel>`,
`<@U…>`, `<!subteam^…>` or `<https://…|…>` in a value must show as typed, never notify anyone or
become a link. Texts built by bot/ (outcome messages, error sentences) are plain text with
backticks, escaped whole where they are shown. Plain-text fields (headers, button labels,
titles) are not parsed for mentions or links by Slack and are left as they are.

Every builder truncates to Slack's limits (50 blocks, 3,000 characters a section, 150 a
header) before slack_sdk validates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.health import HealthItem
from bot.registry.gateway import ModelSummary, VersionInfo

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
FALLBACK_TEXT = 3000


@dataclass
class Reply:
    """A message: plain-text fallback plus blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        blocks = self.blocks[:MAX_BLOCKS]
        return {"text": clip(self.text, FALLBACK_TEXT), "blocks": [b.to_dict() for b in blocks]}


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(text: str) -> str:
    """Escape &, <, > as Slack requires in mrkdwn (user text must not become mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(actor: str) -> str:
    """A Slack user or group as a mention; any other actor (`pipeline:ci`) as code."""
    if actor[:1] in ("U", "W") and actor.isalnum():
        return f"<@{actor}>"
    return f"`{esc(actor)}`"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT)))


def fields_section(items: Iterable[str], text: str | None = None) -> SectionBlock:
    fields = [MarkdownTextObject(text=clip(t, FIELD_TEXT)) for t in list(items)[:10]]
    kwargs: dict[str, Any] = {"fields": fields}
    if text:
        kwargs["text"] = MarkdownTextObject(text=clip(text, SECTION_TEXT))
    return SectionBlock(**kwargs)


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, HEADER_TEXT))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(t, FIELD_TEXT)) for t in texts[:10]])


def error(message: str, usage: str | None = None) -> Reply:
    """An ephemeral error: the problem, then the right usage (`/mlops …` with its help)."""
    text = f":warning: {esc(message)}"
    blocks: list[Block] = [section(text)]
    if usage is not None:
        blocks.append(context(f"Usage: {usage}"))
        text += f"\nUsage: {usage}"
    return Reply(text, blocks)


def _fmt_ts(ms: int | None) -> str:
    if not ms:
        return "unknown"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_metric(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}"


def models_reply(models: list[ModelSummary], ui_url: str | None = None) -> Reply:
    """`/mlops models`: each model with its aliases → versions."""
    if not models:
        text = "No registered models yet. Register one in MLflow, then try `/mlops models` again."
        return Reply(text, [section(text)])
    lines = []
    for m in models:
        aliases = (
            ", ".join(f"`@{esc(a)}` → v{esc(v)}" for a, v in sorted(m.aliases.items()))
            or "no aliases"
        )
        latest = f"latest v{esc(m.latest_version)}" if m.latest_version else "no versions"
        lines.append(f"• *{esc(m.name)}* — {aliases} ({latest})")
    blocks: list[Block] = [header(f"Registered models ({len(models)})")]
    chunk: list[str] = []
    size = 0
    for line in lines:  # pack lines into sections of ≤ 3,000 characters
        if size + len(line) + 1 > SECTION_TEXT and chunk:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [context("List truncated: too many models.")]
    return Reply("\n".join(lines), blocks)


def version_reply(v: VersionInfo, version_url: str | None, run_url: str | None) -> Reply:
    """`/mlops show`: version, aliases, source run, key metrics, params, links."""
    aliases = ", ".join(f"`@{esc(a)}`" for a in v.aliases) or "none"
    run_id = esc(v.run_id or "none")
    run = f"<{run_url}|{run_id}>" if run_url and v.run_id else f"`{run_id}`"
    title = f"{v.name} v{v.version}"
    info = [
        f"*Aliases*\n{aliases}",
        f"*Status*\n{esc(v.status or 'unknown')}",
        f"*Source run*\n{run}",
        f"*Registered*\n{_fmt_ts(v.created_ms)}",
    ]
    blocks: list[Block] = [header(title), fields_section(info)]
    if v.metrics:
        metric_lines = [f"`{esc(k)}` {fmt_metric(val)}" for k, val in sorted(v.metrics.items())]
        blocks.append(section("*Metrics*\n" + "\n".join(metric_lines[:40])))
    if v.params:
        param_lines = [f"`{esc(k)}` = {esc(clip(val, 80))}" for k, val in sorted(v.params.items())]
        blocks.append(section("*Params*\n" + "\n".join(param_lines[:40])))
    if version_url:
        blocks.append(context(f"<{version_url}|Open in MLflow>"))
    metrics_text = ", ".join(f"{esc(k)}={fmt_metric(val)}" for k, val in sorted(v.metrics.items()))
    text = f"{esc(title)} — aliases: {aliases}; run {run_id}; {metrics_text}"
    return Reply(text, blocks)


def status_reply(items: list[HealthItem], next_runs: list[str]) -> Reply:
    """`/mlops status`: health of each part, and the next scheduled runs."""
    lines = [
        f"{':white_check_mark:' if i.ok else ':x:'} *{i.name}*: {esc(i.detail)}" for i in items
    ]
    blocks: list[Block] = [header("mlops-bot status"), section("\n".join(lines))]
    if next_runs:
        blocks.append(DividerBlock())
        blocks.append(section("*Next runs*\n" + "\n".join(next_runs[:20])))
    text = "; ".join(f"{i.name}: {'ok' if i.ok else 'FAIL'} ({esc(i.detail)})" for i in items)
    return Reply(text, blocks)
