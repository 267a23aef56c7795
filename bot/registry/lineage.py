"""What a model version is made of, beyond its metrics: the model signature (MLflow's `MLmodel`
file), the training data (the run's dataset inputs) and the code (the run's `mlflow.source.*`
tags). Stored with a promotion request, so the card shows what was compared when it was asked.

Read with MLflow's own parsers (`Model.load`, the run's `inputs`): nothing here parses MLmodel
YAML or dataset sources by hand.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"
_CONTEXT_TAG = "mlflow.data.context"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Column(_Doc):
    """One input or output of a signature: `name` is `#<i>` for an unnamed tensor."""

    name: str
    type: str
    required: bool = True


class Signature(_Doc):
    inputs: list[Column] = Field(default_factory=list)
    outputs: list[Column] = Field(default_factory=list)


class DatasetRef(_Doc):
    """One MLflow dataset input of the run: what the model was trained (or evaluated) on."""

    name: str
    digest: str
    source: str
    context: str = ""  # `training`, `evaluation`… (the `mlflow.data.context` input tag)


class Lineage(_Doc):
    """Signature, data and code of one version; None / empty where MLflow has nothing."""

    signature: Signature | None = None
    signature_error: str = ""  # why the signature could not be read (not: "none logged")
    datasets: list[DatasetRef] = Field(default_factory=list)
    git_commit: str | None = None
    source_name: str | None = None


def read_lineage(
    client: MlflowClient,
    tracking_uri: str,
    name: str,
    version: str,
    tags: Mapping[str, str],
    datasets: Iterable[DatasetRef],
) -> Lineage:
    """The lineage of `name` v`version`: its signature, read here, with the `tags` and
    `datasets` of its source run."""
    signature, error = _signature(client, tracking_uri, name, version)
    return Lineage(
        signature=signature,
        signature_error=error,
        datasets=list(datasets),
        git_commit=tags.get(GIT_COMMIT_TAG) or None,
        source_name=tags.get(SOURCE_NAME_TAG) or None,
    )


def _signature(
    client: MlflowClient, tracking_uri: str, name: str, version: str
) -> tuple[Signature | None, str]:
    """The version's signature from its MLmodel file: (signature, "") or (None, why not).
    No MLmodel file, or one without a signature, is (None, "")."""
    # Model.load parses the file as MLflow does (flavors, signature schemas)
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        uri = client.get_model_version_download_uri(name, version).rstrip("/")
        listed = mlflow.artifacts.list_artifacts(artifact_uri=uri, tracking_uri=tracking_uri)
        if not any(f.path.rsplit("/", 1)[-1] == "MLmodel" for f in listed):
            return None, ""  # not an MLflow model folder: no signature to compare
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{uri}/MLmodel", dst_path=tmp, tracking_uri=tracking_uri
            )
            model = Model.load(path)
    except (MlflowException, OSError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("reading the signature of %s v%s failed: %s", name, version, text[:200])
        return None, text[:200]
    except Exception as exc:  # a malformed MLmodel file: YAML, schema JSON
        log.warning("the MLmodel of %s v%s is unreadable: %s", name, version, exc)
        return None, f"unreadable MLmodel file ({type(exc).__name__})"
    sig = model.signature
    if sig is None:
        return None, ""
    return Signature(inputs=_columns(sig.inputs), outputs=_columns(sig.outputs)), ""


def _columns(schema: Any) -> list[Column]:
    """Columns of an MLflow `Schema` (column- or tensor-based); [] for None."""
    if schema is None:
        return []
    columns = []
    for i, spec in enumerate(schema.inputs):
        name = getattr(spec, "name", None) or f"#{i}"
        if hasattr(spec, "shape"):  # TensorSpec: dtype and shape
            kind = f"tensor({spec.type}, {list(spec.shape)})"
        else:
            kind = str(getattr(spec.type, "name", None) or spec.type)
        columns.append(Column(name=name, type=kind, required=bool(getattr(spec, "required", True))))
    return columns


def datasets_of(run: Run) -> list[DatasetRef]:
    """The dataset inputs of a run: name, digest, source and context of each."""
    inputs = getattr(run, "inputs", None)
    found = []
    for di in getattr(inputs, "dataset_inputs", None) or []:
        ds = di.dataset
        context = next((t.value for t in di.tags or [] if t.key == _CONTEXT_TAG), "")
        found.append(
            DatasetRef(
                name=ds.name or "",
                digest=ds.digest or "",
                source=_source_text(ds.source_type, ds.source),
                context=context,
            )
        )
    return found


def _source_text(kind: str, source: str) -> str:
    """A dataset source as one line: its URI (or path, table…) when the JSON names one."""
    try:
        data = json.loads(source)
    except (TypeError, ValueError):
        return f"{kind}: {source}" if kind else str(source)
    if isinstance(data, dict):
        for key in ("uri", "url", "path", "table_name", "dataset_name", "name"):
            if data.get(key):
                return str(data[key])
        tags = data.get("tags")  # a `code` source: the script that built it
        if isinstance(tags, dict) and tags.get(SOURCE_NAME_TAG):
            return f"{kind or 'code'}: {tags[SOURCE_NAME_TAG]}"
    return f"{kind}: {source}" if kind else str(source)
