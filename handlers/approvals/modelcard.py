"""The model-card parts of the approval card (params changed, signature diff, training data,
code) and the "Details" modal that shows all of them unabridged.

Drawn from the request's snapshot (bot.approvals.modelcard reads it), so a card shows what was
compared when the request was opened. On the card each part is a few lines, and the lists are
cut with "… n more in Details"; the modal holds the rest within Slack's view limits.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.approvals.modelcard import (
    ColumnsDiff,
    changed_params,
    diff_signatures,
    lineage_of,
)
from bot.approvals.outcomes import snapshot_of
from bot.registry.lineage import Column, Lineage
from bot.storage.tables import PromotionRequest
from handlers.blocks import clip, esc, header, section

CARD_LINES = 6  # list items shown on the card before "… n more in Details"
MODAL_BLOCKS = 100
MODAL_SECTION = 2900  # a modal section's text, with room for Slack's own limit of 3,000


def _cut(lines: list[str], limit: int | None) -> list[str]:
    if limit is None or len(lines) <= limit:
        return lines
    return [*lines[:limit], f"_… {len(lines) - limit} more in Details_"]


def _holder(req: PromotionRequest) -> dict[str, Any] | None:
    held = snapshot_of(req).get("holder")
    return held if isinstance(held, dict) else None


def _versus(req: PromotionRequest) -> str:
    held = _holder(req)
    return f" (v{req.version} vs. v{held['version']})" if held else f" (v{req.version})"


def params_lines(req: PromotionRequest, limit: int | None = CARD_LINES) -> list[str]:
    """`*Params changed*` and one line per param, or [] when nothing is known to differ."""
    snap = snapshot_of(req)
    held = _holder(req)
    if held is None or "params" not in held:
        return []
    changed = changed_params(snap.get("candidate", {}).get("params") or {}, held["params"] or {})
    if not changed:
        return [f"*Params changed*{_versus(req)}: none"]
    lines = [f"`{esc(clip(n, 80))}` {_value(old)} → {_value(new)}" for n, old, new in changed]
    return [f"*Params changed*{_versus(req)}", *_cut(lines, limit)]


def _value(v: str | None) -> str:
    return "_unset_" if v is None else f"`{esc(clip(v, 60))}`"


def _col(c: Column) -> str:
    optional = "" if c.required else ", optional"
    return f"`{esc(clip(c.name, 60))}` ({esc(clip(c.type, 60))}{optional})"


def _diff_lines(what: str, d: ColumnsDiff) -> list[str]:
    lines = [f"+ {what} {_col(c)}" for c in d.added]
    lines += [f"− {what} {_col(c)}" for c in d.removed]
    lines += [
        f"~ {what} `{esc(clip(r.name, 60))}` {esc(clip(r.old, 60))} → {esc(clip(r.new, 60))}"
        for r in d.retyped
    ]
    return lines


def signature_lines(req: PromotionRequest, limit: int | None = CARD_LINES) -> list[str]:
    """`*Signature*`: the diff against the holder, or what the candidate's signature is."""
    snap = snapshot_of(req)
    cand = lineage_of(snap.get("candidate"))
    if cand is None:  # a request opened before signatures were read
        return []
    title = f"*Signature*{_versus(req)}"
    if cand.signature is None:
        why = esc(clip(cand.signature_error, 200)) or "none logged"
        return [f"{title}: candidate's unknown ({why})"]
    held = _holder(req)
    holder = lineage_of(held)
    if held is None or holder is None:
        s = cand.signature
        return [f"{title}: {len(s.inputs)} input(s), {len(s.outputs)} output(s); no holder"]
    if holder.signature is None:
        why = esc(clip(holder.signature_error, 200)) or "none logged"
        return [f"{title}: holder's unknown ({why})"]
    diff = diff_signatures(cand.signature, holder.signature)
    if not diff:
        return [f"{title}: unchanged ({len(cand.signature.inputs)} inputs)"]
    lines = _diff_lines("input", diff.inputs) + _diff_lines("output", diff.outputs)
    counts = ", ".join(
        f"{what} +{len(d.added)} −{len(d.removed)} ~{len(d.retyped)}"
        for what, d in (("inputs", diff.inputs), ("outputs", diff.outputs))
        if d
    )
    return [f"{title}: {counts}", *_cut(lines, limit)]


