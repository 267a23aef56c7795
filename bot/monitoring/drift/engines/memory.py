"""How much of MLOPS_BOT_DUCKDB_MEMORY_LIMIT DuckDB itself may use.

The setting bounds the report process, but DuckDB's ``memory_limit`` bounds only its buffer
manager: the interpreter and modules already loaded, DuckDB's allocations outside the buffer
manager (a few per cent over the limit when a sort fills it) and the batches the engine's
Python code holds come on top. So the engines built from the settings give DuckDB the limit minus
what the process already holds and a margin for the rest, never less than a quarter of it.
"""

from __future__ import annotations

import os
import re

MARGIN = 0.15  # of the limit: DuckDB's allocations beyond its buffer manager, Python's batches
FLOOR = 0.25  # of the limit: the least DuckDB is given, however big the process already is
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int | None:
    """Bytes of a size as DuckDB reads it (``2GB`` is 2*10**9, ``2GiB`` 2*2**30); None when it
    is not one (DuckDB then judges the text itself)."""
    match = _SIZE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def process_rss() -> int:
    """The resident memory of this process now, in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def duckdb_share(limit: str, held: int | None = None) -> str:
    """DuckDB's ``memory_limit`` for a process that must stay within ``limit`` and already
    holds ``held`` bytes (default: its resident memory now)."""
    total = parse_size(limit)
    if total is None:
        return limit
    held = process_rss() if held is None else held
    share = max(int(total * (1 - MARGIN)) - held, int(total * FLOOR))
    return f"{share // 2**20}MiB"
