"""Loading reference and current data: local paths and globs, http(s), MLflow run artifacts.

Errors name the source (file, URL or artifact) and never quote row values; a URL is named
without its userinfo or query string (bot.redact), which may hold credentials.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from bot.redact import redact

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bot.monitoring.prefetch import Prefetched
    from bot.registry.gateway import Registry

MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
MAX_ROWS = 10_000_000
MAX_COLUMNS = 2000
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


@dataclass(frozen=True)
class Limits:
    """Caps on one data source, checked before it is loaded in full (bytes: on disk or on the
    wire; Parquet also its uncompressed size, rows and columns from the footer; CSV its header)."""

    max_bytes: int = MAX_DOWNLOAD_BYTES
    max_rows: int = MAX_ROWS
    max_columns: int = MAX_COLUMNS


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
    limits: Limits | None = None,
    max_bytes: int | None = None,
    prefetched: Prefetched | None = None,
) -> Dataset:
    """Load a CSV/Parquet data set from a local path or glob, http(s):// or mlflow-artifact:.

    `max_bytes` overrides `limits.max_bytes`; `prefetched` holds local Parquet files already
    read in the background (bot.monitoring.prefetch)."""
    say = progress or (lambda _msg: None)
    caps = limits or Limits()
    if max_bytes is not None:
        caps = dataclasses.replace(caps, max_bytes=max_bytes)
    uri = uri.strip()
    if not uri:
        raise DatasetError("no data source given")
    if uri.startswith(("http://", "https://")):
        shown = redact(uri)
        say(f"downloading {shown}")
        with tempfile.TemporaryDirectory(prefix="mlops-bot-") as tmp:
            path = _download(uri, Path(tmp), caps.max_bytes)
            return Dataset(shown, _read_file(path, label=shown, caps=caps))
    if uri.startswith(ARTIFACT_SCHEME):
        say(f"fetching {uri}")
        with tempfile.TemporaryDirectory(prefix="mlops-bot-") as tmp:
            path = _artifact(uri[len(ARTIFACT_SCHEME) :], holder, Path(tmp), caps.max_bytes)
            return Dataset(uri, _read_file(path, label=uri, caps=caps))
    return Dataset(uri, _read_local(uri, say, caps, prefetched))


def local_paths(source: str | Path) -> list[Path]:
    """The files a local path, glob or folder (its Parquet/CSV files, recursively) names."""
    text = os.path.expanduser(str(source))
    if glob.has_magic(text):
        return [Path(p) for p in sorted(glob.glob(text, recursive=True)) if os.path.isfile(p)]
    path = Path(text)
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.name.lower().endswith((".parquet", ".pq", ".csv", ".csv.gz", ".tsv"))
        )
    return [path] if path.is_file() else []


def _read_local(
    pattern: str, say: Progress, caps: Limits, prefetched: Prefetched | None = None
) -> pd.DataFrame:
    import pandas as pd

    expanded = os.path.expanduser(pattern)
    paths = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
    if os.path.isdir(expanded):  # a folder of partitions: its data files, as DuckDB reads it
        paths = [str(p) for p in local_paths(expanded)]
        if not paths:
            raise DatasetError(f"`{pattern}` is a folder without Parquet or CSV files")
    if not paths:
        raise DatasetError(f"no file matches `{pattern}`")
    total = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
    if total > caps.max_bytes:
        raise DatasetError(f"`{pattern}` is larger than {_mib(caps.max_bytes)}")
    frames = []
    rows = 0
    for p in paths:
        say(f"reading {p}")
        frame = _read_file(Path(p), label=p, caps=caps, prefetched=prefetched)
        rows += len(frame)
        if rows > caps.max_rows:
            raise DatasetError(f"`{pattern}` has more than {caps.max_rows:,} rows")
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def read_local_file(path: Path, caps: Limits | None = None) -> pd.DataFrame:
    """One local CSV/Parquet file, checked against ``caps`` as `load` checks each file."""
    return _read_file(path, label=str(path), caps=caps)


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def _check_parquet(path: Path, label: str, caps: Limits) -> None:
    """Rows, columns and uncompressed size from the footer, before any page is read."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    if meta.num_columns > caps.max_columns:
        raise DatasetError(
            f"`{label}` has {meta.num_columns:,} columns (at most {caps.max_columns:,})"
        )
    if meta.num_rows > caps.max_rows:
        raise DatasetError(f"`{label}` has {meta.num_rows:,} rows (at most {caps.max_rows:,})")
    unpacked = _decoded_bytes(meta)
    if unpacked > caps.max_bytes:
        raise DatasetError(
            f"`{label}` is {_mib(unpacked)} uncompressed (at most {_mib(caps.max_bytes)})"
        )


_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


def _decoded_bytes(meta: pq.FileMetaData) -> int:
    """About how many bytes the columns take once decoded: fixed-width values by their width
    (a run of zeros compresses to nothing and decodes to rows x 8 bytes), byte arrays by their
    uncompressed pages plus a pointer a row."""
    total = 0
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            column = group.column(j)
            width = _WIDTHS.get(column.physical_type)
            if width is not None:
                total += group.num_rows * width
            else:
                total += column.total_uncompressed_size + group.num_rows * 8
    return total


def _csv_columns(path: Path, sep: str) -> int:
    """The number of columns of a CSV file's header (read in bounded chunks)."""
    import csv
    import gzip
    import io

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        head = raw.read(1024 * 1024)
    text = head.decode("utf-8", errors="replace")
    first = next(csv.reader(io.StringIO(text), delimiter=sep), [])
    return len(first)


