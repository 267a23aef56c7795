"""Drift from stored profiles (``stored_profile``): the reference, and possibly the current side.

:class:`StoredSides` is the :class:`~bot.monitoring.drift.engines.aggregates.SideAggregates` of
two sides, each either a :class:`ProfileSide` (one stored profile, or the profiles of the files
of a current folder or glob read as one data set) or an :class:`EngineSide` (an engine's own
aggregates of data it reads, beside an empty other side). Each side's numeric values come in
ascending order, so the union the statistics scan is a merge (:func:`merge_sorted`), not a
sort; the reference moments and the bins of stored values are summed by DuckDB over the value
files (``fsum``, as the Spark engine does from its value counts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bot.monitoring.drift.engines import sql
from bot.monitoring.drift.engines.aggregates import Batch, SideAggregates, std_of_counts
from bot.monitoring.drift.engines.base import EngineError
from bot.monitoring.drift.engines.duckdb_views import bare_profile
from bot.monitoring.drift.engines.stored_profile import StoredProfile
from bot.monitoring.drift.profiles import ColumnProfile

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

Counts = tuple[np.ndarray, np.ndarray]  # ascending values, their counts
_STORED_VIEW = "drift_stored_values"
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

    def values(self, name: str, n: int) -> Iterator[Counts]:
        """The column's ``n`` finite values in ascending order, as (value, count) batches."""
        ...

    def value_files(self, name: str) -> list[Path] | None:
        """Parquet files (v, rc) holding the column's values, or None (not stored)."""
        ...

    def bin_counts(self, name: str, edges: np.ndarray) -> dict[int, int]: ...

    def samples(self, name: str) -> np.ndarray: ...


def merge_sorted(a: Iterator[Counts], b: Iterator[Counts]) -> Iterator[Batch]:
    """Batches (value, count in ``a``, count in ``b``) in ascending order from two ascending
    streams of (value, count): each round emits every buffered value up to the smaller of the
    two buffers' last values (a value may repeat across rows and batches)."""
    a_v, a_c, b_v, b_c = _EMPTY, _NO_COUNTS, _EMPTY, _NO_COUNTS
    a_done = b_done = False
    while True:
        while not a_done and not a_v.size:
            try:
                a_v, a_c = _typed(next(a))
            except StopIteration:
                a_done = True
        while not b_done and not b_v.size:
            try:
                b_v, b_c = _typed(next(b))
            except StopIteration:
                b_done = True
        if a_done and b_done:
            return
        if a_done or b_done:
            v, c = (a_v, a_c) if b_done else (b_v, b_c)
            zeros = np.zeros(v.size, dtype=np.int64)
            yield (v, c, zeros) if b_done else (v, zeros, c)
            a_v, a_c, b_v, b_c = _EMPTY, _NO_COUNTS, _EMPTY, _NO_COUNTS
            continue
        limit = min(a_v[-1], b_v[-1])
        ia = int(np.searchsorted(a_v, limit, side="right"))
        ib = int(np.searchsorted(b_v, limit, side="right"))
        v = np.concatenate((a_v[:ia], b_v[:ib]))
        rc = np.concatenate((a_c[:ia], np.zeros(ib, dtype=np.int64)))
        cc = np.concatenate((np.zeros(ia, dtype=np.int64), b_c[:ib]))
        order = np.argsort(v, kind="stable")  # two sorted runs: a linear merge
        yield v[order], rc[order], cc[order]
        a_v, a_c, b_v, b_c = a_v[ia:], a_c[ia:], b_v[ib:], b_c[ib:]


def _typed(batch: Counts) -> Counts:
    return np.asarray(batch[0], dtype=np.float64), np.asarray(batch[1], dtype=np.int64)


def _summed(batches: Iterator[Batch]) -> Iterator[Counts]:
    for v, a, b in batches:
        yield v, a + b


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

    def values(self, name: str, n: int) -> Iterator[Counts]:
        # the merges hold a batch of each part: their sum stays about one batch of one part
        batch = max(1 << 16, (1 << 20) // len(self.parts))
        streams = [p.values(name, batch) for p in self.parts]
        return reduce(lambda a, b: _summed(merge_sorted(a, b)), streams)

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

    def values(self, name: str, n: int) -> Iterator[Counts]:
        if not n:
            return
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
        self._viewed: tuple[str, ...] = ()

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
        return merge_sorted(self.ref.values(name, n), self.cur.values(name, m))

    def reference_std(self, name: str, n: int, scale: float) -> float:
        return std_of_counts(self.con, self._view(self.ref.value_files(name) or []), n, scale)

    def bin_counts(self, name: str, edges: np.ndarray) -> list[tuple[int, int, int]]:
        ref, cur = (self._bins(s, name, edges) for s in (self.ref, self.cur))
        return [(b, ref.get(b, 0), cur.get(b, 0)) for b in sorted(ref.keys() | cur.keys())]

    def samples(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.ref.samples(name), self.cur.samples(name)

    def _bins(self, side: OneSide, name: str, edges: np.ndarray) -> dict[int, int]:
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
        if self._viewed != key:
            complete = getattr(self.con, "complete", None)
            if complete is not None:  # DuckDB 2 refuses while a fetchone() result is pending
                complete()
            rel = self.con.read_parquet(list(key))
            rel.select("v, rc, 0 AS cc").create_view(_STORED_VIEW, replace=True)
            self._viewed = key
        return _STORED_VIEW
