"""What the drift engine returns: per-feature verdicts, the dataset verdict, and the
per-feature overrides a policy file may set.

The field contract of issue 14: a feature keeps its raw ``p_value`` and gains the
Benjamini-Hochberg ``p_value_adjusted``, its row counts, a PSI band, an uncapped
``drift_score`` (1.0 = at the threshold) and a ``status``; :func:`by_severity` is the one order
in which features are listed everywhere (JSON, Slack, CSV, charts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar, get_args

Method = Literal["ks", "wasserstein", "psi", "chisquare", "jensenshannon"]
FeatureType = Literal["numeric", "categorical"]

METHODS: tuple[str, ...] = get_args(Method)
P_VALUE_METHODS = frozenset({"ks", "chisquare"})
# log() of a p-value that underflowed to 0.0 would be -inf: the smallest normal float stands in
_TINY_P = 2.2250738585072014e-308


class Correction(StrEnum):
    """Multiple-testing correction across the p-value tests of one report."""

    BH = "bh"  # Benjamini-Hochberg (false discovery rate)
    NONE = "none"  # raw p-values, Evidently's verdicts


class FeatureStatus(StrEnum):
    DRIFTED = "drifted"
    NOT_DRIFTED = "not_drifted"
    UNTESTED = "untested"


class PsiBand(StrEnum):
    """The usual reading of a population stability index."""

    STABLE = "stable"  # < 0.1
    MODERATE = "moderate"  # 0.1 .. 0.25
    MAJOR = "major"  # >= 0.25


def psi_band(psi: float | None) -> PsiBand | None:
    if psi is None or not math.isfinite(psi):
        return None
    return PsiBand.STABLE if psi < 0.1 else PsiBand.MODERATE if psi < 0.25 else PsiBand.MAJOR


def drift_score(
    method: str | None, statistic: float | None, p_used: float | None, threshold: float | None
) -> float | None:
    """How far past its threshold a feature is, uncapped: 1.0 is the threshold, > 1 drift.

    p-value methods: log(p) / log(threshold); distances: statistic / threshold.
    """
    if method is None or threshold is None or threshold <= 0:
        return None
    if method in P_VALUE_METHODS:
        if p_used is None or not 0 < threshold < 1:
            return None
        return math.log(max(p_used, _TINY_P)) / math.log(threshold)
    if statistic is None:
        return None
    score = statistic / threshold
    return score if math.isfinite(score) else None


@dataclass(frozen=True)
class FeatureOverride:
    """Per-feature override of the drift method and/or its threshold (policy file)."""

    method: Method | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"unknown drift method {self.method!r}; use one of {METHODS}")
        if self.threshold is not None and not (
            isinstance(self.threshold, int | float) and math.isfinite(self.threshold)
        ):
            raise ValueError(f"drift threshold must be a finite number, got {self.threshold!r}")


@dataclass(kw_only=True)
class FeatureDrift:
    """Drift verdict for one feature. ``drifted`` is None when it could not be tested (then
    ``reason`` says why); what is not known (yet) is None. ``p_value`` is always the raw one."""

    name: str
    type: FeatureType
    method: Method | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    psi: float | None = None
    missing_reference: int
    missing_current: int
    n_reference: int = 0
    n_current: int = 0
    reason: str | None = None

    @property
    def p_used(self) -> float | None:
        """The p-value the verdict is made on: adjusted when a correction applied."""
        return self.p_value_adjusted if self.p_value_adjusted is not None else self.p_value

    @property
    def status(self) -> FeatureStatus:
        if self.drifted is None:
            return FeatureStatus.UNTESTED
        return FeatureStatus.DRIFTED if self.drifted else FeatureStatus.NOT_DRIFTED

    @property
    def drift_score(self) -> float | None:
        if self.drifted is None:
            return None
        return drift_score(self.method, self.statistic, self.p_used, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "p_value_adjusted": _finite(self.p_value_adjusted),
            "threshold": _finite(self.threshold),
            "drifted": self.drifted,
            "status": str(self.status),
            "drift_score": _finite(self.drift_score),
            "psi": _finite(self.psi),
            "psi_band": psi_band(self.psi),
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "missing_reference": int(self.missing_reference),
            "missing_current": int(self.missing_current),
        }
        if out["psi_band"] is not None:
            out["psi_band"] = str(out["psi_band"])
        if self.reason is not None:
            out["reason"] = self.reason
        return out


class _Ranked(Protocol):
    @property
    def drifted(self) -> bool | None: ...

    @property
    def drift_score(self) -> float | None: ...

    @property
    def method(self) -> str | None: ...

    @property
    def statistic(self) -> float | None: ...

    @property
    def p_value(self) -> float | None: ...

    @property
    def threshold(self) -> float | None: ...


R = TypeVar("R", bound=_Ranked)


def by_severity(features: Iterable[R]) -> list[R]:
    """Drifted first, then by drift score (highest first), untested last. Ties (adjusted
    p-values are often equal) are broken by the raw p-value's score, then the input order."""

    def key(f: R) -> tuple[int, float, float]:
        group = 0 if f.drifted else 1 if f.drifted is False else 2
        raw = drift_score(f.method, f.statistic, f.p_value, f.threshold)
        return group, -_or_floor(f.drift_score), -_or_floor(raw)

    return sorted(features, key=key)


def _or_floor(score: float | None) -> float:
    return score if score is not None and math.isfinite(score) else -math.inf


@dataclass
class DriftResult:
    """Per-feature drift (in severity order), the dataset verdict, schema changes and the
    data-quality section. The dataset share counts the verdicts after the correction."""

    features: list[FeatureDrift]
    drifted_share: float
    dataset_drift: bool
    quality: dict[str, Any]
    correction: Correction = Correction.BH
    schema: dict[str, list[Any]] = field(
        default_factory=lambda: {"missing": [], "new": [], "changed_types": []}
    )
    compared: int = 0  # columns present on both sides (0: nothing to compare, a failed report)

    @property
    def schema_changed(self) -> bool:
        return any(self.schema.get(k) for k in ("missing", "new", "changed_types"))

    @property
    def alert(self) -> bool:
        """Dataset drift, any drifted feature, or a schema change."""
        return self.dataset_drift or self.schema_changed or any(f.drifted for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        """The drift fragment of the SPEC §7 report JSON (no NaN or inf anywhere)."""
        return {
            "correction": str(self.correction),
            "schema": self.schema,
            "features": [f.to_dict() for f in self.features],
            "drifted_share": _finite(self.drifted_share) or 0.0,
            "dataset_drift": bool(self.dataset_drift),
            "quality": self.quality,
        }


def _finite(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