def _kind(name: str) -> str | None:
    lowered = name.lower().split("?", 1)[0]
    if lowered.endswith(_PARQUET):
        return "parquet"
    if lowered.endswith(_CSV):
        return "csv"
    return None


def _read_file(
    path: Path, label: str, caps: Limits | None = None, prefetched: Prefetched | None = None
) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise DatasetError(f"`{label}` does not exist")
    if path.is_dir():
        raise DatasetError(f"`{label}` is a directory, not a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DatasetError(f"`{label}` is empty")
    caps = caps or Limits()
    if path.stat().st_size > caps.max_bytes:
        raise DatasetError(f"`{label}` is larger than {_mib(caps.max_bytes)}")
    kind = _kind(path.name) or _sniff(path)
    try:
        if kind == "parquet":
            _check_parquet(path, label, caps)
            table = prefetched.take(path) if prefetched is not None else None
            frame = _read_parquet(path) if table is None else _to_frame(table)
        elif kind == "csv":
            sep = "\t" if path.name.lower().endswith(".tsv") else ","
            columns = _csv_columns(path, sep)
            if columns > caps.max_columns:
                raise DatasetError(
                    f"`{label}` has {columns:,} columns (at most {caps.max_columns:,})"
                )
            frame = pd.read_csv(
                path, sep=sep, encoding="utf-8", low_memory=False, nrows=caps.max_rows + 1
            )
            if len(frame) > caps.max_rows:
                raise DatasetError(f"`{label}` has more than {caps.max_rows:,} rows")
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


def _read_parquet(path: Path) -> pd.DataFrame:
    """Parquet through pyarrow with its buffers released as pandas takes the columns.

    `pd.read_parquet` holds 2.2x the frame at its peak: the compressed column chunks read
    ahead (`pre_buffer`) beside the decoded table, then the table beside the frame. Here the
    pages are read as they are decoded, `self_destruct` frees each column's Arrow buffers once
    pandas has it, `split_blocks` skips the copy that would merge the columns into one 2-D
    block, and the memory pool hands its cached pages back to the system."""
    import pyarrow.parquet as pq

    return _to_frame(pq.read_table(path, pre_buffer=False))


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The table as a frame, its Arrow buffers freed column by column (see _read_parquet)."""
    import pyarrow as pa

    pool = pa.default_memory_pool()
    pool.release_unused()
    try:
        return table.to_pandas(self_destruct=True, split_blocks=True)
    finally:
        del table
        pool.release_unused()


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
                raise DatasetError(f"`{shown}` is larger than {_mib(max_bytes)}")
            size = 0
            with dest.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise DatasetError(f"`{shown}` is larger than {_mib(max_bytes)}")
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise DatasetError(f"`{shown}` could not be fetched: {type(exc).__name__}") from None
    return dest


def _artifact(path: str, holder: Holder | None, dest: Path, max_bytes: int) -> Path:
    """Download an artifact of the alias holder's source run, from the tracking server only."""
    if holder is None:
        raise DatasetError(
            f"`{ARTIFACT_SCHEME}{path}` needs a model and an alias (the holder's run has the file)"
        )
    registry, model = holder.registry, holder.model
    version = registry.get_version(model, f"@{holder.alias}")
    if not version.run_id:
        raise DatasetError(f"`{model}` v{version.version} has no source run to read `{path}` from")
    where = f"artifact `{path}` of run {version.run_id} ({model} v{version.version})"
    try:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        root = registry.client.get_run(version.run_id).info.artifact_uri or ""
        _check_artifact_location(root, registry.tracking_uri, where)
        repo = get_artifact_repository(root, tracking_uri=registry.tracking_uri)
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        sizes = {f.path: f.file_size for f in repo.list_artifacts(parent) if not f.is_dir}
        if path in sizes and (sizes[path] or 0) > max_bytes:
            raise DatasetError(f"{where} is larger than {_mib(max_bytes)}")
        local = repo.download_artifacts(path, dst_path=str(dest))
    except DatasetError:
        raise
    except Exception as exc:
        detail = redact(str(exc).splitlines()[0])[:200] if str(exc) else type(exc).__name__
        raise DatasetError(f"{where} could not be fetched: {detail}") from None
    return Path(local)


# Artifact stores that are reached with the bot's MLflow credentials (MLflow sends
# MLFLOW_TRACKING_TOKEN / basic auth to whatever host such a URI names) …
_MLFLOW_CREDENTIALED = ("http", "https", "mlflow-artifacts")
# … and those that use their own credentials or none.
_OTHER_STORES = ("", "file", "s3", "gs", "wasbs", "abfss")


def _check_artifact_location(root: str, tracking_uri: str, where: str) -> None:
    """Refuse a run whose artifacts live on a host other than the tracking server."""
    loc, tracking = urlsplit(root), urlsplit(tracking_uri)
    scheme = loc.scheme.lower()
    if scheme in _OTHER_STORES:
        return
    if scheme not in _MLFLOW_CREDENTIALED:
        raise DatasetError(f"{where}: artifact store `{scheme}:` is not supported")
    if scheme == "mlflow-artifacts" and not loc.netloc:
        return  # resolved against the tracking server
    if tracking.scheme.lower() in ("http", "https") and _origin(loc) == _origin(tracking):
        return
    raise DatasetError(
        f"{where}: the run's artifacts are on `{loc.hostname or '?'}`, not on the tracking "
        "server; the bot does not send its MLflow credentials to other hosts"
    )


def _origin(url: SplitResult) -> tuple[str, int | None]:
    default = 443 if url.scheme.lower() == "https" else 80
    try:
        port = url.port or default
    except ValueError:
        port = None
    return ((url.hostname or "").lower(), port)
