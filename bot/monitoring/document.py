"""The report document: `report.json`, the body of a stored `ReportRecord` (SPEC §7).

One typed model per report kind, told apart by `kind`. Key names are those of `report.json`
(users' pipelines read it). Optional keys the producers leave out (a feature's `reason`, a
column's `out_of_range_share`…) stay out: documents are dumped with `exclude_unset`, so a body
reads back exactly as it was written. Non-finite numbers become null, as JSON has none.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from bot.monitoring.performance.measure import Task


class ReportKind(StrEnum):
    """What a report measures; the values are stored (schedules, records, audit details)."""

    DRIFT = "drift"
    PERF = "perf"


class DocumentError(ValueError):
    """A stored report body that is not a report document; the message says why in one line."""


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# a statistic that may be missing; NaN and ±inf are read as missing
Stat = Annotated[float | None, BeforeValidator(_finite_or_none)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Partitions(_Part):
    """A current folder or glob read file by file: how many files, how many of them this
    report profiled (the others' profiles were stored by earlier reports)."""

    files: int
    profiled: int


class DatasetSummary(_Part):
    uri: str
    rows: int
    # a monitor's drift on the numpy engine: the reference's statistics came from a stored
    # profile ("cached") or were computed by this report ("computed")
    profile: Literal["cached", "computed"] | None = None
    partitions: Partitions | None = None


class DriftFeature(_Part):
    """One feature's drift verdict; `drifted` is None when it could not be tested (`reason`).

    `p_value` is the raw p, `p_value_adjusted` the Benjamini-Hochberg one (None without a
    correction); `drift_score` is 1.0 at the threshold, uncapped. Bodies stored before issue 14
    lack the keys from `p_value_adjusted` on (they read as None).
    """

    name: str
    type: str  # numeric | categorical
    method: str | None  # ks | chisquare | wasserstein | jensenshannon | psi
    statistic: Stat
    p_value: Stat
    p_value_adjusted: Stat = None
    threshold: Stat
    drifted: bool | None
    status: Literal["drifted", "not_drifted", "untested"] | None = None
    drift_score: Stat = None
    psi: Stat
    psi_band: Literal["stable", "moderate", "major"] | None = None
    n_reference: int | None = None
    n_current: int | None = None
    missing_reference: int
    missing_current: int
    reason: str | None = None

    @property
    def p_used(self) -> float | None:
        """The p-value the verdict was made on."""
        return self.p_value_adjusted if self.p_value_adjusted is not None else self.p_value


class CategoryCount(_Part):
    name: str
    count: int


class NewCategories(_Part):
    """Current values in categories the reference never saw; the rare ones are `other`."""

    values: int
    distinct: int
    top: list[CategoryCount]
    other: int


class Freshness(_Part):
    """A date column: its newest value per side (ISO 8601, UTC) and the current one's age at
    the report time."""

    newest_reference: str | None
    newest_current: str | None
    age_seconds: Stat


class ColumnQuality(_Part):
    """Data quality of one common column (only `name` when the column could not be analysed)."""

    name: str
    missing_rate_reference: Stat = None
    missing_rate_current: Stat = None
    out_of_range_share: Stat = None  # numeric columns
    new_categories: NewCategories | None = None  # categorical columns
    freshness: Freshness | None = None  # date columns
    warning: str | None = None  # e.g. a reference std below the Wasserstein floor


class ChangedType(_Part):
    name: str
    reference: str
    current: str


class UnsupportedColumn(_Part):
    name: str
    dtype: str


class DataQuality(_Part):
    missing_columns: list[str]
    extra_columns: list[str]
    unknown_columns: list[str]
    changed_types: list[ChangedType]
    unsupported_columns: list[UnsupportedColumn]
    columns: list[ColumnQuality]


class PerformanceWindow(_Part):
    start: str  # ISO 8601
    rows: int
    metrics: dict[str, Stat]
    end: str | None = None  # exclusive
    periods: int = 1  # `window`-wide periods merged into this one (each had too few rows)
    intervals: dict[str, list[float]] = Field(default_factory=dict)  # 95 %: [low, high]


class ConfusionCounts(_Part):
    """Rows per cell at the decision threshold (positive = the larger class: 1, True, yes)."""

    tp: int
    fp: int
    fn: int
    tn: int


class ReliabilityBin(_Part):
    low: float
    high: float
    mean_score: float
    observed_rate: float
    rows: int
    interval: list[float] | None = None  # 95 % Wilson interval of observed_rate


class ResidualBin(_Part):
    """Residuals (actual − predicted) of one prediction decile."""

    low: float
    high: float
    rows: int
    mean: float
    p10: float
    median: float
    p90: float


class VersionPerformance(_Part):
    """The rows one model version predicted (`model_version` column), against its own run."""

    version: str  # "unknown" for rows without a version
    rows: int
    metrics: dict[str, Stat]
    intervals: dict[str, list[float]]
    baseline: dict[str, Stat]
    baseline_source: str | None
    degraded: list[str]


class ColumnDrift(_Part):
    """Drift of the prediction or target columns between the reference and current data."""

    features: list[DriftFeature]
    missing: list[str]  # not in one of the two data sets


class CbpeWindow(_Part):
    """One window of CBPE: estimated metrics, their sampling band, the realised ones."""

    start: str | None = None  # absent without a timestamp column: all current rows
    end: str | None = None
    rows: int
    estimated: dict[str, Stat]
    lower: dict[str, Stat]
    upper: dict[str, Stat]
    confusion: dict[str, Stat]  # expected tp, fp, fn, tn
    labelled_rows: int
    realised: dict[str, Stat]
    alerts: list[str]  # the band lies below the reference's realised value


class Cbpe(_Part):
    """Confidence-based performance estimation; only `reason` when it could not run."""

    reason: str | None = None
    calibration: str | None = None  # raw | isotonic
    calibration_note: str | None = None
    reference_rows: int | None = None
    reference: dict[str, Stat] = Field(default_factory=dict)
    decision_threshold: float | None = None
    windows: list[CbpeWindow] = Field(default_factory=list)
    alerts: list[str] = Field(default_factory=list)  # of the latest window


class Performance(_Part):
    task: Task
    rows: int
    metrics: dict[str, Stat]
    baseline: dict[str, Stat]  # logged on the run of the version that made the predictions
    threshold: float  # relative degradation that flags a metric
    degraded: list[str]
    degradation: bool
    windows: list[PerformanceWindow]
    intervals: dict[str, list[float]] = Field(default_factory=dict)  # 95 %: [low, high]
    baseline_source: str | None = None  # "metrics logged on run … (v1)"
    min_window_rows: int | None = None
    versions: list[VersionPerformance] = Field(default_factory=list)
    version_note: str | None = None  # version unknown, or several versions
    score: str | None = None  # the score column
    decision_threshold: float | None = None
    positive_label: str | None = None
    confusion: ConfusionCounts | None = None
    reliability: list[ReliabilityBin] = Field(default_factory=list)
    residuals: list[ResidualBin] = Field(default_factory=list)  # regression
    prediction_drift: ColumnDrift | None = None
    target_drift: ColumnDrift | None = None
    cbpe: Cbpe | None = None
    reference_note: str | None = None  # the reference could not be read: why


class _Document(_Part):
    kind: ReportKind
    model: str | None
    alias: str | None
    version: str | None
    run_id: str | None

    def to_json(self, *, indent: int | None = None) -> str:
        """The document as JSON; the keys the producer left out stay out."""
        return self.model_dump_json(indent=indent, exclude_unset=True, by_alias=True)


class SchemaChanges(_Part):
    """Columns missing from current, new in current, or of another kind (number, text, date)."""

    missing: list[str]
    new: list[str]
    changed_types: list[ChangedType]

    @property
    def changed(self) -> bool:
        return bool(self.missing or self.new or self.changed_types)


class DriftDocument(_Document):
    kind: Literal[ReportKind.DRIFT]
    reference: DatasetSummary
    current: DatasetSummary
    correction: Literal["bh", "none"] | None = None  # None: stored before issue 14 (raw p)
    schema_changes: SchemaChanges | None = Field(default=None, alias="schema")
    features: list[DriftFeature]
    drifted_share: float
    dataset_drift: bool
    quality: DataQuality
    engine: str | None = None  # numpy | duckdb: where the statistics were computed
    generated_at: str  # UTC, "%Y-%m-%dT%H:%M:%SZ"


class PerfDocument(_Document):
    kind: Literal[ReportKind.PERF]
    current: DatasetSummary
    reference: DatasetSummary | None = None  # read for prediction/target drift and CBPE
    performance: Performance
    generated_at: str  # UTC, "%Y-%m-%dT%H:%M:%SZ"


ReportDocument = Annotated[DriftDocument | PerfDocument, Field(discriminator="kind")]
_DOCUMENT: TypeAdapter[ReportDocument] = TypeAdapter(ReportDocument)


def build_document(data: dict[str, Any]) -> ReportDocument:
    """The document of what `make_report` computed (a bug there fails here, loudly)."""
    return _DOCUMENT.validate_python(data)


def parse_document(text: str | bytes) -> ReportDocument:
    """Read a stored body or a `report.json`; DocumentError when it is not a report document."""
    try:
        return _DOCUMENT.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise DocumentError(
            f"not a report document ({exc.error_count()} error(s); {where}: {first['msg']})"
        ) from None
