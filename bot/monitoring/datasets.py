"""Loading reference and current data: local paths and globs, http(s), MLflow run artifacts.

Errors name the source (file, URL or artifact) and never quote row values; a URL is named
without its userinfo or query string (bot.redact), which may hold credentials.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.redact import redact

if TYPE_CHECKING:
    import pandas as pd

    from bot.registry.gateway import Registry

MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
HTTP_TIMEOUT = 60.0
ARTIFACT_SCHEME = "mlflow-artifact:"
_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".csv.gz", ".tsv")

Progress = Callable[[str], None]


class DatasetError(Exception):
    """A data source that cannot be read; the message names it and says why."""


@dataclass(frozen=True)
class Holder:
    """The version an alias points to: `mlflow-artifact:` sources are files of its source run."""

    registry: Registry
    model: str
    alias: str


@dataclass
class Dataset:
    uri: str
    frame: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.frame)


def load(
    uri: str,
    *,
    holder: Holder | None = None,
    progress: Progress | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> Dataset:
    """Load a CSV/Parquet data set from a local path or glob, http(s):// or mlflow-artifact:."""
    say = progress or (lambda _msg: None)
    uri = uri.strip()
    if not uri:
        raise DatasetError("no data source given")
    if uri.startswith(("http://", "https://")):
        shown = redact(uri)
        say(f"downloading {shown}")
        with tempfile.TemporaryDirectory(prefix="mlops-bot-") as tmp:
            path = _download(uri, Path(tmp), max_bytes)
            return Dataset(shown, _read_file(path, label=shown))
    if uri.startswith(ARTIFACT_SCHEME):
        say(f"fetching {uri}")
        with tempfile.TemporaryDirectory(prefix="mlops-bot-") as tmp:
            path = _artifact(uri[len(ARTIFACT_SCHEME) :], holder, Path(tmp))
            return Dataset(uri, _read_file(path, label=uri))
    return Dataset(uri, _read_local(uri, say))


def _read_local(pattern: str, say: Progress) -> pd.DataFrame:
    import pandas as pd

    expanded = os.path.expanduser(pattern)
    paths = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
    if not paths:
        raise DatasetError(f"no file matches `{pattern}`")
    frames = []
    for p in paths:
        say(f"reading {p}")
        frames.append(_read_file(Path(p), label=p))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _kind(name: str) -> str | None:
    lowered = name.lower().split("?", 1)[0]
    if lowered.endswith(_PARQUET):
        return "parquet"
    if lowered.endswith(_CSV):
        return "csv"
    return None


def _read_file(path: Path, label: str) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise DatasetError(f"`{label}` does not exist")
    if path.is_dir():
        raise DatasetError(f"`{label}` is a directory, not a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DatasetError(f"`{label}` is empty")
    kind = _kind(path.name) or _sniff(path)
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        elif kind == "csv":
            sep = "\t" if path.name.lower().endswith(".tsv") else ","
            frame = pd.read_csv(path, sep=sep, encoding="utf-8", low_memory=False)
        else:
            raise DatasetError(f"`{label}` is neither CSV nor Parquet (by name or content)")
    except DatasetError:
        raise
    except UnicodeDecodeError as exc:
        raise DatasetError(f"`{label}` is not UTF-8 text (byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise DatasetError(f"`{label}` has no columns") from None
    except pd.errors.ParserError as exc:
        raise DatasetError(
            f"`{label}` is not valid CSV: {str(exc).splitlines()[0][:200]}"
        ) from None
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DatasetError(f"`{label}` cannot be read as {kind}: {type(exc).__name__}") from None
    if frame.columns.size == 0:
        raise DatasetError(f"`{label}` has no columns")
    if frame.columns.has_duplicates:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DatasetError(f"`{label}` has duplicate columns: {', '.join(dupes[:10])}")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _sniff(path: Path) -> str | None:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    return "csv" if head and not head.startswith(b"\x00") else None


def _download(url: str, dest_dir: Path, max_bytes: int) -> Path:
    import httpx

    name = Path(url.split("?", 1)[0]).name or "download"
    dest = dest_dir / name
    shown = redact(url)
    try:
        with httpx.stream("GET", url, timeout=HTTP_TIMEOUT, follow_redirects=True) as resp:
            if resp.status_code >= 300:
                raise DatasetError(f"`{shown}` answered HTTP {resp.status_code}")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype.startswith(("text/html", "application/json")):
                raise DatasetError(f"`{shown}` sent {ctype}, not a CSV or Parquet file")
            if _kind(name) is None:
                if "parquet" in ctype:
                    dest = dest.with_suffix(".parquet")
                elif "csv" in ctype:
                    dest = dest.with_suffix(".csv")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DatasetError(f"`{shown}` is larger than {max_bytes // 2**20} MiB")
            size = 0
            with dest.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise DatasetError(f"`{shown}` is larger than {max_bytes // 2**20} MiB")
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise DatasetError(f"`{shown}` could not be fetched: {type(exc).__name__}") from None
    return dest


def _artifact(path: str, holder: Holder | None, dest: Path) -> Path:
    """Download an artifact of the alias holder's source run."""
    if holder is None:
        raise DatasetError(
            f"`{ARTIFACT_SCHEME}{path}` needs a model and an alias (the holder's run has the file)"
        )
    registry, model = holder.registry, holder.model
    version = registry.get_version(model, f"@{holder.alias}")
    if not version.run_id:
        raise DatasetError(f"`{model}` v{version.version} has no source run to read `{path}` from")
    try:
        from mlflow.artifacts import download_artifacts

        local = download_artifacts(
            run_id=version.run_id,
            artifact_path=path,
            dst_path=str(dest),
            tracking_uri=registry.tracking_uri,
        )
    except Exception as exc:
        detail = redact(str(exc).splitlines()[0])[:200] if str(exc) else type(exc).__name__
        raise DatasetError(
            f"artifact `{path}` of run {version.run_id} ({model} v{version.version}) "
            f"could not be fetched: {detail}"
        ) from None
    return Path(local)
