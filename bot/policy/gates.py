"""Gates: metric gates `<metric> <op> <rhs>` (SPEC §3), parsed with a regex and never
`eval`-ed, and the `signature_compatible` gate (evaluated in bot.approvals.modelcard)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_GATE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.\-/:]*)\s*(?P<op>>=|<=|==|>|<)\s*(?P<rhs>.+?)\s*$"
)
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RHS_NUMBER = re.compile(rf"^{_NUMBER}$")
_RHS_CHAMPION = re.compile(rf"^champion(?:\s*(?P<arith>[-+*])\s*(?P<num>{_NUMBER}))?$")


class GateKind(StrEnum):
    """What a gate checks: a run metric, or the model signatures of candidate and holder."""

    METRIC = "metric"
    SIGNATURE_COMPATIBLE = "signature_compatible"


class GateSyntaxError(ValueError):
    """A gate expression that does not follow the grammar."""


@dataclass(frozen=True)
class Gate:
    """One parsed gate: `metric op rhs`, where rhs is a constant or relative to the holder."""

    text: str
    metric: str
    op: str
    constant: float | None = None  # set when rhs is a plain number
    arith: str | None = None  # "+", "-" or "*" applied to the holder's value
    operand: float | None = None
    kind: GateKind = GateKind.METRIC

    @property
    def relative(self) -> bool:
        return self.constant is None

    def threshold(self, holder_value: float | None) -> float | None:
        """The value the candidate's metric is compared with."""
        if self.constant is not None:
            return self.constant
        if holder_value is None:
            return None
        if self.arith is None or self.operand is None:
            return holder_value
        if self.arith == "+":
            return holder_value + self.operand
        if self.arith == "-":
            return holder_value - self.operand
        return holder_value * self.operand


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    passed: bool
    candidate: float | None
    threshold: float | None
    reason: str


def parse_gate(text: str) -> Gate:
    """Parse one gate; raise GateSyntaxError with a message naming what is wrong."""
    if not isinstance(text, str):
        raise GateSyntaxError("a gate must be a string like 'accuracy >= 0.8'")
    if text.strip() == GateKind.SIGNATURE_COMPATIBLE:
        return Gate(text=text.strip(), metric="", op="", kind=GateKind.SIGNATURE_COMPATIBLE)
    m = _GATE.match(text)
    if not m:
        raise GateSyntaxError(
            f"{text!r} is not '<metric> <op> <rhs>' with op one of >= > <= < ==, "
            f"nor '{GateKind.SIGNATURE_COMPATIBLE}'"
        )
    rhs = m.group("rhs")
    if _RHS_NUMBER.match(rhs):
        value = float(rhs)
        if not math.isfinite(value):
            raise GateSyntaxError(f"{text!r}: the threshold must be a finite number")
        return Gate(text=text.strip(), metric=m.group("metric"), op=m.group("op"), constant=value)
    rel = _RHS_CHAMPION.match(rhs)
    if rel:
        num = rel.group("num")
        return Gate(
            text=text.strip(),
            metric=m.group("metric"),
            op=m.group("op"),
            arith=rel.group("arith"),
            operand=float(num) if num is not None else None,
        )
    raise GateSyntaxError(
        f"{text!r}: the right-hand side must be a number, 'champion', "
        "'champion + n', 'champion - n' or 'champion * n'"
    )


def evaluate(
    gate: Gate, candidate: Mapping[str, float], holder: Mapping[str, float] | None
) -> GateResult:
    """Evaluate a metric gate against the candidate's and the current holder's run metrics."""
    if gate.kind != GateKind.METRIC:
        raise ValueError(f"{gate.text!r} is not a metric gate")
    value = candidate.get(gate.metric)
    if value is None or not math.isfinite(value):
        return GateResult(gate, False, None, None, f"candidate has no metric `{gate.metric}`")
    holder_value = None
    if gate.relative:
        if holder is None:
            return GateResult(gate, False, value, None, "no current holder to compare with")
        holder_value = holder.get(gate.metric)
        if holder_value is None or not math.isfinite(holder_value):
            return GateResult(gate, False, value, None, f"holder has no metric `{gate.metric}`")
    threshold = gate.threshold(holder_value)
    assert threshold is not None
    passed = _OPS[gate.op](value, threshold)
    reason = f"{value:.4g} {gate.op} {threshold:.4g}"
    return GateResult(gate, passed, value, threshold, reason)
