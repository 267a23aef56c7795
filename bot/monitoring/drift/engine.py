"""The drift engine's entry points: profile a reference once, compare a current frame with it.

``compute_drift`` loops over the columns (in a thread pool), then applies the correction and
the dataset verdict and assembles the schema part of the quality section.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from bot.monitoring.drift.compare import _compare, _freshness
from bot.monitoring.drift.numeric import _quantile_grid
from bot.monitoring.drift.profiles import (
    ColumnProfile,
    ReferenceProfile,
    _add_reference_stats,
    _positions,
    _profile_column,
)
from bot.monitoring.drift.results import (
    Correction,
    DriftResult,
    FeatureDrift,
    FeatureOverride,
    by_severity,
)
from bot.monitoring.drift.verdicts import DATASET_DRIFT_SHARE, _apply_bh

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


def profile_reference(
    reference: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    exclude: Collection[str] = frozenset(),
) -> ReferenceProfile:
    """Profile ``reference`` once; pass the result to :func:`compute_drift` as ``reference``."""
    positions = _positions(reference)
    excluded = {str(c) for c in exclude}
    names = [str(c) for c in (columns if columns is not None else positions)]
    profile = ReferenceProfile(rows=len(reference))
    for name in dict.fromkeys(names):
        if name in positions and name not in excluded:
            col = _profile_column(name, reference.iloc[:, positions[name]])
            with np.errstate(all="ignore"):
                _add_reference_stats(col)
            profile.columns[name] = col
    return profile


def compute_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame | ReferenceProfile,
    *,
    features: Mapping[str, FeatureOverride] | None = None,
    correction: Correction | str | None = Correction.BH,
    columns: Sequence[str] | None = None,
    exclude: Collection[str] = frozenset(),
    workers: int | None = None,
    now: datetime | None = None,
    freshness: Collection[str] = (),
    on_column: Callable[[int, int], None] | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` per SPEC §7; never raises on odd data.

    ``columns`` restricts the analysis (default: every column of either side), ``exclude``
    removes columns (targets, predictions, timestamps), ``features`` overrides method and
    threshold per column. Column names are compared as strings. ``workers`` threads process
    columns concurrently (default: up to 4, one per CPU); results do not depend on it.
    ``correction``: "bh" (default) adjusts the p-values across features (Benjamini-Hochberg),
    "none" (or None) keeps the raw ones. ``now`` is the report time, for the freshness of date
    columns (the caller's clock; without it no age is given). ``freshness`` names date columns
    that are not compared (a monitor's timestamp) but whose newest value data quality reports.
    ``on_column(done, total)`` is told after each compared column (progress). Features come
    in severity order. ``current`` may be a profile too (merged partition profiles, from
    ``profile_merge``); the statistics are those of the frame it was built from.
    """
    try:
        fix = Correction.NONE if correction is None else Correction(correction)
    except ValueError:
        raise ValueError(f"unknown correction {correction!r}; use 'bh' or 'none'") from None
    overrides = dict(features or {})
    excluded = {str(c) for c in exclude}

    cur_pos = _side_positions(current)
    ref_pos: dict[str, int] = {}
    if isinstance(reference, ReferenceProfile):
        ref_names = list(reference.columns)
    else:
        ref_pos = _positions(reference)
        ref_names = list(ref_pos)
    ref_set = set(ref_names)

    if columns is not None:
        wanted = [str(c) for c in columns]
        unknown = [c for c in wanted if c not in ref_set and c not in cur_pos]
    else:
        wanted = ref_names + [c for c in cur_pos if c not in ref_set]
        unknown = []
    wanted = [c for c in dict.fromkeys(wanted) if c not in excluded]

    def one_column(name: str) -> tuple[str, str, FeatureDrift | None, dict[str, Any], str]:
        # returns no arrays, so a finished column's memory is freed at once
        ref_dtype = cur_dtype = "?"
        kinds = ""
        try:
            if isinstance(reference, ReferenceProfile):
                ref = reference.columns[name]
            else:
                ref = _profile_column(name, reference.iloc[:, ref_pos[name]])
            ref_dtype = ref.dtype
            cur = _side_column(current, cur_pos, name)
            cur_dtype = cur.dtype
            with np.errstate(all="ignore"):  # overflow on ±1e308 data ends up as a null statistic
                if not isinstance(reference, ReferenceProfile):
                    _add_reference_stats(ref)
                feature, quality = _compare(ref, cur, overrides.get(name), now)
            if ref.kind is not None and cur.kind is not None and ref.kind != cur.kind:
                kinds = f"{ref.kind}>{cur.kind}"
        except Exception as exc:  # a bug on one column must not sink the whole report
            logger.exception("drift: column %r could not be analysed", name)
            feature, quality = unanalysed(name, exc)
        return ref_dtype, cur_dtype, feature, quality, kinds

    common = [c for c in wanted if c in ref_set and c in cur_pos]
    n_workers = max(1, min(workers if workers is not None else DEFAULT_WORKERS, len(common)))
    done: Iterator[tuple[str, str, FeatureDrift | None, dict[str, Any], str]]
    if n_workers == 1:
        done = map(one_column, common)
    else:  # sorting and the array passes release the GIL, so columns overlap on cores
        pool = ThreadPoolExecutor(n_workers, thread_name_prefix="drift")
        done = pool.map(one_column, common)
    rows: list[ColumnOutcome] = []
    try:
        for name, (ref_dtype, cur_dtype, feature, quality, kinds) in zip(common, done, strict=True):
            rows.append(ColumnOutcome(name, ref_dtype, cur_dtype, feature, quality, kinds))
            if on_column is not None:
                on_column(len(rows), len(common))
    finally:
        if n_workers > 1:
            pool.shutdown(cancel_futures=True)
    _quantile_grid.cache_clear()  # up to ~32 bytes per value; not worth keeping across calls

    fresh: list[dict[str, Any]] = []
    for name in dict.fromkeys(str(c) for c in freshness):
        entry = _freshness_only(name, reference, ref_pos, current, cur_pos, now)
        if entry is not None:
            fresh.append(entry)
    return assemble(
        rows,
        wanted=wanted,
        ref_names=ref_set,
        cur_names=set(cur_pos),
        unknown=unknown,
        correction=fix,
        freshness=fresh,
    )


