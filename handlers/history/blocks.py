"""Block Kit for alias history: the timeline, the holder at a time, the App Home section."""

from __future__ import annotations

import re
from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.approvals.history import ChainCheck, History, HolderSource, Holding, fmt_when
from handlers.blocks import MAX_BLOCKS, Reply, clip, context, esc, header, section

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
LINES_PER_SECTION = 8
MAX_HOLDINGS = 60  # per reply; older holders are counted, not listed
UNVERIFIED = ":warning: _unverified_ "


def who(actor: str | None) -> str:
    """A mention for a Slack user ID; anything else (`system`, a pipeline) as code."""
    if not actor:
        return "someone unknown"
    return f"<@{actor}>" if USER_ID.match(actor) else f"`{esc(clip(actor, 80))}`"


def _short(at: datetime | None) -> str:
    return fmt_when(at) if at is not None else "—"


def _version(h: Holding) -> str:
    return f"*v{esc(h.version)}*" if h.version else "*unset*"


def holding_line(h: Holding, *, brief: bool = False) -> str:
    """One holder: which version, from when to when, and how it got there."""
    since = _short(h.since)
    if h.source == HolderSource.BEFORE_LOG:
        since = "before the log"
    until = "now" if h.until is None else fmt_when(h.until)
    parts = [f"{_version(h)} — {since} → {until}"]
    if h.source == HolderSource.APPROVED:
        asked = "rollback requested" if h.rollback else "requested"
        when = f" {_short(h.requested_at)}" if h.requested_at and not brief else ""
        parts.append(f"{asked} by {who(h.requester)}{when}")
        if h.reason and not brief:
            parts.append(f"“{esc(clip(h.reason, 200))}”")
        votes = ", ".join(
            f"{who(a.user)}{' (override)' if a.override else ''}"
            + ("" if brief else f" {fmt_when(a.at)}")
            for a in h.approvals
        )
        parts.append(f"approved by {votes or 'nobody on record'}")
        if h.request_id and not brief:
            parts.append(f"request `{esc(h.request_id)}`")
    elif h.source == HolderSource.UNPROTECTED:
        parts.append(f"set at once by {who(h.requester)} (alias not protected)")
    elif h.source == HolderSource.OUT_OF_BAND:
        parts.append(f":rotating_light: changed outside mlops-bot, {esc(h.note)}")
    elif h.source == HolderSource.BASELINE:
        parts.append(f"holder when mlops-bot first looked, {esc(h.note)}")
    else:
        parts.append(f"held before the first recorded move (asked for {_short(h.seen_at)})")
    if h.source in (HolderSource.APPROVED, HolderSource.UNPROTECTED) and h.note:
        parts.append(f":warning: {esc(h.note)}")  # a move the log missed came before
    return ("" if h.verified else UNVERIFIED) + " · ".join(parts)


def chain_note(chain: ChainCheck) -> str:
    how = "HMAC-keyed" if chain.keyed else "plain SHA-256, not keyed"
    if not chain.whole:
        if not chain.ok:
            return (
                f":rotating_light: *Audit event #{chain.bad_id} fails the chain check* "
                f"({esc(chain.reason)}): entries marked :warning: cannot be trusted. "
                "`mlops-bot audit verify` shows the details."
            )
        return (
            f":lock: Each of the {chain.count} events shown checked against the audit chain "
            f"({how}); `/mlops history <model>` verifies the whole log."
        )
    if not chain.ok:
        return (
            f":rotating_light: *The audit log fails verification at event #{chain.bad_id}* "
            f"({esc(chain.reason)}): entries marked :warning: rest on events from there on "
            "and cannot be trusted. `mlops-bot audit verify` shows the details."
        )
    return f":lock: Checked against the audit chain: {chain.count} events intact ({how})."


def history_reply(h: History, alias: str | None) -> Reply:
    """`/mlops history <model> [@alias]`: every alias's holders, newest first."""
    title = f"History of {h.model}" + (f" @{alias}" if alias else "")
    if not h.aliases:
        what = f"`@{esc(alias)}` of `{esc(h.model)}`" if alias else f"any alias of `{esc(h.model)}`"
        text = f"The audit log has no moves of {what}."
        return Reply(text, [section(text), context(chain_note(h.chain))])
    blocks: list[Block] = [header(title)]
    lines_all = []
    budget = MAX_HOLDINGS
    for name, holdings in h.aliases.items():
        shown = list(reversed(holdings))[: max(budget, 1)]
        budget -= len(shown)
        lines = [f"• {holding_line(x)}" for x in shown]
        if len(holdings) > len(shown):
            lines.append(f"_…and {len(holdings) - len(shown)} older holders not shown._")
        lines_all += [f"@{name}", *lines]
        for i in range(0, len(lines), LINES_PER_SECTION):
            head = f"*`@{esc(name)}`*\n" if i == 0 else ""
            blocks.append(section(head + "\n".join(lines[i : i + LINES_PER_SECTION])))
    blocks = blocks[: MAX_BLOCKS - 1] + [context(chain_note(h.chain))]
    return Reply(f"{title}\n" + "\n".join(lines_all), blocks)


def holder_reply(h: History, alias: str | None, when: datetime) -> Reply:
    """`/mlops history <model> [@alias] at <time>`: the holder of each alias at `when`."""
    names = [alias] if alias else list(h.aliases)
    lines = []
    for name in names:
        found = h.holder_at(name, when)  # HistoryError when the chain is broken
        target = f"`@{esc(name)}` of `{esc(h.model)}`"
        if found is not None:
            lines.append(f"{target} was held by {holding_line(found)}")
            if found.seen_at is not None and when < found.seen_at:
                lines[-1] += (
                    f" — the log first shows it at {fmt_when(found.seen_at)} and records "
                    "nothing earlier: it is the last holder the log knows of"
                )
        elif name in h.first_at:
            lines.append(
                f"The audit log has no record of {target} at that time: its first event is "
                f"at {fmt_when(h.first_at[name])}."
            )
        else:
            lines.append(f"The audit log has no moves of {target}.")
    if not lines:
        lines.append(f"The audit log has no moves of any alias of `{esc(h.model)}`.")
    text = f"*At {fmt_when(when)}*\n" + "\n".join(f"• {line}" for line in lines)
    return Reply(text, [section(text), context(chain_note(h.chain))])


def home_blocks(histories: list[History], room: int) -> list[Block]:
    """App Home: the recent holders of the aliases of the viewer's models, within `room`."""
    if room < 3 or not histories:
        return []
    blocks: list[Block] = [section("*Alias history of your models*")]
    for h in histories:
        if len(blocks) >= room - 1:
            break
        lines = [
            f"`@{esc(name)}`: "
            + " ← ".join(holding_line(x, brief=True) for x in list(reversed(holdings))[:3])
            for name, holdings in h.aliases.items()
        ]
        body = "\n".join(f"• {line}" for line in lines) or "No alias moves recorded."
        blocks.append(section(f"*{esc(h.model)}*\n{body}"))
    blocks.append(context(chain_note(histories[0].chain)))
    return blocks
