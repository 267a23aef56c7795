"""One pass over a numeric column pair in ascending order: the statistics that need the sorted
union of both sides (KS, W1, distinct counts, the reference order statistics).

An out-of-core engine sorts the union (spilling to disk), then streams it here in batches of
rows ``(v, rc, cc)``: a value and how many times each side holds it. A value may span several
rows and batches (raw rows carry 0/1 counts); its run is complete once a larger value arrives,
so the last run of each batch waits for the next one. Per run the arithmetic is the SQL's of
``engines.sql`` (``abs(cr / n - ccum / m)``; W1 sums it times the gap to the next value), so
holding one batch at a time gives the same numbers as the union table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bot.monitoring.drift.profiles import CATEGORICAL_MAX_DISTINCT


@dataclass
class SortedScan:
    """Statistics accumulated over the sorted union; ``n``/``m`` count each side's values
    and ``ranks`` are the 0-based reference ranks whose values are wanted."""

    n: int
    m: int
    ranks: np.ndarray
    ks: float = math.nan
    w1_parts: list[float] = field(default_factory=list)
    ref_distinct: int = 0
    cur_distinct: int = 0
    union_distinct: int = 0
    union_min: float | None = None
    union_max: float | None = None
    ref_min: float | None = None
    ref_max: float | None = None
    cur_below: int = 0  # current values below the reference minimum
    cur_upto_max: int = 0  # current values up to the reference maximum
    order_stats: dict[int, float] = field(default_factory=dict)
    keys: list[tuple[float, int, int]] | None = field(default_factory=list)  # few values only
    _cr: int = 0
    _ccum: int = 0
    _carry: tuple[float, int, int] | None = None

    def feed(self, v: np.ndarray, rc: np.ndarray, cc: np.ndarray) -> None:
        """Add the next rows in ascending order of ``v`` (finite values, counts >= 0)."""
        if v.size == 0:
            return
        if self._carry is not None:  # the run left open by the previous batch
            cv, crc, ccc = self._carry
            same = int(np.searchsorted(v, cv, side="right"))  # leading rows of that value
            crc, ccc = crc + int(rc[:same].sum()), ccc + int(cc[:same].sum())
            if same == v.size:
                self._carry = (cv, crc, ccc)
                return
            v, rc, cc = v[same:], rc[same:], cc[same:]
            self._carry = None
            self._runs(np.array([cv]), np.array([crc]), np.array([ccc]), float(v[0]))
        tied = v[1:] == v[:-1]
        if tied.any():  # merge each run of ties into one row
            starts = np.flatnonzero(np.r_[True, ~tied])
            v = v[starts]
            rc = np.add.reduceat(rc, starts, dtype=np.int64)
            cc = np.add.reduceat(cc, starts, dtype=np.int64)
        self._carry = (float(v[-1]), int(rc[-1]), int(cc[-1]))
        self._runs(v[:-1], rc[:-1], cc[:-1], float(v[-1]))

    def finish(self) -> SortedScan:
        """Close the last run; returns ``self``."""
        if self._carry is not None:
            cv, crc, ccc = self._carry
            self._carry = None
            self._runs(np.array([cv]), np.array([crc]), np.array([ccc]), None)
        return self

    @property
    def w1(self) -> float:
        """The unnormalised W1: the area between the two ECDFs (0 for one distinct value)."""
        return math.fsum(self.w1_parts)

    @property
    def out_of_range(self) -> int:
        """Current values outside [reference min, reference max] (0 without a reference)."""
        return self.cur_below + (self.m - self.cur_upto_max) if self.ref_min is not None else 0

    def _runs(self, u: np.ndarray, rs: np.ndarray, cs: np.ndarray, nxt: float | None) -> None:
        """Complete runs (distinct ascending values); ``nxt`` is the value after the last."""
        if u.size == 0:
            return
        cr = np.cumsum(rs, dtype=np.int64)
        cr += self._cr
        ccum = np.cumsum(cs, dtype=np.int64)
        ccum += self._ccum
        d = np.abs(cr / float(max(self.n, 1)) - ccum / float(max(self.m, 1)))
        top = float(d.max())
        self.ks = top if math.isnan(self.ks) else max(self.ks, top)
        gaps = np.diff(u) if nxt is None else np.diff(np.r_[u, nxt])
        self.w1_parts.append(float(np.dot(d[: gaps.size], gaps)))
        self._extremes(u, rs, ccum, cs)
        self._order_stats(u, cr)
        self.union_distinct += u.size
        self.ref_distinct += int(np.count_nonzero(rs))
        self.cur_distinct += int(np.count_nonzero(cs))
        if self.keys is not None:
            if self.union_distinct > CATEGORICAL_MAX_DISTINCT:
                self.keys = None
            else:
                self.keys += [(float(a), int(b), int(c)) for a, b, c in zip(u, rs, cs, strict=True)]
        self._cr, self._ccum = int(cr[-1]), int(ccum[-1])

    def _extremes(self, u: np.ndarray, rs: np.ndarray, ccum: np.ndarray, cs: np.ndarray) -> None:
        if self.union_min is None:
            self.union_min = float(u[0])
        self.union_max = float(u[-1])
        has_ref = np.flatnonzero(rs)
        if has_ref.size == 0:
            return
        first, last = int(has_ref[0]), int(has_ref[-1])
        if self.ref_min is None:
            self.ref_min = float(u[first])
            self.cur_below = int(ccum[first] - cs[first])
        self.ref_max = float(u[last])
        self.cur_upto_max = int(ccum[last])

    def _order_stats(self, u: np.ndarray, cr: np.ndarray) -> None:
        """The values at the wanted ranks that fall in these runs: rank r is held by the first
        run whose cumulative reference count exceeds r."""
        lo, hi = np.searchsorted(self.ranks, [self._cr, int(cr[-1])])
        if hi <= lo:
            return
        wanted = self.ranks[lo:hi]
        at = np.searchsorted(cr, wanted, side="right")
        self.order_stats.update(zip(wanted.tolist(), u[at].tolist(), strict=True))
