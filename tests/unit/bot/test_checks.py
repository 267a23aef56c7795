"""The start-up probe's bounds on MLflow's HTTP retries hold only while it runs: afterwards the
bot's usual values are back (MLflow's own defaults retry one call for minutes)."""

from __future__ import annotations

import os

import pytest

from bot.checks import bounded_mlflow_http

RETRIES, TIMEOUT = "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"


def test_after_the_probe_the_gateway_defaults_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETRIES, raising=False)
    monkeypatch.delenv(TIMEOUT, raising=False)
    with bounded_mlflow_http():
        assert (os.environ[RETRIES], os.environ[TIMEOUT]) == ("0", "5")
    assert (os.environ[RETRIES], os.environ[TIMEOUT]) == ("2", "10")  # not MLflow's 7 and 120


def test_after_the_probe_the_operators_values_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRIES, "4")
    monkeypatch.setenv(TIMEOUT, "30")
    with pytest.raises(RuntimeError), bounded_mlflow_http():
        assert os.environ[RETRIES] == "0"
        raise RuntimeError("the probe failed")
    assert (os.environ[RETRIES], os.environ[TIMEOUT]) == ("4", "30")
