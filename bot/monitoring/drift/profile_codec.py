"""A :class:`ReferenceProfile` as one Parquet file, read back exactly (issue 15, item 4).

The table holds, column after column, each numeric column's sorted finite values: as runs of
distinct values with their counts (``value``, ``count``: ``np.repeat`` gives back the identical
array) when that is smaller, else as they are (``count`` 1); then each categorical column's
counts in their insertion order (``key``: a type letter and the key as text, ``count``). What
is not an array — dtype, kind, rows, missing, std, PSI edges and bins, the newest and oldest
date — is a pydantic document (:class:`ProfileMeta`) in the Parquet key-value metadata. Floats
of the document are written as ``float.hex`` text, so NaN, ±inf and every bit survive.

A file whose format version is not :data:`FORMAT_VERSION`, or that does not add up, raises
:class:`ProfileFormatError`: the store treats it as a miss and profiles again.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.monitoring.drift.profiles import ColumnProfile, ReferenceProfile

FORMAT_VERSION = 1
META_KEY = b"mlops_bot.profile"


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("value", pa.float64(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("key", pa.string(), nullable=False),  # type tag + text; "" on numeric rows
        ]
    )


class ProfileFormatError(Exception):
    """A profile file of another format version, or one that is not a profile at all."""


class UnstorableProfile(Exception):
    """A profile with category keys the codec cannot write exactly (only str, bool, int and
    float keys are stored); it is used in memory and not cached."""


class Moment(BaseModel):
    """A date as ISO 8601 text (UTC, full precision) and its pandas unit (s, ms, us, ns)."""

    model_config = ConfigDict(extra="forbid")
    iso: str
    unit: str


class ColumnMeta(BaseModel):
    """One column of a profile, without its arrays (``runs`` numeric rows and ``categories``
    category rows of the table belong to it, in this order of columns)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    dtype: str
    kind: str | None
    rows: int
    missing: int
    runs: int | None = None  # numeric rows; None: no numeric values (values is None)
    encoding: Literal["runs", "values"] = "runs"  # distinct values and counts, or the values
    categories: int | None = None  # None: no category counts
    distinct: list[str] | None = None  # float.hex
    std: str = "0x0.0p+0"
    edges: list[str] | None = None
    bin_counts: list[str] | None = None
    newest: Moment | None = None
    oldest: Moment | None = None


class ProfileMeta(BaseModel):
    """The document in the Parquet metadata: format version, rows, columns, and what the
    profile was made of (``source``: for people clearing the store, not read back)."""

    model_config = ConfigDict(extra="forbid")
    format: int
    rows: int
    columns: list[ColumnMeta]
    source: dict[str, str] = {}


