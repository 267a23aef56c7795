"""Profiles kept under the data dir, so a monitor's reference is profiled once (issue 15, item 4).

Layout under ``<data dir>/profiles``:

* ``reference/<model>/<key>.parquet``: a monitor's reference profile. The key hashes the model,
  the version, the reference's digest (local files: path, size and mtime_ns of each; an
  ``mlflow-artifact:`` source: the URI and the run id it is read from, which is immutable), the
  profiled columns and the format version. A changed reference is a new key; the model's older
  profiles beyond :data:`KEEP_PER_MODEL` are pruned.
* ``reference-tables/<model>/<key>/``: the same for the DuckDB and Spark engines, a folder of
  value and category counts (``engines.stored_profile``), renamed into place when complete.
* ``partition-tables/<key>/``: a file of a current folder or glob profiled so (all columns;
  key: path, size, mtime_ns), pruned as the partition profiles.
* ``partitions/<key>.parquet``: one file of a current folder or glob (key: path, size,
  mtime_ns), so a weekly window over daily partitions reads each day once. Each use touches
  the profile; those unused for :data:`PARTITION_DAYS` days are pruned.

Writes go to a temporary file renamed into place (``os.replace``), so another replica or report
never reads half a profile. A profile that cannot be read, or is of another format version, is
a miss (logged) and is computed again; a profile that cannot be written is logged and the
report goes on. ``hits``, ``misses`` and ``writes`` count per kind for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from bot.monitoring.drift.engines.stored_profile import FORMAT as TABLES_FORMAT
from bot.monitoring.drift.engines.stored_profile import StoredProfile
from bot.monitoring.drift.engines.stored_profile import load as load_tables
from bot.monitoring.drift.profile_codec import (
    FORMAT_VERSION,
    ProfileFormatError,
    UnstorableProfile,
    read_profile,
    write_profile,
)
from bot.monitoring.drift.profiles import ReferenceProfile

log = logging.getLogger(__name__)

KEEP_PER_MODEL = 4  # reference profiles kept per model (champion and challenger may differ)
PARTITION_DAYS = 35  # a partition profile no report used for this long is deleted
FOLDER = "profiles"
TMP_PREFIX = ".tmp-"  # a profile being written, renamed into place when complete
ABANDONED_AFTER = 86400  # seconds: a profile being written untouched so long lost its writer


class ProfileKind(StrEnum):
    """Which side a stored profile is of."""

    REFERENCE = "reference"
    PARTITION = "partitions"
    TABLES = "reference-tables"  # a reference profiled by DuckDB or Spark (a folder)
    PARTITION_TABLES = "partition-tables"  # a current file profiled by DuckDB or Spark


def file_digest(paths: Iterable[Path]) -> list[str]:
    """Path, size and mtime_ns of each file (a file that changed is another digest)."""
    out: list[str] = []
    for path in paths:
        st = path.stat()
        out.append(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}")
    return out


@dataclass(frozen=True)
class ReferenceKey:
    """What a reference profile depends on."""

    model: str
    version: str | None
    digest: Sequence[str]  # file_digest(...), or the artifact URI and its run id
    exclude: Sequence[str] = ()  # columns not profiled
    columns: Sequence[str] | None = None  # None: every column

    def source(self) -> dict[str, str]:
        """The key as text, written beside the profile (what it was made of)."""
        return {
            "model": self.model,
            "version": str(self.version),
            "digest": json.dumps(list(self.digest)),
            "exclude": json.dumps(sorted(self.exclude)),
            "columns": json.dumps(None if self.columns is None else list(self.columns)),
        }

    def hexdigest(self) -> str:
        text = json.dumps({**self.source(), "format": FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class ProfileStore:
    """Reference and partition profiles under ``root`` (``<data dir>/profiles``)."""

    root: Path
    hits: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ProfileStore:
        """The store of a bot's data dir."""
        return cls(data_dir / FOLDER)

    def reference_path(self, key: ReferenceKey) -> Path:
        return self.root / ProfileKind.REFERENCE / _slug(key.model) / f"{key.hexdigest()}.parquet"

    def tables_path(self, key: ReferenceKey) -> Path:
        name = hashlib.sha256(f"{key.hexdigest()}|tables-{TABLES_FORMAT}".encode()).hexdigest()
        return self.root / ProfileKind.TABLES / _slug(key.model) / name[:32]

    def partition_tables_path(self, digest: str) -> Path:
        name = hashlib.sha256(f"{digest}|tables-{TABLES_FORMAT}".encode()).hexdigest()[:32]
        return self.root / ProfileKind.PARTITION_TABLES / name[:2] / name

    def load_tables(self, kind: ProfileKind, path: Path) -> StoredProfile | None:
        """The stored profile folder at ``path``, or None (a miss, as :meth:`load`)."""
        try:
            stored = load_tables(path)
        except FileNotFoundError:
            self._missed(kind)
            return None
        except Exception as exc:  # another format, a corrupt meta.json
            self._missed(kind, path, exc)
            return None
        self._hit(kind, path)
        return stored

    def keep_tables(self, kind: ProfileKind, stored: StoredProfile, path: Path) -> StoredProfile:
        """Move a folder just built (under :meth:`scratch`) to ``path``; when another report
        stored it first, or it cannot be moved (logged), ``stored`` stays where it is."""
        for attempt in range(2):
            try:
                os.rename(stored.folder, path)
                break
            except OSError as exc:
                if not path.exists():
                    log.warning("profile %s could not be written: %s", path, exc)
                    return stored
                if attempt or _readable(path):  # another report stored it first
                    return stored
                shutil.rmtree(path, ignore_errors=True)  # a corrupt one: replaced
        self.writes[kind] += 1
        return load_tables(path)

    def scratch(self, path: Path) -> Path:
        """A new folder to build the folder ``path`` in (beside it: one file system)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=path.parent))

    def partition_path(self, digest: str) -> Path:
        name = hashlib.sha256(f"{digest}|{FORMAT_VERSION}".encode()).hexdigest()[:32]
        return self.root / ProfileKind.PARTITION / name[:2] / f"{name}.parquet"

    def load(self, kind: ProfileKind, path: Path) -> ReferenceProfile | None:
        """The profile at ``path``, or None (a miss: absent, unreadable, another format)."""
        try:
            profile = read_profile(path)
        except FileNotFoundError:
            self._missed(kind)
            return None
        except ProfileFormatError as exc:
            log.info("profile %s is of another format (%s); computing it again", path, exc)
            self._missed(kind)
            return None
        except Exception as exc:  # a corrupt file: pyarrow raises several types
            self._missed(kind, path, exc)
            return None
        self._hit(kind, path)
        return profile

    def _missed(
        self, kind: ProfileKind, path: Path | None = None, exc: Exception | None = None
    ) -> None:
        """Count a miss; log why a profile that is there cannot be read."""
        if path is not None:
            log.warning("profile %s cannot be read (%s); computing it again", path, exc)
        self.misses[kind] += 1

    def _hit(self, kind: ProfileKind, path: Path) -> None:
        self.hits[kind] += 1
        if kind in (ProfileKind.PARTITION, ProfileKind.PARTITION_TABLES):
            with contextlib.suppress(OSError):  # pruned meanwhile: it was read anyway
                os.utime(path)  # in use: not pruned

    def save(
        self, kind: ProfileKind, path: Path, profile: ReferenceProfile, source: dict[str, str]
    ) -> bool:
        """Write ``profile`` atomically; False (logged) when it could not be written."""
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".parquet", dir=path.parent)
            os.close(fd)
            write_profile(profile, Path(tmp), source)
            os.replace(tmp, path)
            tmp = None
        except UnstorableProfile as exc:
            log.info("profile not cached: %s", exc)
            return False
        except Exception as exc:  # a full or read-only disk must not fail the report
            log.warning("profile %s could not be written: %s", path, exc)
            return False
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.writes[kind] += 1
        return True

    def prune(self, model: str, keep: int = KEEP_PER_MODEL, now: float | None = None) -> list[Path]:
        """Delete the model's reference profiles beyond the ``keep`` most recently written.
        Those being written by another report are not counted, nor deleted unless abandoned
        (:func:`_abandoned`; ``now``: seconds since the epoch, default the system clock)."""
        clock = time.time() if now is None else now
        removed: list[Path] = []
        for kind, pattern in ((ProfileKind.REFERENCE, "*.parquet"), (ProfileKind.TABLES, "*")):
            folder = self.root / kind / _slug(model)
            try:
                entries = list(folder.glob(pattern))
                done = sorted(
                    (p for p in entries if not p.name.startswith(TMP_PREFIX)),
                    key=lambda p: p.stat().st_mtime_ns,
                    reverse=True,
                )
                stale = [p for p in entries if _abandoned(p, clock)]
            except OSError:  # another replica pruned at the same time
                continue
            for path in [*done[keep:], *stale]:
                try:
                    _remove(path)
                    removed.append(path)
                except OSError:
                    pass
        return removed

    def prune_partitions(self, days: int = PARTITION_DAYS, now: float | None = None) -> int:
        """Delete partition profiles not used for ``days`` days, and abandoned ones being
        written (``now``: seconds since the epoch, default the system clock); returns how many."""
        clock = time.time() if now is None else now
        cutoff = clock - days * 86400
        removed = 0
        found = [
            *(self.root / ProfileKind.PARTITION).glob("*/*.parquet"),
            *(self.root / ProfileKind.PARTITION_TABLES).glob("*/*"),
        ]
        for path in found:
            try:
                if path.name.startswith(TMP_PREFIX):
                    expired = _abandoned(path, clock)
                else:
                    expired = path.stat().st_mtime < cutoff
                if expired:
                    _remove(path)
                    removed += 1
            except OSError:  # another replica pruned it first
                pass
        return removed


def _abandoned(path: Path, clock: float) -> bool:
    """Whether ``path`` is a profile being written (``TMP_PREFIX``) that nothing has touched
    for :data:`ABANDONED_AFTER` seconds: its report was killed, and it would stay forever."""
    return path.name.startswith(TMP_PREFIX) and path.stat().st_mtime < clock - ABANDONED_AFTER


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _readable(folder: Path) -> bool:
    try:
        load_tables(folder)
    except Exception:  # the reasons load_tables gives for a miss
        return False
    return True


def _slug(model: str) -> str:
    """A folder name per model: readable, and unique through a short hash."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", model)[:60]
    return f"{cleaned}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"