def unanalysed(name: str, exc: Exception) -> tuple[FeatureDrift, dict[str, Any]]:
    """The verdict and quality entry of a column whose comparison raised ``exc`` (a bug on
    one column must not sink the whole report: it is shown untested, with the reason)."""
    feature = FeatureDrift(
        name=name,
        type="numeric",
        missing_reference=0,
        missing_current=0,
        reason=f"could not be analysed ({type(exc).__name__})",
    )
    return feature, {"name": name}


@dataclass
class ColumnOutcome:
    """One common column compared: its dtypes, verdict (None: not tested), quality entry and
    ``kinds`` ("numeric>categorical" when its kind changed, else "")."""

    name: str
    ref_dtype: str
    cur_dtype: str
    feature: FeatureDrift | None
    quality: dict[str, Any]
    kinds: str = ""


def assemble(
    columns: Sequence[ColumnOutcome],
    *,
    wanted: Sequence[str],
    ref_names: Collection[str],
    cur_names: Collection[str],
    unknown: list[str],
    correction: Correction,
    freshness: Sequence[dict[str, Any]] = (),
) -> DriftResult:
    """The end of :func:`compute_drift`, shared by every engine: schema changes, the quality
    section, the correction, the dataset verdict, severity order. ``freshness`` holds the
    quality entries of date columns checked only for freshness."""
    results: list[FeatureDrift] = []
    quality_columns: list[dict[str, Any]] = []
    changed_types: list[dict[str, str]] = []
    unsupported: list[dict[str, str]] = []
    retyped: list[dict[str, str]] = []
    for col in columns:
        change = {"name": col.name, "reference": col.ref_dtype, "current": col.cur_dtype}
        if col.ref_dtype != col.cur_dtype:
            changed_types.append(change)
        if col.kinds:  # int64 vs float64 is no schema change; number vs text is
            retyped.append(change)
        if col.feature is None and "freshness" in col.quality:
            pass  # a date column: its freshness is in the quality section
        elif col.feature is None:
            unsupported.append({"name": col.name, "dtype": col.ref_dtype})
        else:
            results.append(col.feature)
        quality_columns.append(col.quality)
    for entry in freshness:
        if not any(q["name"] == entry["name"] for q in quality_columns):
            quality_columns.append(entry)

    if correction == Correction.BH:
        _apply_bh(results)

    verdicts = [f.drifted for f in results if f.drifted is not None]
    share = sum(verdicts) / len(verdicts) if verdicts else 0.0
    missing = [c for c in wanted if c in ref_names and c not in cur_names]
    new = [c for c in wanted if c in cur_names and c not in ref_names]
    summary: dict[str, Any] = {
        "missing_columns": missing,
        "extra_columns": new,
        "unknown_columns": unknown,
        "changed_types": changed_types,
        "unsupported_columns": unsupported,
        "columns": quality_columns,
    }
    return DriftResult(
        features=by_severity(results),
        drifted_share=float(share),
        dataset_drift=bool(verdicts) and share >= DATASET_DRIFT_SHARE,
        quality=summary,
        correction=correction,
        schema={"missing": missing, "new": new, "changed_types": retyped},
        compared=len(columns),
    )


def _side_positions(side: pd.DataFrame | ReferenceProfile) -> dict[str, int]:
    """Column name -> position in a frame, or in a profile's column order."""
    if isinstance(side, ReferenceProfile):
        return {name: i for i, name in enumerate(side.columns)}
    return _positions(side)


def _side_column(
    side: pd.DataFrame | ReferenceProfile, pos: dict[str, int], name: str
) -> ColumnProfile:
    """The profile of column ``name``: a profile's own, or a frame's column profiled now."""
    if isinstance(side, ReferenceProfile):
        return side.columns[name]
    return _profile_column(name, side.iloc[:, pos[name]])


def _freshness_only(
    name: str,
    reference: pd.DataFrame | ReferenceProfile,
    ref_pos: dict[str, int],
    current: pd.DataFrame | ReferenceProfile,
    cur_pos: dict[str, int],
    now: datetime | None,
) -> dict[str, Any] | None:
    """The quality entry of a date column that is only checked for freshness (None if the
    current data has no such date column)."""
    if name not in cur_pos:
        return None
    cur = _side_column(current, cur_pos, name)
    if cur.kind != "datetime":
        return None
    if isinstance(reference, ReferenceProfile):
        ref = reference.columns.get(name)
    else:
        ref = _profile_column(name, reference.iloc[:, ref_pos[name]]) if name in ref_pos else None
    return freshness_entry(ref, cur, now)


def freshness_entry(
    ref: ColumnProfile | None, cur: ColumnProfile, now: datetime | None
) -> dict[str, Any] | None:
    """The quality entry of a date column checked only for freshness, from both sides'
    profiles (None when the current column is no date column)."""
    if cur.kind != "datetime":
        return None
    if ref is None or ref.kind != "datetime":
        ref = ColumnProfile(name=cur.name, dtype="-", kind=None, rows=0, missing=0)
    return {
        "name": cur.name,
        "missing_rate_current": cur.missing / cur.rows if cur.rows else None,
        "freshness": _freshness(ref, cur, now),
    }