def run_lengths(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted float64 array and their counts; runs are split on the bits,
    so -0.0 and 0.0 stay apart and ``np.repeat`` rebuilds the array bit for bit."""
    if values.size == 0:
        return values[:0].copy(), np.zeros(0, dtype=np.int64)
    bits = values.view(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], bits[1:] != bits[:-1])))
    counts = np.diff(np.append(starts, values.size)).astype(np.int64)
    return values[starts], counts


def write_profile(profile: ReferenceProfile, path: Path, source: dict[str, str]) -> None:
    """Write ``profile`` to ``path`` (the caller makes it atomic); UnstorableProfile when a
    category key is of a type the codec does not keep."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    metas = [_column_meta(col) for col in profile.columns.values()]
    values: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for col, meta in zip(profile.columns.values(), metas, strict=True):
        if col.values is None:
            continue
        distinct, runs = run_lengths(col.values)
        if 2 * distinct.size < col.values.size:  # 16 bytes a run against 8 a value
            values.append(distinct)
            counts.append(runs)
        else:
            meta.encoding = "values"
            values.append(col.values)
            counts.append(np.ones(col.values.size, dtype=np.int64))
        meta.runs = int(values[-1].size)
    keys: list[str] = []
    for col, meta in zip(profile.columns.values(), metas, strict=True):
        if col.counts is not None:
            keys.extend(_encode_key(key, col.name) for key in col.counts)
            counts.append(np.fromiter(col.counts.values(), dtype=np.int64, count=len(col.counts)))
            meta.categories = len(col.counts)
    n_num = sum(v.size for v in values)
    value = np.concatenate([*values, np.zeros(len(keys))])
    table = pa.table(
        {
            "value": value,
            "count": np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
            "key": pa.concat_arrays(
                [pa.repeat(pa.scalar("", pa.string()), n_num), pa.array(keys, pa.string())]
            ),
        },
        schema=_schema(),
    )
    doc = ProfileMeta(format=FORMAT_VERSION, rows=profile.rows, columns=metas, source=source)
    table = table.replace_schema_metadata({META_KEY: doc.model_dump_json().encode()})
    # sorted distinct floats do not compress: no dictionary and no codec for them, and no
    # nulls anywhere (numeric rows have the key ""), which keeps reading at memory speed
    # one row group: each column reads back as one chunk, viewed by numpy without a copy
    pq.write_table(
        table,
        path,
        compression="none",
        use_dictionary=["count", "key"],
        row_group_size=max(1, table.num_rows),
    )


def read_profile(path: Path) -> ReferenceProfile:
    """The profile written by :func:`write_profile`; ProfileFormatError when the file is of
    another format version or does not add up (OSError and pyarrow's errors pass through)."""
    import pyarrow.parquet as pq

    meta = _read_meta(pq.read_schema(path).metadata or {})
    table = pq.read_table(path, read_dictionary=["key"])
    n_num = sum(c.runs or 0 for c in meta.columns)
    n_cat = sum(c.categories or 0 for c in meta.columns)
    if table.num_rows != n_num + n_cat or table.column_names != _schema().names:
        raise ProfileFormatError(f"{table.num_rows} rows, the metadata names {n_num + n_cat}")
    value = table.column("value").to_numpy()
    count = table.column("count").to_numpy()
    keys = table.column("key").slice(n_num).to_pylist()
    profile = ReferenceProfile(rows=meta.rows)
    at_num, at_cat = 0, 0
    for c in meta.columns:
        col = _column(c)
        if c.runs is not None:
            end = at_num + c.runs
            if c.encoding == "values":
                col.values = value[at_num:end].copy()
            else:
                col.values = np.repeat(value[at_num:end], count[at_num:end])
            at_num = end
        if c.categories is not None:
            end = at_cat + c.categories
            col.counts = {
                _decode_key(k): int(n)
                for k, n in zip(keys[at_cat:end], count[n_num + at_cat : n_num + end], strict=True)
            }
            at_cat = end
        profile.columns[c.name] = col
    return profile


def _read_meta(metadata: dict[bytes, bytes]) -> ProfileMeta:
    raw = metadata.get(META_KEY)
    if raw is None:
        raise ProfileFormatError("no profile metadata")
    try:
        doc = ProfileMeta.model_validate_json(raw)
    except ValidationError:
        raise ProfileFormatError("profile metadata of another format") from None
    if doc.format != FORMAT_VERSION:
        raise ProfileFormatError(f"format version {doc.format}, not {FORMAT_VERSION}")
    return doc


def _column_meta(col: ColumnProfile) -> ColumnMeta:
    return ColumnMeta(
        name=col.name,
        dtype=col.dtype,
        kind=col.kind,
        rows=col.rows,
        missing=col.missing,
        distinct=_hexes(col.distinct),
        std=float(col.std).hex(),
        edges=_hexes(col.edges),
        bin_counts=_hexes(col.bin_counts),
        newest=_moment(col.newest),
        oldest=_moment(col.oldest),
    )


def _column(c: ColumnMeta) -> ColumnProfile:
    if c.kind not in (None, "numeric", "categorical", "datetime", "unsupported"):
        raise ProfileFormatError(f"column {c.name!r} of kind {c.kind!r}")
    return ColumnProfile(
        name=c.name,
        dtype=c.dtype,
        kind=c.kind,  # type: ignore[arg-type]  # checked above
        rows=c.rows,
        missing=c.missing,
        distinct=_floats(c.distinct),
        std=float.fromhex(c.std),
        edges=_floats(c.edges),
        bin_counts=_floats(c.bin_counts),
        newest=_timestamp(c.newest),
        oldest=_timestamp(c.oldest),
    )


def _hexes(arr: np.ndarray | None) -> list[str] | None:
    return None if arr is None else [float(v).hex() for v in arr.tolist()]


def _floats(texts: Sequence[str] | None) -> np.ndarray | None:
    if texts is None:
        return None
    return np.array([float.fromhex(t) for t in texts], dtype=np.float64)


def _moment(ts: pd.Timestamp | None) -> Moment | None:
    return None if ts is None else Moment(iso=ts.isoformat(), unit=ts.unit)


def _timestamp(m: Moment | None) -> pd.Timestamp | None:
    if m is None:
        return None
    return pd.Timestamp(m.iso).tz_convert("UTC").as_unit(m.unit)


def _encode_key(key: Hashable, column: str) -> str:
    """A category key as text, its type in the first character; bool before int (True is an
    int)."""
    if isinstance(key, bool):
        return "b1" if key else "b0"
    if isinstance(key, int):
        return f"i{key}"
    if isinstance(key, float):
        return f"f{float(key).hex()}"
    if isinstance(key, str):
        return f"s{key}"
    raise UnstorableProfile(f"column {column!r} has {type(key).__name__} categories")


def _decode_key(text: str | None) -> Hashable:
    tag, body = (text or "?")[:1], (text or "")[1:]
    if tag == "s":
        return body
    if tag == "b":
        return body == "1"
    if tag == "i":
        return int(body)
    if tag == "f":
        return float.fromhex(body)
    raise ProfileFormatError(f"category key of type {tag!r}")
