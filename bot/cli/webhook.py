"""`mlops-bot webhook register --url …`: register the bot's endpoint in the MLflow server."""

from __future__ import annotations

from typing import Any

import typer

EVENTS: list[Any] = [
    "model_version.created",
    "model_version_alias.created",
    "model_version_alias.deleted",
    "model_version_tag.set",
    "model_version_tag.deleted",
]

webhook_cli = typer.Typer(
    help="MLflow registry webhooks.", no_args_is_help=True, rich_markup_mode=None
)


@webhook_cli.command("register")
def register(
    url: str = typer.Option(..., "--url", help="public https URL of POST /mlflow/webhook"),
    name: str = typer.Option("mlops-bot", "--name", help="webhook name in MLflow"),
) -> None:
    """Create the webhook in MLflow (≥ 3.3) with MLFLOW_WEBHOOK_SECRET as its secret."""
    from bot.cli.common import fail
    from bot.config import Settings, secret

    settings = Settings()
    key = secret(settings.mlflow_webhook_secret)
    if not key:
        fail("set MLFLOW_WEBHOOK_SECRET first: the bot verifies every delivery with it", 1)
    if not url.startswith("https://"):
        fail("MLflow only delivers to https:// URLs", 1)
    if not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
        fail("webhooks are sent by an MLflow tracking server: point MLFLOW_TRACKING_URI at one", 1)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )
    try:
        hook = client.create_webhook(
            name=name,
            url=url,
            events=EVENTS,
            secret=key,
            description="mlops-bot: approvals and out-of-band changes",
        )
    except Exception as exc:
        fail(f"MLflow refused the webhook: {str(exc).splitlines()[0][:300]}", 1)
    typer.echo(f"registered webhook {hook.webhook_id} → {url} for {', '.join(EVENTS)}")
