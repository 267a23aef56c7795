"""`mlops-bot demo`: a demo workspace on real data, so the bot can be tried without Slack or MLflow.

It trains three scikit-learn classifiers on the breast-cancer data set that ships inside
scikit-learn (no download), logs them to the embedded MLflow store with metrics, params, the
model and a `reference.parquet` artifact (training features + label + prediction), registers
them as model `churn` (the name the SPEC's examples use) with `@champion` → v1 and
`@challenger` → v3, writes a "current" data file (the held-out rows, two features shifted) and
a policy file whose gates v2 fails and v3 passes. Idempotent: a second run changes nothing;
`reset=True` starts over.

scikit-learn, pandas and mlflow are imported inside functions: the CLI imports this module.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.checks import bounded_mlflow_http, why_unanswered
from bot.config import Settings, sqlite_path
from bot.demo_data import (  # noqa: F401  (the demo's data constants, used by tests and the shell)
    DROPPED,
    LABEL,
    PREDICTION,
    SCORE,
    SEED,
    SHIFTED,
    TIMESTAMP,
    VERSION,
    Trained,
)
from bot.demo_data import train as _train
from bot.redact import redact

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

MODEL = "churn"
EXPERIMENT = "mlops-bot-demo"
DEMO_TAG = "mlops_bot.demo"
CHANNEL = "C0DEMO"
OWNER = "U0ALICE"
APPROVERS = ("U0BOB", "U0CAROL")
GATES = ("roc_auc >= champion - 0.005", "accuracy >= 0.90", "latency_ms <= champion * 1.10")
SCHEDULE = "0 9 * * 1-5"
SIGNATURE_GATE = "signature_compatible"  # v3 drops a column: compatible, and the card shows it

Echo = Callable[[str], Any]


class DemoError(Exception):
    """The demo cannot be seeded here; the message says why and what to do."""


def policy_file(settings: Settings) -> Path:
    return settings.mlops_bot_data_dir / "mlops-bot.toml"


def current_file(settings: Settings) -> Path:
    return settings.mlops_bot_data_dir / "demo" / "current.parquet"


def artifact_root(settings: Settings) -> Path:
    return settings.mlops_bot_data_dir / "mlartifacts"


def store_is_empty(settings: Settings) -> bool:
    """No registered model in the MLflow store (a sqlite file is read without importing mlflow)."""
    uri = settings.mlflow_tracking_uri
    path = sqlite_path(uri)
    if path is not None:
        if not path.exists():
            return True
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                (count,) = conn.execute("SELECT count(*) FROM registered_models").fetchone()
        except sqlite3.Error:  # not an MLflow store yet (no tables)
            return True
        return int(count) == 0
    from bot.registry.gateway import Registry

    return not Registry(uri).list_models()


# -- seeding ---------------------------------------------------------------------------------


def seed(settings: Settings, *, reset: bool = False, echo: Echo = print) -> bool:
    """Seed what is missing of the demo; True when anything changed. DemoError when it can't."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    started = time.monotonic()
    if reset:
        _reset(settings, echo)
    settings.ensure_local_dirs()
    _bot_database(settings, echo)
    client = _client(settings)
    with bounded_mlflow_http():  # the first call: within seconds when MLflow does not answer
        have_model = _demo_model_state(client, settings.mlflow_tracking_uri)
    policy, current = policy_file(settings), current_file(settings)
    if have_model and policy.exists() and current.exists():
        echo(
            f"The demo workspace is already seeded: model `{MODEL}` in "
            f"{settings.mlflow_tracking_uri}, policy {policy}, current data {current}.\n"
            "Nothing changed. `mlops-bot demo --reset` starts over."
        )
        return False
    echo(f"Seeding the demo workspace (MLflow: {settings.mlflow_tracking_uri}) …")
    trained, current_df = _train()
    if not have_model:
        _register(client, settings, trained, echo)
    else:
        echo(f"  model `{MODEL}` is already registered: kept as it is")
    if not current.exists():
        current.parent.mkdir(parents=True, exist_ok=True)
        current_df.to_parquet(current, index=False)
        shifted = " and ".join(f"{k} {op}{v:g}" for k, (op, v) in SHIFTED.items())
        echo(f"  current data  {current} ({len(current_df)} rows; drifted: {shifted})")
    if not policy.exists():
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(policy_text(current), encoding="utf-8")
        echo(
            f"  policy        {policy} (owner {OWNER}; approvers {', '.join(APPROVERS)}; "
            f"1 approval; {len(GATES) + 1} gates)"
        )
    echo(
        f"Done in {time.monotonic() - started:.0f} s. Next: `mlops-bot shell` (or `make run`), "
        "then type /mlops models"
    )
    return True


