"""A monitor's drift on the numpy engine with stored profiles (issue 15, item 4).

The reference is profiled once per model version and data digest and kept in the
:class:`ProfileStore`; every later report of the monitor loads that profile instead of reading
and sorting the reference again. A current folder or glob of several files (daily partitions)
is profiled file by file, each file once, and the partition profiles are merged. The
statistics are those of the frames: ``compute_drift`` gets the same profiles it would build.

Charts are drawn from frames rebuilt from the profiles (the sorted values and category counts
with their dtype, the missing rows as nulls): the same histograms and shares as the data's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring import datasets
from bot.monitoring.drift.engines.base import is_local, local_paths
from bot.monitoring.drift.profile_store import (
    ProfileKind,
    ProfileStore,
    ReferenceKey,
    file_digest,
)
from bot.monitoring.progress import Phase, Steps

if TYPE_CHECKING:
    import pandas as pd

    from bot.monitoring.drift.engines.base import DriftOptions
    from bot.monitoring.drift.profiles import ColumnProfile, ReferenceProfile
    from bot.monitoring.drift.results import DriftResult

log = logging.getLogger(__name__)


class Provenance(StrEnum):
    """Where the reference statistics of a report came from (``reference.profile``)."""

    CACHED = "cached"  # a stored profile
    COMPUTED = "computed"  # read and profiled by this report


@dataclass(frozen=True)
class ProfileContext:
    """What a monitor's profiles are keyed on: the store, the model and the version reported
    on, and the alias holder whose run ``mlflow-artifact:`` sources come from."""

    store: ProfileStore
    model: str
    version: str | None
    holder: datasets.Holder


@dataclass
class Side:
    """One side of a profiled comparison, as the report document and the charts need it."""

    uri: str
    rows: int
    columns: int
    data: ReferenceProfile | pd.DataFrame
    summary: dict[str, Any]  # extra keys of the document's reference / current


def cacheable(reference: str) -> bool:
    """Whether a reference source has a digest: local files, or an MLflow run's artifact."""
    return is_local(reference) or reference.startswith(datasets.ARTIFACT_SCHEME)


def compare(
    ctx: ProfileContext,
    reference: str,
    current: str,
    options: DriftOptions,
    *,
    limits: datasets.Limits | None = None,
    say: Steps | None = None,
) -> tuple[DriftResult, Side, Side]:
    """Drift of ``current`` against ``reference`` from stored profiles (computed when absent)."""
    from bot.monitoring.drift.engines.numpy_engine import drift_with_options

    cur = current_side(ctx, current, limits=limits, say=say)
    ref = reference_side(ctx, reference, options, limits=limits, say=say)
    if say is not None:
        what = f"{ref.rows:,} reference rows ({ref.summary['profile']} profile)"
        say.enter(Phase.COMPARING, f"comparing {what} with {cur.rows:,} current rows (numpy)")
    result = drift_with_options(ref.data, cur.data, options)
    return result, ref, cur


def reference_side(
    ctx: ProfileContext,
    reference: str,
    options: DriftOptions,
    *,
    limits: datasets.Limits | None = None,
    say: datasets.Progress | None = None,
) -> Side:
    """The stored profile of the reference, or the reference read, profiled and stored."""
    from bot.monitoring.drift.engine import profile_reference

    profiled_out = profiled_columns(options)[1]
    key = reference_key(ctx, reference, options)
    if key is not None:
        stored = ctx.store.load(ProfileKind.REFERENCE, ctx.store.reference_path(key))
        if stored is not None:
            cached = {"profile": Provenance.CACHED}
            return Side(reference, stored.rows, len(stored.columns), stored, cached)
    ds = datasets.load(reference, holder=ctx.holder, progress=say, limits=limits)
    if say is not None:
        say(f"profiling {ds.rows:,} reference rows")
    profile = profile_reference(ds.frame, columns=options.columns, exclude=profiled_out)
    side = Side(ds.uri, ds.rows, len(ds.frame.columns), profile, {"profile": Provenance.COMPUTED})
    del ds
    # a reference rewritten while it was read is not stored under the old digest
    if key is not None and reference_digest(ctx, reference) == key.digest:
        path = ctx.store.reference_path(key)
        if ctx.store.save(ProfileKind.REFERENCE, path, profile, key.source()):
            ctx.store.prune(ctx.model)
    return side


def current_side(
    ctx: ProfileContext,
    current: str,
    *,
    limits: datasets.Limits | None = None,
    say: datasets.Progress | None = None,
) -> Side:
    """The current data: a folder or glob of several local files as merged partition profiles
    (each file profiled once), anything else as a frame."""
    paths = local_paths(current) if is_local(current) else []
    if len(paths) >= 2:
        return _partitions(ctx.store, current, paths, limits or datasets.Limits(), say)
    ds = datasets.load(current, holder=ctx.holder, progress=say, limits=limits)
    return Side(ds.uri, ds.rows, len(ds.frame.columns), ds.frame, {})


