"""Drift from stored profiles (``stored_profile``): the reference, and possibly the current side.

:class:`StoredSides` is the :class:`~bot.monitoring.drift.engines.aggregates.SideAggregates` of
two sides, each either a :class:`ProfileSide` (one stored profile, or the profiles of the files
of a current folder or glob read as one data set) or an :class:`EngineSide` (an engine's own
aggregates of data it reads, beside an empty other side). Each side's numeric values come in
ascending order, so the union the statistics scan is a merge of the stored parts and the
engine's sorted values (:func:`merge_sorted`), not a sort of everything. The reference's
moments and bins were summed when it was stored (``stored_profile``); the bins of other stored
values are summed by DuckDB over their files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import Batch, SideAggregates, std_of_counts
from bot.monitoring.drift.engines.base import EngineError
from bot.monitoring.drift.engines.duckdb_views import bare_profile
from bot.monitoring.drift.engines.stored_profile import StoredColumn, StoredProfile, values_view
from bot.monitoring.drift.profiles import ColumnProfile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

Counts = tuple[np.ndarray, np.ndarray]  # ascending values, their counts
_EMPTY = np.empty(0, dtype=np.float64)
_NO_COUNTS = np.empty(0, dtype=np.int64)


class OneSide(Protocol):
    """One side of a comparison (``StoredSides`` asks it for that side's aggregates)."""

    def types(self) -> dict[str, str]: ...

    def usable_counts(
        self, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]: ...

    def profile(
        self, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile: ...

    def category_counts(self, name: str) -> dict[Any, int]: ...

    def streams(self, name: str, n: int) -> list[Iterator[Counts]]:
        """The column's ``n`` finite values, as ascending streams of (value, count) batches
        (one per stored part)."""
        ...

    def value_files(self, name: str) -> list[Path] | None:
        """Parquet files (v, rc) holding the column's values, or None (not stored)."""
        ...

    def bin_counts(self, name: str, edges: np.ndarray) -> dict[int, int]: ...

    def samples(self, name: str) -> np.ndarray: ...


def merge_sorted(
    ref: Sequence[Iterator[Counts]], cur: Sequence[Iterator[Counts]]
) -> Iterator[Batch]:
    """Batches (value, reference count, current count) in ascending order from ascending
    streams of (value, count) of either side: each round takes from every buffered stream its
    values up to the smallest of the buffers' last values and sorts them together (a stable
    sort of k sorted runs: a k-way merge); a value may repeat across rows and batches."""
    streams = [*ref, *cur]
    of_ref = [True] * len(ref) + [False] * len(cur)
    bufs: list[Counts | None] = [(_EMPTY, _NO_COUNTS)] * len(streams)  # None: exhausted
    while True:
        for i, stream in enumerate(streams):
            buf = bufs[i]
            while buf is not None and not buf[0].size:
                try:
                    buf = _typed(next(stream))
                except StopIteration:
                    buf = None
            bufs[i] = buf
        live = [(i, b) for i, b in enumerate(bufs) if b is not None]
        if not live:
            return
        limit = min(b[0][-1] for _, b in live)
        vs, rcs, ccs = [], [], []
        for i, (v, c) in live:
            k = int(np.searchsorted(v, limit, side="right"))
            zeros = np.zeros(k, dtype=np.int64)
            vs.append(v[:k])
            rcs.append(c[:k] if of_ref[i] else zeros)
            ccs.append(zeros if of_ref[i] else c[:k])
            bufs[i] = (v[k:], c[k:])
        if len(vs) == 1:
            yield vs[0], rcs[0], ccs[0]
            continue
        v = np.concatenate(vs)
        order = np.argsort(v, kind="stable")
        yield v[order], np.concatenate(rcs)[order], np.concatenate(ccs)[order]


def _tallied(stream: Iterator[Counts], edges: np.ndarray, tally: np.ndarray) -> Iterator[Counts]:
    """``stream`` as it is, adding its counts per bin of ``edges`` to ``tally`` (bin i holds
    [e(i-1), e(i)), as ``sql.bin_counts``); float weights are exact below 2**53."""
    for v, c in stream:
        bins = np.searchsorted(edges, v, side="right")
        tally += np.bincount(bins, weights=c, minlength=tally.size).astype(np.int64)
        yield v, c


def _typed(batch: Counts) -> Counts:
    return np.asarray(batch[0], dtype=np.float64), np.asarray(batch[1], dtype=np.int64)


def mergeable(parts: Sequence[StoredProfile]) -> bool:
    """Whether stored profiles can be read as one data set: the same columns of the same types,
    and each column of one kind in every part that has values (a text column is dates in all
    of them or in none)."""
    if not parts:
        return False
    first = parts[0]
    if any(
        p.meta.types != first.meta.types or p.columns.keys() != first.columns.keys() for p in parts
    ):
        return False
    for name in first.columns:
        kinds = {c.kind for c in (p.columns[name] for p in parts) if c.rows > c.missing}
        if len(kinds) > 1:
            return False
    return True


class ProfileSide:
    """One or more stored profiles read as one data set (see :func:`mergeable`)."""

    def __init__(self, parts: Sequence[StoredProfile]) -> None:
        if not mergeable(parts):
            raise EngineError("the stored profiles differ in columns or types")
        self.parts = list(parts)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def partitions(self) -> set[str]:
        return {c for p in self.parts for c in p.partitions}

    def types(self) -> dict[str, str]:
        return dict(self.parts[0].meta.types)

    def summary(self, name: str) -> StoredColumn | None:
        """The stored column of a single stored profile (its std, edges and bins), else None."""
        return self.parts[0].column(name) if len(self.parts) == 1 else None

    def usable_counts(
        self, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for name in names:
            cols = [p.column(name) for p in self.parts]
            out[name] = (sum(c.rows for c in cols), sum(c.rows - c.missing for c in cols))
        return out

    def profile(
        self, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        if len(self.parts) == 1:
            return self.parts[0].column(name).profile()
        prof = bare_profile(name, sql_type, counts)
        found = [p.column(name).profile() for p in self.parts]
        kinds = {f.kind for f in found if f.n}
        if kinds:
            prof.kind = kinds.pop()
        dated = [f for f in found if f.newest is not None and f.oldest is not None]
        if dated:
            prof.newest = max(f.newest for f in dated if f.newest is not None)
            prof.oldest = min(f.oldest for f in dated if f.oldest is not None)
        return prof

    def category_counts(self, name: str) -> dict[Any, int]:
        if len(self.parts) == 1:
            return self.parts[0].categories(name)
        total: dict[Any, int] = {}
        for part in self.parts:
            for key, n in part.categories(name).items():
                total[key] = total.get(key, 0) + n
        return {key: total[key] for key in sorted(total)}  # DuckDB's ORDER BY of one type

    def streams(self, name: str, n: int) -> list[Iterator[Counts]]:
        # the merge holds a batch of each part: their sum stays about one batch of one part
        batch = max(1 << 16, (1 << 20) // len(self.parts))
        return [p.values(name, batch) for p in self.parts]

    def value_files(self, name: str) -> list[Path] | None:
        return [f for p in self.parts if (f := p.value_file(name)) is not None]

    def bin_counts(self, name: str, edges: np.ndarray) -> dict[int, int]:
        raise NotImplementedError  # StoredSides sums the value files

    def samples(self, name: str) -> np.ndarray:
        found = [np.repeat(v, c) for p in self.parts for v, c in p.values(name)]
        return np.sort(np.concatenate(found)) if found else _EMPTY

    def chart_sample(self, rows: int) -> pd.DataFrame | None:
        """Up to ``rows`` random rows from the parts' samples, in proportion to their rows."""
        import pandas as pd

        frames = [p.sample() for p in self.parts]
        if any(f is None for f in frames) or not frames:
            return None
        total = max(1, self.rows)
        picked = []
        for part, frame in zip(self.parts, frames, strict=True):
            assert frame is not None
            k = min(len(frame), round(rows * part.rows / total))
            picked.append(frame.sample(n=k, random_state=0) if k < len(frame) else frame)
        return pd.concat(picked, ignore_index=True)


class EngineSide:
    """The ``side`` of an engine's aggregates ``inner`` (read by the engine)."""

    def __init__(self, inner: SideAggregates, side: str = "cur") -> None:
        self.inner, self.side = inner, side

    def types(self) -> dict[str, str]:
        return self.inner.types(self.side)

    def usable_counts(
        self, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        return self.inner.usable_counts(self.side, names, types)

    def profile(
        self, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        return self.inner.profile(self.side, name, sql_type, counts)

    def category_counts(self, name: str) -> dict[Any, int]:
        return self.inner.category_counts(name, self.side)

    def streams(self, name: str, n: int) -> list[Iterator[Counts]]:
        return [self._values(name, n)] if n else []

    def _values(self, name: str, n: int) -> Iterator[Counts]:
        at = 1 if self.side == "ref" else 2
        counts = (0, n) if self.side == "cur" else (n, 0)
        for batch in self.inner.sorted_counts(name, *counts):
            yield batch[0], batch[at]

    def value_files(self, name: str) -> list[Path] | None:
        return None

    def bin_counts(self, name: str, edges: np.ndarray) -> dict[int, int]:
        at = 1 if self.side == "ref" else 2
        return {int(row[0]): int(row[at]) for row in self.inner.bin_counts(name, edges)}

    def samples(self, name: str) -> np.ndarray:
        return self.inner.samples(name)[0 if self.side == "ref" else 1]


class StoredSides:
    """:class:`SideAggregates` of a stored reference ``ref`` and a current side ``cur``;
    ``con`` is a DuckDB connection that sums stored values (moments and bins)."""

    def __init__(self, ref: ProfileSide, cur: OneSide, con: duckdb.DuckDBPyConnection) -> None:
        self.ref, self.cur, self.con = ref, cur, con
        self._viewed: tuple[tuple[str, ...], str] | None = None  # files, view
        self._tallies: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # column -> edges, counts

    def _side(self, side: str) -> OneSide:
        return self.ref if side == "ref" else self.cur

    def types(self, side: str) -> dict[str, str]:
        return self._side(side).types()

    def usable_counts(
        self, side: str, names: Sequence[str], types: dict[str, str]
    ) -> dict[str, tuple[int, int]]:
        return self._side(side).usable_counts(names, types)

    def profile(
        self, side: str, name: str, sql_type: str, counts: dict[str, tuple[int, int]]
    ) -> ColumnProfile:
        return self._side(side).profile(name, sql_type, counts)

    def category_counts(self, name: str, side: str) -> dict[Any, int]:
        return self._side(side).category_counts(name)

    def sorted_counts(self, name: str, n: int, m: int) -> Iterator[Batch]:
        cur = self.cur.streams(name, m)
        stored = self.ref.summary(name)
        if stored is not None and stored.edges is not None:
            # the bins are the stored reference's: the current's counts in them as it streams
            edges = np.asarray(stored.edges, dtype=np.float64)
            tally = np.zeros(edges.size + 1, dtype=np.int64)
            self._tallies[name] = (edges, tally)
            cur = [_tallied(stream, edges, tally) for stream in cur]
        return merge_sorted(self.ref.streams(name, n), cur)

    def reference_std(self, name: str, n: int, scale: float) -> float:
        stored = self.ref.summary(name)
        if stored is not None and stored.std is not None and stored.scale == scale:
            return stored.std
        return std_of_counts(self.con, self._view(self.ref.value_files(name) or []), n, scale)

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        ref = self._bins(self.ref, name, edges)
        tallied = self._tallies.pop(name, None)  # complete: the scan consumed the stream
        if tallied is not None and np.array_equal(tallied[0], edges):
            cur = {b: int(n) for b, n in enumerate(tallied[1]) if n}
        else:
            cur = self._bins(self.cur, name, edges)
        return [(b, ref.get(b, 0), cur.get(b, 0)) for b in sorted(ref.keys() | cur.keys())]

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.ref.samples(name), self.cur.samples(name)

    def _bins(self, side: OneSide, name: str, edges: np.ndarray) -> dict[int, int]:
        stored = self.ref.summary(name) if side is self.ref else None
        if (
            stored is not None
            and stored.bins is not None
            and stored.edges is not None
            and np.array_equal(np.asarray(stored.edges, dtype=np.float64), edges)
        ):
            return dict(stored.bins)
        files = side.value_files(name)
        if files is None:
            return side.bin_counts(name, edges)
        if not files:
            return {}
        query = sql.bin_counts(self._view(files), edges.size)
        return {int(b): int(n) for b, n, _ in self.con.execute(query, edges.tolist()).fetchall()}

    def _view(self, files: list[Path]) -> str:
        """A DuckDB view (v, rc, cc) of stored values (cc = 0)."""
        key = tuple(map(str, files))
        if not files:
            raise EngineError("no stored values to sum")
        if self._viewed is None or self._viewed[0] != key:
            self._viewed = key, values_view(self.con, files)
        return self._viewed[1]
