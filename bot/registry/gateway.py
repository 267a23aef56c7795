"""MLflow gateway: the registry operations the bot needs, with errors fit for Slack.

mlflow is imported lazily (it takes seconds) so `mlops-bot --help` stays fast.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.redact import redact
from bot.registry.lineage import DatasetRef, Lineage, datasets_of, read_lineage

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# MLflow's REST client retries for minutes by default; a chat bot must answer in seconds.
_MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


# A version whose source is an MLflow 3 logged model: `models:/m-<id>` (not `models:/<name>/<v>`).
_LOGGED_MODEL = re.compile(r"^models:/(m-[0-9a-f]+)/?$")


class RegistryError(Exception):
    """An MLflow failure, with a message that can be shown in Slack."""


class NotFoundError(RegistryError):
    """A model, version or alias that does not exist."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class RegistryUnavailableError(RegistryError):
    """MLflow could not be reached or failed."""


@dataclass(frozen=True)
class ModelSummary:
    name: str
    aliases: dict[str, str]
    latest_version: str | None
    description: str = ""

    def holder(self, alias: str) -> str | None:
        """The version `alias` points to, found whatever its case: a case-insensitive store
        (MySQL, MariaDB, SQL Server; Databricks lowercases) keeps the case it was last set in."""
        if alias in self.aliases:
            return self.aliases[alias]
        folded = alias.casefold()
        return next((v for a, v in sorted(self.aliases.items()) if a.casefold() == folded), None)


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    source: str
    status: str
    created_ms: int | None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    run_artifact_uri: str | None = None  # where the version's run keeps its artifacts
    # the run that logged the model a `models:/m-…` source names (MLflow 3 logged models)
    source_run_id: str | None = None
    run_tags: dict[str, str] = field(default_factory=dict)  # the source run's tags
    datasets: tuple[DatasetRef, ...] = ()  # the source run's dataset inputs