def _partitions(
    store: ProfileStore,
    current: str,
    paths: list[Path],
    caps: datasets.Limits,
    say: datasets.Progress | None,
) -> Side:
    """Merged partition profiles, or the files read as one frame when they do not agree."""
    from bot.monitoring.drift.profile_merge import merge_profiles, profile_current

    total = sum(p.stat().st_size for p in paths)
    if total > caps.max_bytes:
        raise datasets.DatasetError(f"`{current}` is larger than {caps.max_bytes / 2**20:g} MiB")
    parts: list[ReferenceProfile] = []
    computed = 0
    for path in paths:
        digest = file_digest([path])[0]
        where = store.partition_path(digest)
        profile = store.load(ProfileKind.PARTITION, where)
        if profile is None:
            if say is not None:
                say(f"reading {path}")
            profile = profile_current(datasets.read_local_file(path, caps))
            computed += 1
            if file_digest([path])[0] == digest:
                store.save(ProfileKind.PARTITION, where, profile, {"file": digest})
        parts.append(profile)
        if sum(p.rows for p in parts) > caps.max_rows:
            raise datasets.DatasetError(f"`{current}` has more than {caps.max_rows:,} rows")
    merged = merge_profiles(parts)
    if merged is None:
        log.info("the files of %s differ in columns or dtypes: read as one frame", current)
        import pandas as pd

        frame = pd.concat([datasets.read_local_file(p, caps) for p in paths], ignore_index=True)
        return Side(current, len(frame), len(frame.columns), frame, {})
    if computed:  # a new day: the days that left every monitor's window go
        store.prune_partitions()
    summary = {"partitions": {"files": len(paths), "profiled": computed}}
    return Side(current, merged.rows, len(merged.columns), merged, summary)


def profiled_columns(options: DriftOptions) -> tuple[list[str] | None, list[str]]:
    """The columns a reference profile holds (None: all) and those it leaves out: the
    excluded ones, but the monitor's timestamp, whose newest value is reported."""
    out = sorted({str(c) for c in options.exclude} - set(options.freshness))
    if options.columns is None:
        return None, out
    return list(dict.fromkeys([*map(str, options.columns), *options.freshness])), out


def reference_key(
    ctx: ProfileContext, reference: str, options: DriftOptions
) -> ReferenceKey | None:
    """What the reference's stored profile is keyed on, or None when it has no digest."""
    digest = reference_digest(ctx, reference)
    if digest is None:
        return None
    out = profiled_columns(options)[1]
    return ReferenceKey(ctx.model, ctx.version, digest, out, options.columns)


def reference_digest(ctx: ProfileContext, reference: str) -> list[str] | None:
    """What identifies the reference's content, or None when nothing does (a URL)."""
    if reference.startswith(datasets.ARTIFACT_SCHEME):
        holder = ctx.holder
        run_id = holder.registry.get_version(holder.model, f"@{holder.alias}").run_id
        return [reference, str(run_id)] if run_id else None
    if not is_local(reference):
        return None
    paths = local_paths(reference)
    try:
        return file_digest(paths) if paths else None
    except OSError:  # removed meanwhile: the loader names it
        return None


def charts(
    result: DriftResult, ref: Side, cur: Side, title: str, workers: int = 1
) -> list[tuple[str, bytes]]:
    """The report's charts (``report_charts.drift_charts``) on frames rebuilt from profiles."""
    from bot.monitoring.report_charts import TOP_FEATURE_CHARTS, drift_charts

    ranked = [f.name for f in result.features if f.drift_score is not None]
    names = ranked[:TOP_FEATURE_CHARTS]
    ref_ds = datasets.Dataset(ref.uri, chart_frame(ref, names))
    cur_ds = datasets.Dataset(cur.uri, chart_frame(cur, names))
    return drift_charts(result, ref_ds, cur_ds, title, workers)


def chart_frame(side: Side, names: list[str]) -> pd.DataFrame:
    """The columns ``names`` of a side as a frame for the charts (rebuilt from a profile)."""
    import pandas as pd

    if isinstance(side.data, pd.DataFrame):
        return side.data
    cols = {n: rebuild(side.data.columns[n]) for n in names if n in side.data.columns}
    return pd.DataFrame(cols) if cols else pd.DataFrame(index=range(side.rows))


def rebuild(col: ColumnProfile) -> pd.Series:
    """A column with the profile's values (sorted) or categories, its missing rows as nulls."""
    import numpy as np
    import pandas as pd

    if col.counts is not None and (col.values is None or col.kind == "categorical"):
        keys = np.empty(len(col.counts), dtype=object)
        keys[:] = list(col.counts)
        values = np.repeat(keys, list(col.counts.values()))
        return pd.Series(np.concatenate([values, np.full(col.missing, None)]), dtype=object)
    if col.values is None:
        return pd.Series(np.full(col.rows, None), dtype=object)
    floats = np.concatenate([col.values, np.full(col.missing, np.nan)])
    try:
        return pd.Series(floats).astype(col.dtype)
    except (TypeError, ValueError):  # e.g. int64 with missing rows: floats then
        return pd.Series(floats)