def _datasets(lin: Lineage, limit: int | None) -> list[str]:
    lines = []
    for d in lin.datasets:
        context = f" ({esc(clip(d.context, 40))})" if d.context else ""
        lines.append(
            f"• `{esc(clip(d.name, 80))}`{context} digest `{esc(clip(d.digest, 40))}` — "
            f"{esc(clip(d.source, 200))}"
        )
    return _cut(lines, limit) if lines else ["• none logged"]


def _code(lin: Lineage) -> str:
    commit = f"`{esc(clip(lin.git_commit, 40))}`" if lin.git_commit else "unknown"
    name = f" · `{esc(clip(lin.source_name, 200))}`" if lin.source_name else ""
    return f"commit {commit}{name}"


def lineage_lines(req: PromotionRequest, limit: int | None = 3) -> list[str]:
    """`*Training data*` of the candidate (whether the holder's was the same) and `*Code*`."""
    snap = snapshot_of(req)
    cand = lineage_of(snap.get("candidate"))
    if cand is None:
        return []
    held = _holder(req)
    holder = lineage_of(held)
    same = ""
    if held is not None and holder is not None:
        digests = {d.digest for d in cand.datasets}
        if cand.datasets and digests == {d.digest for d in holder.datasets}:
            same = f" — same as v{held['version']}"
        elif holder.datasets:
            same = f" — v{held['version']} was trained on other data"
    lines = [f"*Training data* of v{req.version}{same}", *_datasets(cand, limit)]
    code = f"*Code* v{req.version}: {_code(cand)}"
    if held is not None and holder is not None:
        if (holder.git_commit, holder.source_name) != (cand.git_commit, cand.source_name):
            code += f"\n          v{held['version']}: {_code(holder)}"
        else:
            code += f" (as v{held['version']})"
    return [*lines, code]


def card_sections(req: PromotionRequest) -> list[Block]:
    """The model-card sections of the approval card (each a few lines)."""
    blocks: list[Block] = []
    for lines in (params_lines(req), signature_lines(req), lineage_lines(req)):
        if lines:
            blocks.append(section("\n".join(lines)))
    return blocks


def _chunks(lines: list[str]) -> list[str]:
    """Lines joined into texts of at most MODAL_SECTION characters each."""
    texts, current = [], ""
    for line in lines:
        line = clip(line, MODAL_SECTION)
        if current and len(current) + 1 + len(line) > MODAL_SECTION:
            texts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    return [*texts, current] if current else texts


def details_modal(req: PromotionRequest, metrics: str) -> dict[str, Any]:
    """Everything the card cut short: params, signature changes, datasets, code, with the
    card's `metrics` table (mrkdwn)."""
    snap = snapshot_of(req)
    source = snap.get("candidate", {}).get("source") or "unknown"
    parts: list[list[str]] = [
        [f"*Version source*\n`{esc(clip(source, 1000))}`"],
        [f"*Justification*\n>{esc(clip(req.reason or '', 2000))}"] if req.reason else [],
        metrics.splitlines(),
        params_lines(req, None),
        signature_lines(req, None),
        lineage_lines(req, None),
    ]
    held = _holder(req)
    holder = lineage_of(held)
    if held is not None and holder is not None:
        parts.append([f"*Training data* of v{held['version']}", *_datasets(holder, None)])
    blocks: list[Block] = [header(f"{req.model_name} v{req.version} → @{req.alias}")]
    for lines in parts:
        if not lines:
            continue
        blocks.append(DividerBlock())
        blocks += [section(text) for text in _chunks(lines)]
    if len(blocks) > MODAL_BLOCKS:
        blocks = [*blocks[: MODAL_BLOCKS - 1], section("_… cut at Slack's limit of a modal._")]
    return View(
        type="modal",
        title="Request details",
        close="Close",
        private_metadata=req.id,
        blocks=blocks,
    ).to_dict()