def _bot_database(settings: Settings, echo: Echo) -> None:
    """The bot's database at the newest migration, as a start would leave it (so that
    `mlops-bot check` passes on the demo workspace); said only when it was created."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage import db

    path = sqlite_path(settings.database_url)
    new = path is not None and not path.exists()
    try:
        engine = db.make_engine(settings.database_url)
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise DemoError(
            f"DATABASE_URL: cannot open {redact(settings.database_url)}: "
            f"{redact(str(exc).splitlines()[0][:200])}"
        ) from None
    if new:
        echo(f"  database      {path} (the bot's requests and audit log)")


def policy_text(current: Path) -> str:
    """The demo policy file (SPEC §3 format)."""
    gates = ", ".join(f'"{g}"' for g in (*GATES, SIGNATURE_GATE))
    approvers = ", ".join(f'"{a}"' for a in APPROVERS)
    return f"""\
# Written by `mlops-bot demo`: the policy of the demo workspace (format: SPEC §3).
# The local shell uses it when MLOPS_BOT_CONFIG is unset and there is no ./mlops-bot.toml.

[defaults]
approvers = [{approvers}]
required_approvals = 1

[models.{MODEL}]
owners = ["{OWNER}"]
approvers = [{approvers}]
required_approvals = 1
gates = [{gates}]

[models.{MODEL}.monitor]
reference = "mlflow-artifact:reference.parquet"
current = "{current.as_posix()}"
schedule = "{SCHEDULE}"
channel = "{CHANNEL}"
alias = "champion"
target = "{LABEL}"
prediction = "{PREDICTION}"
score = "{SCORE}"
timestamp = "{TIMESTAMP}"
"""


def _client(settings: Settings) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    uri = settings.mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _demo_model_state(client: MlflowClient, uri: str) -> bool:
    """True when the demo model is registered; DemoError when `churn` is someone else's."""
    from mlflow.exceptions import MlflowException

    try:
        rm = client.get_registered_model(MODEL)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise DemoError(
            f"MLFLOW_TRACKING_URI: {redact(uri)} failed ({why_unanswered(exc)})"
        ) from None
    if (rm.tags or {}).get(DEMO_TAG) != "true":
        raise DemoError(
            f"A model named `{MODEL}` already exists in {uri} and was not made by "
            "`mlops-bot demo`; set MLFLOW_TRACKING_URI to another store for the demo."
        )
    versions = client.search_model_versions(f"name='{MODEL}'")
    if len(versions) < 3:
        raise DemoError(
            f"The demo model in {uri} is incomplete (an earlier run stopped half-way); "
            "run `mlops-bot demo --reset`."
        )
    return True


def _experiment_id(client: MlflowClient, settings: Settings) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        location = artifact_root(settings).resolve()
        location.mkdir(parents=True, exist_ok=True)
        return str(client.create_experiment(EXPERIMENT, artifact_location=location.as_uri()))
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return str(exp.experiment_id)


def _register(client: MlflowClient, settings: Settings, trained: list[Trained], echo: Echo) -> None:
    import mlflow.sklearn
    import sklearn
    from mlflow.entities import Metric, Param

    from bot.policy.gates import evaluate, parse_gate
    from bot.registry.lineage import SOURCE_NAME_TAG

    exp_id = _experiment_id(client, settings)
    client.create_registered_model(
        MODEL,
        tags={DEMO_TAG: "true"},
        description=(
            "Demo model of mlops-bot: scikit-learn's bundled breast-cancer data set stands in "
            "for churn data. Seeded by `mlops-bot demo`."
        ),
    )
    champion = trained[0].metrics
    now_ms = int(time.time() * 1000)
    for number, t in enumerate(trained, start=1):
        run = client.create_run(
            exp_id,
            run_name=f"{MODEL}-v{number}",
            tags={DEMO_TAG: "true", "model_title": t.title, SOURCE_NAME_TAG: "bot/demo.py"},
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now_ms, 0) for k, v in t.metrics.items()],
            params=[Param(k, v) for k, v in t.params.items()],
        )
        with tempfile.TemporaryDirectory() as tmp:
            reference = Path(tmp) / "reference.parquet"
            t.reference.to_parquet(reference, index=False)
            client.log_artifact(run_id, str(reference))
            _log_training_data(client, run_id, f"{run.info.artifact_uri}/reference.parquet", t)
            model_dir = Path(tmp) / "model"
            features = t.reference[t.features]
            # our own freshly trained model: MLflow's warning about pickles is noise here
            logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
            mlflow.sklearn.save_model(
                t.model,
                str(model_dir),
                serialization_format="cloudpickle",
                signature=_signature(features, t.model.predict(features)),
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
            client.log_artifacts(run_id, str(model_dir), "model")
        client.set_terminated(run_id)
        client.create_model_version(
            MODEL,
            f"{run.info.artifact_uri}/model",
            run_id,
            tags={DEMO_TAG: "true"},
            description=t.title,
        )
        failed = [
            g
            for g in GATES
            if number > 1 and not evaluate(parse_gate(g), t.metrics, champion).passed
        ]
        gates = "" if number == 1 else f"  fails {'; '.join(failed)}" if failed else "  gates pass"
        m = t.metrics
        echo(
            f"  {MODEL} v{number}  {t.title:<25} roc_auc {m['roc_auc']:.4f}  "
            f"accuracy {m['accuracy']:.4f}  latency_ms {m['latency_ms']:.2f}{gates}"
        )
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "3")
    where = artifact_root(settings)
    echo(f"  aliases       @champion → v1, @challenger → v3 (artifacts under {where})")


