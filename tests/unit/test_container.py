"""The container recipe, as far as it can be checked without a container engine: the Dockerfile
runs as a non-root user with a health check on /healthz and `serve --http` by default, and
compose.yaml wires the bot, MLflow and PostgreSQL to each other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_dockerfile_takes_the_base_image_as_a_build_argument() -> None:
    steps = _instructions()
    assert steps[0][0] == "ARG" and steps[0][1].startswith("BASE_IMAGE=")
    assert ("FROM", "${BASE_IMAGE}") in steps


def test_dockerfile_installs_the_lock_with_hashes_then_runs_as_a_non_root_user() -> None:
    steps = _instructions()
    runs = [rest for word, rest in steps if word == "RUN"]
    assert any("--require-hashes -r" in r and "requirements.lock" in r for r in runs)
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(word != "RUN" for word, _ in steps[last_user:])  # nothing runs as root after


def test_dockerfile_health_check_asks_healthz_and_the_default_command_serves_http() -> None:
    steps = dict((word, rest) for word, rest in _instructions() if word != "RUN")
    assert "/healthz" in steps["HEALTHCHECK"] and ":3000/" in steps["HEALTHCHECK"]
    assert steps["ENTRYPOINT"] == '["mlops-bot"]'
    assert steps["CMD"].startswith('["serve", "--http"')
    assert '"3000"' in steps["CMD"] and steps["EXPOSE"] == "3000"


def test_compose_starts_the_bot_mlflow_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"bot", "mlflow", "postgres"}
    assert services["bot"]["build"]["args"]["BASE_IMAGE"]
    for name in ("bot", "mlflow", "postgres"):
        assert services[name].get("healthcheck") or name == "bot", name  # bot: the image's
    for name, needs in (("bot", {"postgres", "mlflow"}), ("mlflow", {"postgres"})):
        depends = services[name]["depends_on"]
        assert set(depends) == needs
        assert all(d["condition"] == "service_healthy" for d in depends.values())


def test_compose_wires_the_settings_to_the_other_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["bot"]["environment"]
    db = env["DATABASE_URL"]
    assert db.startswith("postgresql+psycopg://") and "@postgres:5432/mlops_bot" in db
    mlflow_port = _flag(services["mlflow"]["command"], "--port")
    assert env["MLFLOW_TRACKING_URI"] == f"http://mlflow:{mlflow_port}"
    store = _flag(services["mlflow"]["command"], "--backend-store-uri")
    assert "@postgres:5432/" in store and not store.endswith("/mlops_bot")  # its own database
    assert "mlflow:" in _flag(services["mlflow"]["command"], "--allowed-hosts")
    pg = services["postgres"]["environment"]
    assert pg["POSTGRES_DB"] == "mlops_bot" and f"{pg['POSTGRES_USER']}:" in db
    init = [v for v in services["postgres"]["volumes"] if "initdb" in v]
    host_file = ROOT / init[0].split(":")[0]
    assert "CREATE DATABASE mlflow" in host_file.read_text(encoding="utf-8")
    assert services["bot"]["ports"] == ["3000:3000"]


def test_every_setting_compose_sets_is_a_setting_of_the_bot(compose: dict[str, Any]) -> None:
    from bot.config import Settings

    known = {name.upper() for name in Settings.model_fields}
    assert set(compose["services"]["bot"]["environment"]) <= known


def _flag(command: list[str], name: str) -> str:
    return next(c.split("=", 1)[1] for c in command if c.startswith(f"{name}="))


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", ".git", ".mlops-bot"} <= set(ignored)
    copied = [rest for word, rest in _instructions() if word == "COPY"]
    assert not [c for c in copied if any(i.strip("*/") in c.split() for i in ignored)]
