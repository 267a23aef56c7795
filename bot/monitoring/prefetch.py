"""Read a drift report's two local Parquet files in a thread while the CLI imports pandas.

`mlops-bot report drift` spends ~0.6 s importing pandas, pyarrow and the report's modules
before it reads a byte, then ~0.4 s decoding the files; pyarrow decodes without holding the
GIL, so the two overlap. Only what the in-memory (numpy) engine would read itself anyway: two
local Parquet files that pass the loader's caps and together decode to at most
PREFETCH_MAX_BYTES, half the size up to which `auto` chooses numpy. The loader still checks
each file; one that failed here is read, and its error raised, the usual way.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.monitoring.preload import THREAD_NAME

if TYPE_CHECKING:
    from bot.monitoring.datasets import Limits

PREFETCH_MAX_BYTES = 512 * 2**20  # both sides decoded (auto: numpy up to 1 GiB)
_PARQUET = (".parquet", ".pq")


class Prefetched:
    """Arrow tables read in a background thread, each taken once by its path."""

    def __init__(self, paths: Sequence[Path], caps: Limits, max_bytes: int) -> None:
        self._tables: dict[Path, Any] = {}
        self._thread = threading.Thread(
            target=self._read, args=(list(paths), caps, max_bytes), name=THREAD_NAME, daemon=True
        )
        self._thread.start()

    def _read(self, paths: list[Path], caps: Limits, max_bytes: int) -> None:
        try:
            import pyarrow.parquet as pq

            from bot.monitoring.datasets import _check_parquet, _decoded_bytes

            if sum(_decoded_bytes(pq.read_metadata(p)) for p in paths) > max_bytes:
                return
            for path in paths:
                _check_parquet(path, str(path), caps)
                self._tables[path] = pq.read_table(path, pre_buffer=False)
        except Exception:  # noqa: S110 - the loader reads the file again and says what is wrong
            pass

    def take(self, path: Path) -> Any | None:
        """The Arrow table read for ``path`` (handed out once), or None."""
        self._thread.join()
        return self._tables.pop(path.resolve(), None)


def start(
    sources: Sequence[str | None], caps: Limits, max_bytes: int = PREFETCH_MAX_BYTES
) -> Prefetched | None:
    """Start reading ``sources`` when each is one local Parquet file and all of them decode
    to at most ``max_bytes`` (else the thread reads nothing); None when one is not a file."""
    paths = []
    for source in sources:
        if source is None or "://" in source or source.strip().startswith("mlflow-artifact:"):
            return None
        expanded = os.path.expanduser(source.strip())
        path = Path(expanded)
        if glob.has_magic(expanded) or not path.name.lower().endswith(_PARQUET):
            return None
        if not path.is_file():
            return None
        paths.append(path.resolve())
    return Prefetched(paths, caps, max_bytes) if paths else None
