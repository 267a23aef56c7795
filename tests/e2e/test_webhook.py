"""A real `mlflow server` delivers a signed registry webhook to the bot over TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mlflow.tracking import MlflowClient

from bot.approvals.outcomes import OutcomeKind
from jobs.reconcile import run as reconcile
from tests.helpers import BotServer, MlflowServer, start_bot, wait_until
from tests.slack_fake import FakeSlack

pytestmark = pytest.mark.slow
SECRET = "e2e-webhook-secret"
ALERTS = "C0ALERTS"


def self_signed(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost that the MLflow server is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def mlflow_and_bot(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path, events: list[str]
) -> Iterator[tuple[MlflowClient, BotServer]]:
    """A real `mlflow server` (over a copy of the template store) that delivers `events` to the
    bot over TLS; the bot's own baseline of the protected aliases is recorded."""
    import certifi

    cert, key = self_signed(tmp_path)
    shutil.copytree(mlflow_template, tmp_path / "store")
    # MLflow 3.17 delivers with a requests session that has trust_env = False, so it ignores
    # REQUESTS_CA_BUNDLE and verifies against certifi's bundle: the server process gets a
    # sitecustomize that points certifi at that bundle plus this test's certificate.
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + cert.read_bytes())
    hook = tmp_path / "sitecustomize"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, certifi, certifi.core\n"
        "_bundle = os.environ['MLOPS_BOT_TEST_CA_BUNDLE']\n"
        "certifi.where = certifi.core.where = lambda: _bundle\n"
    )
    server = MlflowServer(
        tmp_path / "store",
        env={
            "REQUESTS_CA_BUNDLE": str(bundle),
            "MLOPS_BOT_TEST_CA_BUNDLE": str(bundle),
            "PYTHONPATH": str(hook),
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        },
    )
    server.start()
    bot = start_bot(
        tmp_path / "bot",
        fake_slack,
        mlflow_uri=server.url,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        tls=(cert, key),
        policy='[defaults]\napprovers = ["U0APPROVER1"]\n',
        mlflow_webhook_secret=SECRET,
        mlops_bot_report_channel=ALERTS,
    )
    try:
        assert reconcile(bot.runtime, bot.app.client) == 0  # baseline: champion → v1
        client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
        client.create_webhook(
            name="mlops-bot", url=f"{bot.url}/mlflow/webhook", events=events, secret=SECRET
        )
        yield client, bot
    finally:
        bot.stop()
        server.stop()


def test_mlflow_server_delivers_an_alias_change(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    events = ["model_version_alias.created"]
    with mlflow_and_bot(mlflow_template, fake_slack, tmp_path, events) as (client, bot):
        client.set_registered_model_alias("churn", "champion", "2")  # behind the bot's back
        post = bot.posted_in(ALERTS, timeout=60)
        assert "Out-of-band change" in post.params["text"] and "now v2" in post.params["text"]
        events = wait_until(lambda: bot.audited("out_of_band_change"))
        assert "MLflow webhook" in events[0].details


def delivered(bot: BotServer) -> int:
    """How many MLflow deliveries the bot has taken in."""
    from sqlmodel import func, select

    from bot.storage import db
    from bot.storage.tables import WebhookDelivery

    with db.session(bot.runtime.engine) as s:
        return int(s.exec(select(func.count()).select_from(WebhookDelivery)).one())


def test_a_legitimate_promotion_raises_no_tampering_notice(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    events = [
        "model_version_alias.created",
        "model_version_tag.set",
        "model_version_tag.deleted",
    ]
    with mlflow_and_bot(mlflow_template, fake_slack, tmp_path, events) as (client, bot):
        svc = bot.services.approvals
        outcome = svc.request_promotion("churn", "3", "champion", "U0REQ", "better recall")
        assert outcome.request is not None
        assert svc.approve(outcome.request.id, "U0APPROVER1").kind == OutcomeKind.APPLIED
        # The alias move and the bot's three mlops_bot.* tags, each delivered by MLflow.
        wait_until(lambda: delivered(bot) >= 4, timeout=60)
        # Then a real tampering, whose notice arrives after the four were handled.
        client.set_model_version_tag("churn", "3", "mlops_bot.approved_by", "U0MALLORY")
        post = bot.posted_in(ALERTS, timeout=60)
        assert "Tag tampering" in post.params["text"] and "U0MALLORY" in post.params["text"]
        wait_until(lambda: delivered(bot) >= 5, timeout=60)
        notices = [c.params["text"] for c in bot.fake.calls_to("chat.postMessage")]
        assert len([t for t in notices if "Tag tampering" in t]) == 1, notices
        assert not [t for t in notices if "Out-of-band change" in t], notices
        changes = bot.audited("out_of_band_change")
        assert len(changes) == 1 and "U0MALLORY" in changes[0].details
