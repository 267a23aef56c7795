"""`mlops-bot report --out DIR`: checked before any data is read, written after.

DIR is the report's own directory: created when missing (with its parents), written into when
it exists without a report, refused when it already holds one (`report.json`) unless `--force`
is given, and then the earlier report (its `report.json`, `report.html`,
`drift_features.csv` and the PNG files beside it) is deleted only once the new one has been
computed, so a failed run leaves the old report whole.
A path that is a file, or a directory this process cannot write to, is refused up front.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPORT_FILE = "report.json"
# what a report writes besides its PNGs (its page and feature table, where they are made)
REPORT_FILES = (REPORT_FILE, "report.html", "drift_features.csv")


class OutDirError(Exception):
    """`--out` cannot take the report; the message says why in one line."""


@dataclass(frozen=True)
class OutDir:
    """A checked `--out`: where to write, and the earlier report's files `--force` replaces."""

    path: Path
    replaced: list[Path] = field(default_factory=list)

    def clear(self) -> None:
        """Delete the earlier report's files (after the new report was computed)."""
        for old in self.replaced:
            old.unlink(missing_ok=True)


def check(out: Path, *, force: bool) -> OutDir:
    """OutDirError when `out` cannot take a report; nothing is created or deleted here."""
    if out.exists() and not out.is_dir():
        raise OutDirError(f"--out {out} is a file; name a directory for report.json and the PNGs")
    if out.is_dir():
        replaced: list[Path] = []
        if (out / REPORT_FILE).exists():
            if not force:
                raise OutDirError(
                    f"--out {out} already holds a report ({REPORT_FILE}); add --force to "
                    "replace it, or name another directory"
                )
            named = [out / name for name in REPORT_FILES if (out / name).is_file()]
            replaced = [*named, *sorted(p for p in out.glob("*.png") if p.is_file())]
        _check_writable(out, out)
        return OutDir(out, replaced)
    parent = _nearest_existing(out)
    if not parent.is_dir():
        raise OutDirError(f"--out {out}: {parent} is a file, not a directory")
    _check_writable(parent, out)
    return OutDir(out)


def _nearest_existing(path: Path) -> Path:
    for candidate in path.absolute().parents:
        if candidate.exists():
            return candidate
    return Path("/")  # pragma: no cover (the root always exists)


def _check_writable(directory: Path, out: Path) -> None:
    """Create and remove a temporary file there: permission bits say nothing for root, and
    a read-only file system only shows when writing."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = "" if directory == out else f" ({directory})"
        raise OutDirError(f"--out {out}: cannot write there{where}: {reason}") from None
