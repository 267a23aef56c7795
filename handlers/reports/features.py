"""Block Kit for drift features: one line per feature that says what the verdict stands on,
and the paginated "Show all features" table (in severity order, as everywhere)."""

from __future__ import annotations

import math
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.monitoring import drift_table
from bot.monitoring.document import DriftDocument, ReportDocument
from bot.monitoring.drift.results import P_VALUE_METHODS
from handlers import action_ids as ids
from handlers.blocks import Reply, clip, context, esc, header, section

PAGE_SIZE = 15
LINES_PER_SECTION = 5  # a section holds 3,000 characters; a full line takes up to ~330
MARKS = {
    "drifted": ":red_circle:",
    "not_drifted": ":large_green_circle:",
    "untested": ":grey_question:",  # could not be tested
}
METHODS = {
    "ks": "KS",
    "chisquare": "χ²",
    "wasserstein": "Wasserstein",
    "jensenshannon": "Jensen–Shannon",
    "psi": "PSI",
}


def feature_line(row: dict[str, Any]) -> str:
    """`name` · test statistic · p (adj) vs α, or distance vs threshold · PSI (band) · n, nulls."""
    name = f"`{esc(clip(str(row['feature']), 60))}`"
    mark = MARKS[row["status"]]
    sizes = drift_table.counts(row)
    if row["status"] == "untested":
        why = esc(clip(str(row["reason"] or "not tested"), 200))
        return f"{mark} {name} — untested: {why} · {sizes}"
    method = METHODS.get(str(row["method"]), str(row["method"]))
    statistic, threshold = drift_table.num(row["statistic"]), drift_table.num(row["threshold"])
    if row["method"] in P_VALUE_METHODS:  # the threshold is on p, not on the statistic
        test = f"{method} {statistic} · {drift_table.evidence(row)} vs α {threshold}"
    else:
        test = f"{method} {statistic} vs {threshold}"
    score = row["drift_score"]
    band = f" ({row['psi_band']})" if row["psi_band"] else ""
    return (
        f"{mark} {name} {row['type']} · {test}"
        + (f" · score {drift_table.num(score)}" if score is not None else "")
        + f" · PSI {drift_table.num(row['psi'])}{band} · {sizes}"
    )


def features_reply(doc: ReportDocument, record_id: str, page: int = 1) -> Reply:
    """One page of every feature of a drift report (ephemeral "Show all features")."""
    if not isinstance(doc, DriftDocument) or not doc.features:
        return Reply("No features in this report.", [section("No features in this report.")])
    table = drift_table.rows(doc.features)
    pages = max(1, math.ceil(len(table) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    lines = [feature_line(r) for r in drift_table.page(table, page, PAGE_SIZE)]
    first = (page - 1) * PAGE_SIZE + 1
    title = f"All features ({len(table)})" + (f", page {page} of {pages}" if pages > 1 else "")
    blocks: list[Block] = [header(title)]
    blocks += [
        section("\n".join(lines[i : i + LINES_PER_SECTION]))
        for i in range(0, len(lines), LINES_PER_SECTION)
    ]
    p_kind = "BH-adjusted p" if doc.correction == "bh" else "raw p"
    blocks.append(
        context(
            f"Features {first}–{first + len(lines) - 1} of {len(table)}, most severe first; "
            f"verdicts on {p_kind}. PSI is context (stable < 0.1 ≤ moderate < 0.25 ≤ major). "
            f"n and nulls: reference/current. The full table is `{drift_table.FILENAME}` in the "
            "report's thread."
        )
    )
    buttons = []
    if page > 1:
        buttons.append(
            ButtonElement(
                text="‹ Previous", action_id=ids.REPORT_PAGE_PREV, value=f"{record_id}:{page - 1}"
            )
        )
    if page < pages:
        buttons.append(
            ButtonElement(
                text="Next ›", action_id=ids.REPORT_PAGE_NEXT, value=f"{record_id}:{page + 1}"
            )
        )
    if buttons:
        blocks.append(ActionsBlock(block_id=f"features:{record_id}", elements=buttons))
    return Reply(f"{title}\n" + "\n".join(lines), blocks)
