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

from bot.monitoring.performance import Task


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


class DatasetSummary(_Part):
    uri: str
    rows: int


class DriftFeature(_Part):
    """One feature's drift verdict; `drifted` is None when it could not be tested (`reason`)."""

    name: str
    type: str  # numeric | categorical
    method: str | None  # ks | chisquare | wasserstein | jensenshannon | psi
    statistic: Stat
    p_value: Stat
    threshold: Stat
    drifted: bool | None
    psi: Stat
    missing_reference: int
    missing_current: int
    reason: str | None = None


class CategoryCount(_Part):
    name: str
    count: int


class NewCategories(_Part):
    """Current values in categories the reference never saw; the rare ones are `other`."""

    values: int
    distinct: int
    top: list[CategoryCount]
    other: int


class ColumnQuality(_Part):
    """Data quality of one common column (only `name` when the column could not be analysed)."""

    name: str
    missing_rate_reference: Stat = None
    missing_rate_current: Stat = None
    out_of_range_share: Stat = None  # numeric columns
    new_categories: NewCategories | None = None  # categorical columns


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


class Performance(_Part):
    task: Task
    rows: int
    metrics: dict[str, Stat]
    baseline: dict[str, Stat]  # logged on the version's run
    threshold: float  # relative degradation that flags a metric
    degraded: list[str]
    degradation: bool
    windows: list[PerformanceWindow]


class _Document(_Part):
    kind: ReportKind
    model: str | None
    alias: str | None
    version: str | None
    run_id: str | None

    def to_json(self, *, indent: int | None = None) -> str:
        """The document as JSON; the keys the producer left out stay out."""
        return self.model_dump_json(indent=indent, exclude_unset=True)


class DriftDocument(_Document):
    kind: Literal[ReportKind.DRIFT]
    reference: DatasetSummary
    current: DatasetSummary
    features: list[DriftFeature]
    drifted_share: float
    dataset_drift: bool
    quality: DataQuality
    engine: str | None = None  # numpy | duckdb: where the statistics were computed
    generated_at: str  # UTC, "%Y-%m-%dT%H:%M:%SZ"


class PerfDocument(_Document):
    kind: Literal[ReportKind.PERF]
    current: DatasetSummary
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
