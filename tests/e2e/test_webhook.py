"""A real `mlflow server` delivers a signed registry webhook to the bot over TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mlflow.tracking import MlflowClient

from jobs.reconcile import run as reconcile
from tests.helpers import MlflowServer, start_bot, wait_until
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


def test_mlflow_server_delivers_an_alias_change(
    mlflow_template: Path, fake_slack: FakeSlack, tmp_path: Path
) -> None:
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
            name="mlops-bot",
            url=f"{bot.url}/mlflow/webhook",
            events=["model_version_alias.created"],
            secret=SECRET,
        )
        client.set_registered_model_alias("churn", "champion", "2")  # behind the bot's back
        post = bot.posted_in(ALERTS, timeout=60)
        assert "Out-of-band change" in post.params["text"] and "now v2" in post.params["text"]
        events = wait_until(lambda: bot.audited("out_of_band_change"))
        assert "MLflow webhook" in events[0].details
    finally:
        bot.stop()
        server.stop()
