"""The model card of a promotion request: the candidate against the current holder.

Plain functions over what the request stored (its snapshot): params that changed, the signature
diff (added, removed and retyped columns), and the `signature_compatible` gate, which fails
when the candidate needs an input column the holder did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.policy.gates import Gate
from bot.registry.gateway import VersionInfo
from bot.registry.lineage import Column, Lineage, Signature


@dataclass(frozen=True)
class Retyped:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class ColumnsDiff:
    """One side of a signature (inputs or outputs), holder → candidate."""

    added: list[Column] = field(default_factory=list)
    removed: list[Column] = field(default_factory=list)
    retyped: list[Retyped] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)


@dataclass(frozen=True)
class SignatureDiff:
    inputs: ColumnsDiff
    outputs: ColumnsDiff

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)

    @property
    def new_required_inputs(self) -> list[Column]:
        return [c for c in self.inputs.added if c.required]


def diff_columns(old: list[Column], new: list[Column]) -> ColumnsDiff:
    """Columns matched by name: the ones only in `new`, only in `old`, and retyped ones (a
    column that became required counts as retyped: callers must now send it)."""
    before = {c.name: c for c in old}
    after = {c.name: c for c in new}
    retyped = []
    for name in after.keys() & before.keys():
        o, n = before[name], after[name]
        if (o.type, o.required) != (n.type, n.required):
            retyped.append(Retyped(name, _shown(o), _shown(n)))
    return ColumnsDiff(
        added=[c for c in new if c.name not in before],
        removed=[c for c in old if c.name not in after],
        retyped=sorted(retyped, key=lambda r: r.name),
    )


def _shown(c: Column) -> str:
    return c.type if c.required else f"{c.type} (optional)"


def diff_signatures(candidate: Signature, holder: Signature) -> SignatureDiff:
    return SignatureDiff(
        inputs=diff_columns(holder.inputs, candidate.inputs),
        outputs=diff_columns(holder.outputs, candidate.outputs),
    )


def changed_params(
    candidate: Mapping[str, str], holder: Mapping[str, str]
) -> list[tuple[str, str | None, str | None]]:
    """(name, holder's value, candidate's value) of each param that differs, by name."""
    names = sorted(set(candidate) | set(holder))
    return [
        (n, holder.get(n), candidate.get(n)) for n in names if holder.get(n) != candidate.get(n)
    ]


def signature_gate(
    gate: Gate, candidate: Lineage, holder: Lineage | None, holder_version: str | None
) -> dict[str, Any]:
    """`signature_compatible`: the candidate accepts every request the holder accepted, as far
    as the signatures tell: it needs no input column (required) that the holder did not."""

    def result(passed: bool, reason: str) -> dict[str, Any]:
        return {"text": gate.text, "passed": passed, "reason": reason}

    if holder_version is None or holder is None:
        return result(True, "no current holder: no callers to stay compatible with")
    if candidate.signature is None:
        why = candidate.signature_error or "no signature logged"
        return result(False, f"the candidate's signature is unknown ({why})")
    if holder.signature is None:
        why = holder.signature_error or "no signature logged"
        return result(False, f"the signature of holder v{holder_version} is unknown ({why})")
    diff = diff_signatures(candidate.signature, holder.signature)
    needed = diff.new_required_inputs
    if needed:
        names = ", ".join(f"`{c.name}`" for c in needed[:10])
        more = f" and {len(needed) - 10} more" if len(needed) > 10 else ""
        return result(False, f"needs input column(s) v{holder_version} did not: {names}{more}")
    return result(True, f"needs no input column that v{holder_version} did not")


def lineage_of(side: Mapping[str, Any] | None) -> Lineage | None:
    """The lineage stored in one side of a request's snapshot (None for older requests)."""
    if not side or not isinstance(side.get("lineage"), dict):
        return None
    return Lineage.model_validate(side["lineage"])


def card_snapshot(
    candidate: VersionInfo,
    holder: VersionInfo | None,
    gates: list[dict[str, Any]],
    lineages: tuple[Lineage, Lineage | None],
    version_url: str | None,
    run_url: str | None,
) -> dict[str, Any]:
    """What the card shows, as it was when the request was opened (the request's snapshot)."""
    held = None
    if holder is not None:
        held = {
            "version": holder.version,
            "metrics": holder.metrics,
            "params": holder.params,
            "lineage": lineages[1].model_dump() if lineages[1] else None,
        }
    return {
        "candidate": {
            "metrics": candidate.metrics,
            "run_id": candidate.run_id,
            "source": candidate.source,
            "params": candidate.params,
            "lineage": lineages[0].model_dump(),
        },
        "holder": held,
        "gates": gates,
        "version_url": version_url,
        "run_url": run_url,
    }