class Registry:
    """Thin wrapper around `MlflowClient` for one tracking/registry URI."""

    def __init__(self, tracking_uri: str, ui_url: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.ui_url = ui_url.rstrip("/") if ui_url else None
        self._client: MlflowClient | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> MlflowClient:
        """The client, created (and mlflow imported) on first use by one thread only: two
        threads importing mlflow at once can hit Python's import deadlock detection."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    for key, value in _MLFLOW_HTTP_DEFAULTS.items():
                        os.environ.setdefault(key, value)
                    from mlflow.tracking import MlflowClient

                    self._client = MlflowClient(
                        tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                    )
        return self._client

    # -- reads ------------------------------------------------------------------------------

    def list_models(self) -> list[ModelSummary]:
        """All registered models with their aliases, sorted by name."""
        with _errors("list models"):
            models = []
            token = None
            while True:
                page = self.client.search_registered_models(max_results=200, page_token=token)
                for rm in page:
                    versions = [int(v.version) for v in (rm.latest_versions or [])]
                    models.append(
                        ModelSummary(
                            name=rm.name,
                            aliases={a: str(v) for a, v in dict(rm.aliases or {}).items()},
                            latest_version=str(max(versions)) if versions else None,
                            description=rm.description or "",
                        )
                    )
                token = page.token
                if not token:
                    break
        return sorted(models, key=lambda m: m.name.lower())

    def model_names(self) -> list[str]:
        return [m.name for m in self.list_models()]

    def get_model(self, name: str) -> ModelSummary:
        """One model; NotFoundError with "did you mean" suggestions when unknown."""
        with _errors(f"read model `{name}`"):
            from mlflow.exceptions import MlflowException

            try:
                rm = self.client.get_registered_model(name)
            except MlflowException as exc:
                if _is_not_found(exc):
                    raise self._unknown_model(name) from None
                raise
            versions = [int(v.version) for v in (rm.latest_versions or [])]
            return ModelSummary(
                name=rm.name,
                aliases={a: str(v) for a, v in dict(rm.aliases or {}).items()},
                latest_version=str(max(versions)) if versions else None,
                description=rm.description or "",
            )

    def get_version(self, name: str, ref: str | None = None) -> VersionInfo:
        """A version by number, by `@alias`, or (ref None) the latest one."""
        return self.version_of(self.get_model(name), ref)

    def version_of(self, model: ModelSummary, ref: str | None = None) -> VersionInfo:
        """`get_version` for a model already read with `get_model`: the model is not read again
        (a promotion request needs the model's aliases, the candidate and the holder)."""
        name = model.name
        with _errors(f"read `{name}`"):
            from mlflow.exceptions import MlflowException

            try:
                if ref is None:
                    if model.latest_version is None:
                        raise NotFoundError(f"Model `{name}` has no versions yet.")
                    mv = self.client.get_model_version(name, model.latest_version)
                elif ref.startswith("@"):
                    alias = ref[1:]
                    held = model.holder(alias)
                    if held is None:
                        known = ", ".join(f"@{a}" for a in sorted(model.aliases)) or "none"
                        raise NotFoundError(
                            f"Model `{name}` has no alias `@{alias}` (aliases: {known})."
                        )
                    mv = self.client.get_model_version(name, held)
                else:
                    mv = self.client.get_model_version(name, ref)
            except MlflowException as exc:
                if _is_not_found(exc):
                    latest = model.latest_version or "none"
                    raise NotFoundError(
                        f"Model `{name}` has no version `{ref}` (latest: {latest})."
                    ) from None
                raise
            metrics: dict[str, float] = {}
            params: dict[str, str] = {}
            run_tags: dict[str, str] = {}
            datasets: tuple[DatasetRef, ...] = ()
            artifact_uri = None
            if mv.run_id:
                try:
                    run = self.client.get_run(mv.run_id)
                    metrics = {k: float(v) for k, v in run.data.metrics.items() if math.isfinite(v)}
                    params = dict(run.data.params)
                    run_tags = dict(run.data.tags)
                    datasets = tuple(datasets_of(run))
                    artifact_uri = run.info.artifact_uri or None
                except MlflowException as exc:
                    if not _is_not_found(exc):
                        raise
            return VersionInfo(
                name=mv.name,
                version=str(mv.version),
                aliases=tuple(sorted(mv.aliases or [])),
                run_id=mv.run_id or None,
                source=mv.source or "",
                status=str(mv.status or ""),
                created_ms=mv.creation_timestamp,
                tags=dict(mv.tags or {}),
                metrics=metrics,
                params=params,
                run_artifact_uri=artifact_uri,
                run_tags=run_tags,
                datasets=datasets,
                source_run_id=self._logged_model_run(mv.source or ""),
            )

    def _logged_model_run(self, source: str) -> str | None:
        """The run that logged the model of a `models:/m-…` source, or None."""
        from mlflow.exceptions import MlflowException

        found = _LOGGED_MODEL.match(source)
        if found is None:
            return None
        try:
            run_id = self.client.get_logged_model(found.group(1)).source_run_id
        except MlflowException as exc:
            if _is_not_found(exc):
                return None
            raise
        return run_id or None

    def lineage(self, v: VersionInfo) -> Lineage:
        """Signature, training data and code version of a version read with `version_of`
        (the signature separately: it downloads the MLmodel file, which only a promotion
        request needs; the rest comes from the run `version_of` read)."""
        with _errors(f"read the signature of `{v.name}` v{v.version}"):
            return read_lineage(
                self.client, self.tracking_uri, v.name, v.version, v.run_tags, v.datasets
            )

    def alias_holder(self, name: str, alias: str) -> str | None:
        """The version an alias points to now (whatever the case of its name), or None."""
        return self.get_model(name).holder(alias)

    def ping(self) -> None:
        """Raise RegistryUnavailableError unless MLflow answers."""
        with _errors("reach MLflow"):
            self.client.search_registered_models(max_results=1)

    def versions_tagged(self, key: str) -> list[tuple[str, str, str]]:
        """(model, version, value) of every model version carrying the tag `key`."""
        with _errors(f"search versions tagged {key}"):
            found, token = [], None
            while True:
                page = self.client.search_model_versions(
                    filter_string=f"tags.`{key}` LIKE '%'", max_results=200, page_token=token
                )
                found += [(mv.name, str(mv.version), mv.tags[key]) for mv in page if key in mv.tags]
                token = page.token
                if not token:
                    return found

    # -- writes -----------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with _errors(f"set `@{alias}` on `{name}` v{version}"):
            self.client.set_registered_model_alias(name, alias, version)

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        with _errors(f"tag `{name}` v{version}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(name, version, key, value)

    # -- links ------------------------------------------------------------------------------

    def version_url(self, name: str, version: str) -> str | None:
        if not self.ui_url:
            return None
        return f"{self.ui_url}/#/models/{name}/versions/{version}"

    def run_url(self, run_id: str, experiment_id: str | None = None) -> str | None:
        if not self.ui_url:
            return None
        if experiment_id:
            return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"
        return f"{self.ui_url}/#/runs/{run_id}"

    # -- helpers ----------------------------------------------------------------------------

    def _unknown_model(self, name: str) -> NotFoundError:
        try:
            names = self.model_names()
        except RegistryError:
            names = []
        suggestions = suggest(name, names)
        hint = f" Did you mean {', '.join(f'`{s}`' for s in suggestions)}?" if suggestions else ""
        return NotFoundError(f"No registered model named `{name}`.{hint}", suggestions)


def suggest(word: str, choices: list[str], n: int = 3) -> list[str]:
    """Close matches for "did you mean", case-insensitive."""
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]


def _is_not_found(exc: Any) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()


@contextmanager
def _errors(what: str) -> Iterator[None]:
    """Turn MLflow and transport exceptions into RegistryError subclasses."""
    try:
        yield
    except RegistryError:
        raise
    except Exception as exc:  # mlflow raises many types (MlflowException, requests, sqlalchemy)
        # MLflow's texts quote the request URL, which holds the tracking URI's credentials.
        detail = redact(str(exc).splitlines()[0])[:200] if str(exc) else type(exc).__name__
        raise RegistryUnavailableError(f"MLflow could not {what}: {detail}") from exc