def _signature(features: pd.DataFrame, predicted: Any) -> Any:
    """The model signature of the demo's data, without MLflow's hint about integer columns
    (the label and predictions are 0/1 integers, never missing)."""
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return infer_signature(features, predicted)


def _log_training_data(client: MlflowClient, run_id: str, uri: str, t: Trained) -> None:
    """The run's training data as an MLflow dataset input (the rows in reference.parquet)."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    # MLflow's hints: "the source can be interpreted in multiple ways" (it is a file) and about
    # integer columns (0/1 labels, never missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        data = from_pandas(t.reference, source=uri, name="breast_cancer_train", targets=LABEL)
        entity = data._to_mlflow_entity()
    context = InputTag("mlflow.data.context", "training")
    client.log_inputs(run_id, datasets=[DatasetInput(entity, [context])])


# -- reset -----------------------------------------------------------------------------------


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _reset(settings: Settings, echo: Echo) -> None:
    """Remove the demo: embedded stores are deleted, a shared MLflow loses only the demo's parts."""
    data_dir = settings.mlops_bot_data_dir
    mlflow_file = sqlite_path(settings.mlflow_tracking_uri)
    if mlflow_file is not None and _inside(mlflow_file, data_dir):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{mlflow_file}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(artifact_root(settings), ignore_errors=True)
        echo(f"reset: deleted the embedded MLflow store {mlflow_file} and its artifacts")
    else:
        _reset_shared_mlflow(settings, echo)
    bot_db = sqlite_path(settings.database_url)
    if bot_db is not None and _inside(bot_db, data_dir):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{bot_db}{suffix}").unlink(missing_ok=True)
        echo(f"reset: deleted the embedded bot database {bot_db} (requests and audit log)")
    else:
        echo("reset: the bot database is not the embedded one; it was kept")
    for path in (policy_file(settings), current_file(settings)):
        path.unlink(missing_ok=True)
    shutil.rmtree(data_dir / "shell-files", ignore_errors=True)
    echo("reset: deleted the demo policy, current data and shell files")


def _reset_shared_mlflow(settings: Settings, echo: Echo) -> None:
    """In an MLflow that holds more than the demo: delete the demo model and experiment only."""
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    try:
        rm = client.get_registered_model(MODEL)
        if (rm.tags or {}).get(DEMO_TAG) == "true":
            client.delete_registered_model(MODEL)
            echo(f"reset: deleted the demo model `{MODEL}` from {settings.mlflow_tracking_uri}")
    except MlflowException:
        pass
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        try:
            if exp.lifecycle_stage == "deleted":
                client.restore_experiment(exp.experiment_id)
            # experiment names stay taken after deletion: rename it so the next seed can start
            client.rename_experiment(exp.experiment_id, f"{EXPERIMENT}-deleted-{int(time.time())}")
            client.delete_experiment(exp.experiment_id)
        except MlflowException as exc:
            raise DemoError(f"could not delete the demo experiment: {exc}") from None
        echo(f"reset: deleted the demo experiment `{EXPERIMENT}`")


def adopt_policy() -> Path | None:
    """Point MLOPS_BOT_CONFIG at the demo's policy file when no policy is configured.

    The discovery the shell and `mlops-bot report` share: MLOPS_BOT_CONFIG, then
    `./mlops-bot.toml`, then the demo workspace's policy under the data dir. Call before the
    settings are read for good. Returns the file adopted, or None.
    """
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError:  # reported by whoever reads the settings next
        return None
    path = policy_file(settings)
    if settings.policy_path is not None or not path.exists():
        return None
    os.environ["MLOPS_BOT_CONFIG"] = str(path)
    return path
