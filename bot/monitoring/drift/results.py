"""What the drift engine returns: per-feature verdicts, the dataset verdict, and the
per-feature overrides a policy file may set."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

Method = Literal["ks", "wasserstein", "psi", "chisquare", "jensenshannon"]
FeatureType = Literal["numeric", "categorical"]

METHODS: tuple[str, ...] = get_args(Method)


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
    """Drift verdict for one feature. ``drifted`` is None when it could not be tested; what
    is not known (yet) is None."""

    name: str
    type: FeatureType
    method: Method | None = None
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    psi: float | None = None
    missing_reference: int
    missing_current: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": _finite(self.threshold),
            "drifted": self.drifted,
            "psi": _finite(self.psi),
            "missing_reference": int(self.missing_reference),
            "missing_current": int(self.missing_current),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class DriftResult:
    """Per-feature drift, the dataset verdict and the data-quality section.

    With ``correction == "bh"`` the ``p_value`` of KS and chi-squared features is the
    Benjamini-Hochberg adjusted one, and the verdicts use it.
    """

    features: list[FeatureDrift]
    drifted_share: float
    dataset_drift: bool
    quality: dict[str, Any]
    correction: Literal["bh"] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The drift fragment of the SPEC §7 report JSON (no NaN or inf anywhere)."""
        return {
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
