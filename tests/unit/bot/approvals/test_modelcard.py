"""The model card's comparisons: signature diff, changed params, the `signature_compatible` gate."""

from __future__ import annotations

import pytest

from bot.approvals.modelcard import (
    changed_params,
    diff_signatures,
    signature_gate,
)
from bot.policy.gates import GateKind, GateSyntaxError, evaluate, parse_gate
from bot.registry.lineage import Column, Lineage, Signature

GATE = parse_gate("signature_compatible")


def sig(*inputs: tuple[str, str] | tuple[str, str, bool], out: str = "long") -> Signature:
    cols = [Column(name=c[0], type=c[1], required=c[2] if len(c) > 2 else True) for c in inputs]
    return Signature(inputs=cols, outputs=[Column(name="#0", type=out)])


def lin(signature: Signature | None, error: str = "") -> Lineage:
    return Lineage(signature=signature, signature_error=error)


def test_the_diff_names_added_removed_and_retyped_columns() -> None:
    holder = sig(("age", "long"), ("plan", "string"), ("tenure", "long"))
    candidate = sig(("age", "double"), ("tenure", "long"), ("region", "string"), out="double")
    diff = diff_signatures(candidate, holder)
    assert [c.name for c in diff.inputs.added] == ["region"]
    assert [c.name for c in diff.inputs.removed] == ["plan"]
    assert [(r.name, r.old, r.new) for r in diff.inputs.retyped] == [("age", "long", "double")]
    assert [(r.old, r.new) for r in diff.outputs.retyped] == [("long", "double")]
    assert not diff_signatures(holder, holder)


def test_a_new_required_column_fails_the_gate_a_removed_or_optional_one_does_not() -> None:
    holder = lin(sig(("age", "long"), ("plan", "string")))
    needs_more = lin(sig(("age", "long"), ("plan", "string"), ("region", "string")))
    r = signature_gate(GATE, needs_more, holder, "1")
    assert not r["passed"] and r["reason"] == "needs input column(s) v1 did not: `region`"
    fewer = lin(sig(("age", "long")))
    assert signature_gate(GATE, fewer, holder, "1")["passed"]
    optional = lin(sig(("age", "long"), ("plan", "string"), ("region", "string", False)))
    assert signature_gate(GATE, optional, holder, "1")["passed"]


def test_an_unknown_signature_fails_the_gate_and_no_holder_passes_it() -> None:
    known = lin(sig(("age", "long")))
    r = signature_gate(GATE, lin(None), known, "1")
    assert (
        not r["passed"] and "candidate's signature is unknown (no signature logged)" in r["reason"]
    )
    r = signature_gate(GATE, known, lin(None, "MLflow could not read it"), "1")
    assert not r["passed"] and "v1 is unknown (MLflow could not read it)" in r["reason"]
    assert signature_gate(GATE, known, None, None)["passed"]


def test_changed_params_by_name() -> None:
    changed = changed_params(
        {"depth": "3", "algo": "tree", "new": "x"}, {"depth": "6", "algo": "tree", "old": "y"}
    )
    assert changed == [("depth", "6", "3"), ("new", None, "x"), ("old", "y", None)]


def test_signature_compatible_is_a_gate_kind_of_its_own() -> None:
    assert GATE.kind == GateKind.SIGNATURE_COMPATIBLE
    assert parse_gate("roc_auc >= 0.8").kind == GateKind.METRIC
    with pytest.raises(ValueError, match="not a metric gate"):
        evaluate(GATE, {}, None)
    with pytest.raises(GateSyntaxError, match="nor 'signature_compatible'"):
        parse_gate("signature_compatble")
