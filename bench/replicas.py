"""Two `mlops-bot serve --http` replicas on one PostgreSQL database under a mixed load (issue 8).

    .venv/bin/python bench/replicas.py [--quick] [--duration 140] [--concurrency 20]
        [--models 10] [--read-share 0.4] [--flood] [--database-url URL] [--out FILE]

WARNING: the run starts by dropping every table of the database at --database-url (the bot's
and Alembic's: `tests.helpers.reset_postgres`, i.e. DROP SCHEMA public CASCADE). The default is
a database of its own, `mlops_bot_bench_replicas` on the PostgreSQL at 127.0.0.1:5432, created
when missing, so the test suite's `test` database is not touched.

Setup: an MLflow sqlite store seeded as the tests seed it (churn, fraud-detector) plus --models
models `bench-mNN` with two versions each (@champion → v1, gates pass both ways); a policy file
where every bench model needs 2 approvals from U0APPR1, U0APPR2 and the user group S0LEADS
(U0LEAD); a policy-file monitor posting a churn drift report to C0REPORTS every minute; and a
`/mlops schedule add perf fraud-detector "* * * * *" <#C0PERF>` made through Slack. Both
replicas share the database, the MLflow store and the fake Slack Web API (tests/slack_fake.py,
in this process on loopback, so the load generator and the fake share one interpreter).

Load: --concurrency closed-loop senders for --duration seconds. The window starts at second :50
of a minute so it holds fire minutes at +10 s, +70 s, … (2 with --quick, 3 by default). Each
send is, with probability --read-share, a read-only command (`status`, `models`, `pending`,
`show churn` in turn); otherwise a queued Approve click, or else a promotion request for an
idle bench model (each model flips v1 ↔ v2, one open request per model, in a channel of its
own). Every card gets eight Approve clicks, queued at once and spread over both replicas: the
requester, two outsiders, the three approvers, and a second click by two of them on the other
replica. Commands alternate between the replicas by sender. A sender waits for a command's
answer (its response_url POST, as a user would) before it sends again; with --flood it waits
for the ack only, and the after-ack work queues up without bound. Clicks wait for their ack.
After the window no new work starts: the senders finish the clicks of cards already posted,
and the bench waits (polling, with deadlines) until every request is decided and every claimed
report fire is posted, then stops the replicas at second :25–:50 of a minute and checks.

Measured: ack latency (request to HTTP answer, Slack's 3 s limit) per kind and non-200
answers; the after-ack reply latency (request to the response_url POST) of commands and of
clicks that are refused; the 1-minute load average during the window.

Exactly-once checks (exit status 1 when one fails): every request has at most one
`promotion_applied` row, `applied` requests exactly one and at most N `approval_granted`; per
model the applied promotions chain (each one's previous holder is the version the one before
moved to) and MLflow's @champion and its `mlops_bot.request_id` tag match the last one; one
thread reply per decided card; no request left `applying`, or `pending` with enough approvals;
per schedule one claim per fire minute since it was created, exactly one top-level
chat.postMessage per claimed fire minute in its channel, one `report_posted` row per post (same
ts) and no `report_failed`; `bot.audit.verify(engine).ok`. Reported without failing the run
(WARN): cards still showing Approve after their request was decided, an `alias_baseline`
recorded twice, ERROR lines in the replicas' logs; and the counts of `request_stale`,
`promotion_failed`, `out_of_band_change`, refused promotion requests and non-200 answers (with
the exception or body of each). Logs and data stay in the printed scratch directory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the repository root on sys.path)
import httpx
import numpy as np
import pandas as pd

from handlers import action_ids as ids
from tests.helpers import (
    BotServer,
    reset_postgres,
    seed_mlflow,
    serve_process,
    wait_until,
)
from tests.slack_fake import Call, FakeSlack

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/mlops_bot_bench_replicas"
REQUESTER = "U0REQ"
READER = "U0READER"
APPROVERS = ["U0APPR1", "U0APPR2", "U0LEAD"]  # U0LEAD through the group S0LEADS
OUTSIDERS = ["U0OUT1", "U0OUT2"]
READ_CHANNEL = "C0MLOPS"
DRIFT_CHANNEL, PERF_CHANNEL = "C0REPORTS", "C0PERF"
READS = ["status", "models", "pending", "show churn"]
KIND_ORDER = [
    "/mlops status",
    "/mlops models",
    "/mlops pending",
    "/mlops show churn",
    "/mlops promote",
    "Approve: approver",
    "Approve: approver again",
    "Approve: requester",
    "Approve: outsider",
    "Approve: retry",
]
TERMINAL = ("applied", "stale", "rejected", "expired")


# ------------------------------------------------------------------------------------ setup


def ensure_database(url: str) -> None:
    """Create the database of `url` when missing (through the server's `postgres` database)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}
        ).first()
        if not found:
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def seed_bench_models(uri: str, root: Path, n: int) -> list[str]:
    """n models with v1 and v2 (gates pass both ways), @champion → v1."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("bench", artifact_location=str(root / "bench-artifacts"))
    names = []
    for i in range(n):
        name = f"bench-m{i:02d}"
        client.create_registered_model(name, description="bench/replicas.py model")
        for v, (auc, acc) in enumerate([(0.900, 0.85), (0.902, 0.86)], start=1):
            run = client.create_run(exp, run_name=f"{name}-v{v}")
            rid = run.info.run_id
            client.log_metric(rid, "roc_auc", auc)
            client.log_metric(rid, "accuracy", acc)
            client.set_terminated(rid)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", rid)
        client.set_registered_model_alias(name, "champion", "1")
        names.append(name)
    return names


def write_data(root: Path) -> dict[str, Path]:
    """Small CSVs: churn reference/current (shifted) and fraud-detector scored rows."""
    rng = np.random.default_rng(8)
    n = 800
    ref = pd.DataFrame(
        {
            "tenure": rng.normal(24, 6, n),
            "monthly": rng.gamma(2.0, 30.0, n),
            "support_calls": rng.poisson(3, n),
            "plan": rng.choice(["basic", "pro", "max"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["monthly"] = cur["monthly"] + 12.0
    label = rng.integers(0, 2, n)
    flip = rng.random(n) < 0.15
    perf = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-11-20", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 3 * 86400, n), unit="s"),
            "amount": rng.gamma(2.0, 50.0, n),
            "label": label,
            "prediction": np.where(flip, 1 - label, label),
        }
    )
    paths = {
        "churn_ref": root / "churn_reference.csv",
        "churn_cur": root / "churn_current.csv",
        "fraud_cur": root / "fraud_current.csv",
    }
    ref.to_csv(paths["churn_ref"], index=False)
    cur.to_csv(paths["churn_cur"], index=False)
    perf.to_csv(paths["fraud_cur"], index=False)
    return paths


def policy_text(models: list[str], data: dict[str, Path]) -> str:
    approvers = '["U0APPR1", "U0APPR2", "S0LEADS"]'
    out = [
        "[defaults]",
        f"approvers = {approvers}",
        "required_approvals = 2",
        'gates = ["roc_auc >= champion - 0.005", "accuracy >= 0.80"]',
        "",
        "[permissions]",
        "schedule_min_interval_minutes = 1",  # the Slack-made schedule fires every minute
        "",
        "[models.churn]",
        'owners = ["U0OWNER"]',
        "[models.churn.monitor]",
        f'reference = "{data["churn_ref"]}"',
        f'current = "{data["churn_cur"]}"',
        'schedule = "* * * * *"',
        f'channel = "{DRIFT_CHANNEL}"',
        "",
        "[models.fraud-detector]",
        'owners = ["U0OWNER"]',  # who makes the Slack schedule below
        "[models.fraud-detector.monitor]",
        f'current = "{data["fraud_cur"]}"',
        'alias = "production"',
        'target = "label"',
        'prediction = "prediction"',
        'timestamp = "ts"',
        "",
    ]
    for m in models:
        out += [f"[models.{m}]", f"approvers = {approvers}", "required_approvals = 2", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ load


@dataclass
class Flow:
    """One bench model's promotion cycle: idle → requested → voting → idle (flipped)."""

    model: str
    channel: str
    holder: str = "1"
    phase: str = "idle"
    target: str = ""
    n: int = 0
    reply_name: str = ""
    since: float = 0.0
    rid: str = ""
    clicks_left: int = 0
    last_click: float = 0.0
    retries: int = 0
    recheck_holder: bool = False
    card: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    kind: str
    replica: int
    reply_name: str
    text: str = ""
    user: str = READER
    channel: str = READ_CHANNEL
    payload: dict[str, Any] | None = None
    flow: Flow | None = None


@dataclass
class Sample:
    kind: str
    replica: int
    status: int | str
    ms: float
    sent: float  # time.monotonic() at send (the fake's Call.at uses the same clock)
    reply_name: str
    error: str = ""


@dataclass
class Load:
    clients: list[BotServer]
    fake: FakeSlack
    flows: list[Flow]
    engine: Any
    mlflow_uri: str
    read_share: float
    wait_replies: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    clicks: deque[Job] = field(default_factory=deque)
    samples: list[Sample] = field(default_factory=list)
    replies: dict[str, float] = field(default_factory=dict)  # response_url name → first POST
    refused_requests: list[str] = field(default_factory=list)
    lost_cards: int = 0
    seq: int = 0
    reads: int = 0
    window_over: threading.Event = field(default_factory=threading.Event)
    senders_done: threading.Event = field(default_factory=threading.Event)
    watch_done: threading.Event = field(default_factory=threading.Event)
    loadavg: list[float] = field(default_factory=list)
    no_reply: int = 0
    reply_cv: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.by_channel = {f.channel: f for f in self.flows}
        self.by_reply: dict[str, Flow] = {}

    # -- senders -------------------------------------------------------------------------

    def _name(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def next_job(self, sender: int, rng: random.Random) -> Job | None:
        with self.lock:
            window = not self.window_over.is_set()
            if window and rng.random() < self.read_share:
                return self._read(sender)
            if self.clicks:
                return self.clicks.popleft()
            if not window:
                return None
            idle = [f for f in self.flows if f.phase == "idle" and not f.recheck_holder]
            if not idle:
                return self._read(sender)
            f = rng.choice(idle)
            f.phase, f.n, f.since = "requested", f.n + 1, time.monotonic()
            f.target = "2" if f.holder == "1" else "1"
            f.reply_name = self._name(f"p-{f.model}")
            self.by_reply[f.reply_name] = f
            return Job(
                "/mlops promote",
                f.n % 2,
                f.reply_name,
                text=f"promote {f.model} {f.target} champion bench round {f.n}",
                user=REQUESTER,
                channel=f.channel,
                flow=f,
            )

    def _read(self, sender: int) -> Job:
        self.reads += 1
        text = READS[self.reads % len(READS)]
        return Job(f"/mlops {text}", sender % 2, self._name("r"), text=text)

    def send(self, job: Job) -> None:
        client = self.clients[job.replica]
        sent = time.monotonic()
        started = time.perf_counter()
        error = ""
        try:
            if job.payload is not None:
                resp = client.interact(job.payload)
            else:
                url = self.fake.response_url(job.reply_name)
                resp, _ = client.command(
                    job.text, user=job.user, channel=job.channel, response_url=url
                )
            status: int | str = resp.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
            error = f"{datetime.now(UTC):%H:%M:%S.%f} {exc!r}"
        ms = (time.perf_counter() - started) * 1000
        if status != 200 and not error:
            error = f"{datetime.now(UTC):%H:%M:%S.%f} HTTP {status}: {resp.text[:200]!r}"
        sample = Sample(job.kind, job.replica, status, ms, sent, job.reply_name, error)
        with self.lock:
            self.samples.append(sample)
            if job.payload is not None and job.flow is not None:
                job.flow.clicks_left -= 1
                job.flow.last_click = time.monotonic()
        if self.wait_replies and job.payload is None and status == 200:
            # a user waits for the answer before typing the next command
            with self.reply_cv:
                got = self.reply_cv.wait_for(lambda: job.reply_name in self.replies, timeout=60)
            if not got:
                with self.lock:
                    self.no_reply += 1

    def sender(self, i: int) -> None:
        rng = random.Random(1000 + i)
        while not self.senders_done.is_set():
            job = self.next_job(i, rng)
            if job is None:
                time.sleep(0.01)  # drain phase: poll for clicks of cards still to come
                continue
            self.send(job)

    # -- clicks ----------------------------------------------------------------------------

    def click(self, flow: Flow, card: dict[str, Any], user: str, kind: str, replica: int) -> Job:
        name = self._name(f"c-{flow.rid}")
        payload = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": "T0TEAM",
            },
            "api_app_id": "A0APP",
            "token": "x",
            "trigger_id": f"{self.seq}.1.bench",
            "container": {
                "type": "message",
                "message_ts": card["ts"],
                "channel_id": flow.channel,
                "is_ephemeral": False,
            },
            "team": {"id": "T0TEAM", "domain": "example"},
            "channel": {"id": flow.channel, "name": flow.model},
            "message": card,
            "state": {"values": {}},
            "response_url": self.fake.response_url(name),
            "actions": [
                {
                    "action_id": ids.APPROVE,
                    "block_id": f"{ids.REQUEST_ACTIONS}:{flow.rid}",
                    "value": flow.rid,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                    "text": {"type": "plain_text", "text": "Approve"},
                }
            ],
        }
        return Job(kind, replica, name, user=user, channel=flow.channel, payload=payload, flow=flow)

    def queue_clicks(self, flow: Flow, card: dict[str, Any]) -> None:
        """Eight clicks at once on both replicas (called with the lock held)."""
        rng = random.Random(flow.rid)
        first = [(REQUESTER, "Approve: requester")]
        first += [(u, "Approve: outsider") for u in OUTSIDERS]
        first += [(u, "Approve: approver") for u in APPROVERS]
        again = [(u, "Approve: approver again") for u in rng.sample(APPROVERS, 2)]
        first_replica: dict[str, int] = {}
        jobs = []
        for user, kind in first:
            first_replica[user] = rng.randrange(2)
            jobs.append(self.click(flow, card, user, kind, first_replica[user]))
        for user, kind in again:
            jobs.append(self.click(flow, card, user, kind, 1 - first_replica[user]))
        rng.shuffle(jobs)
        self.clicks.extend(jobs)
        flow.clicks_left += len(jobs)

    # -- watcher: cards and replies from the fake, request states from the database ---------

    def watch(self) -> None:
        seen, last_db, last_load = 0, 0.0, 0.0
        while not self.watch_done.is_set():
            calls = self.fake.calls
            new = calls[seen:]
            seen += len(new)
            for call in new:
                self.on_call(call)
            now = time.monotonic()
            if now - last_db > 0.25:
                self.poll_requests()
                last_db = now
            if now - last_load > 5 and not self.window_over.is_set():
                self.loadavg.append(os.getloadavg()[0])
                last_load = now
            time.sleep(0.01)

    def on_call(self, call: Call) -> None:
        if call.method == "response_url":
            name = call.path.rsplit("/", 1)[-1]
            with self.reply_cv:
                self.replies.setdefault(name, call.at)
                self.reply_cv.notify_all()
            flow = self.by_reply.get(name)
            text = str(call.params.get("text", ""))
            if flow is not None and flow.phase == "requested" and "posted" not in text:
                with self.lock:
                    self.refused_requests.append(f"{flow.model} v{flow.target}: {text[:160]}")
                    flow.phase, flow.recheck_holder = "idle", True
            return
        if call.method != "chat.postMessage" or not call.ok:
            return
        flow = self.by_channel.get(str(call.params.get("channel")))
        if flow is None or call.params.get("thread_ts"):
            return
        blocks = call.blocks or []
        values = [
            el.get("value")
            for b in blocks
            if b.get("type") == "actions"
            for el in b.get("elements", [])
            if el.get("action_id") == ids.APPROVE
        ]
        if not values or not isinstance(call.response, dict):
            return
        card = {
            "type": "message",
            "ts": call.response["ts"],
            "text": call.params.get("text", ""),
            "blocks": blocks,
            "user": "U0BOT",
            "bot_id": "B0BOT",
        }
        with self.lock:
            if flow.phase != "requested":
                return
            flow.phase, flow.rid, flow.since = "voting", str(values[0]), time.monotonic()
            flow.card = card
            self.queue_clicks(flow, card)

    def poll_requests(self) -> None:
        from sqlalchemy import bindparam, text

        with self.lock:
            voting = {f.rid: f for f in self.flows if f.phase == "voting"}
            recheck = [f for f in self.flows if f.recheck_holder]
            lost = [
                f for f in self.flows if f.phase == "requested" and time.monotonic() - f.since > 300
            ]
            for f in lost:
                self.lost_cards += 1
                f.phase, f.recheck_holder = "idle", True
        for f in recheck:
            holder = mlflow_holder(self.mlflow_uri, f.model)
            with self.lock:
                f.holder, f.recheck_holder = holder or "1", False
        if not voting:
            return
        query = text(
            "SELECT r.id, r.status, r.status_detail, "
            "(SELECT count(*) FROM approval_vote v WHERE v.request_id = r.id) "
            "FROM promotion_request r WHERE r.id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"ids": list(voting)}).all()
        now = time.monotonic()
        with self.lock:
            for rid, status, detail, votes in rows:
                f = voting[rid]
                if f.phase != "voting" or f.rid != rid:
                    continue
                if status == "applied":
                    f.holder, f.phase = f.target, "idle"
                elif status in TERMINAL:
                    f.phase, f.recheck_holder = "idle", True
                elif status == "pending" and f.clicks_left == 0 and f.retries < 5:
                    # MLflow failed ("press Approve to try again"): one approver presses
                    # again; too few votes long after the clicks: every approver does
                    failed = votes >= 2 and str(detail).startswith("MLflow failed")
                    if failed and now - f.last_click > 2:
                        users = APPROVERS[:1]
                    elif votes < 2 and now - f.last_click > 30:
                        users = APPROVERS
                    else:
                        continue
                    f.retries += 1
                    for i, user in enumerate(users):
                        self.clicks.append(self.click(f, f.card, user, "Approve: retry", i % 2))
                        f.clicks_left += 1

    def all_idle(self) -> bool:
        with self.lock:
            return all(f.phase == "idle" and not f.recheck_holder for f in self.flows)


def mlflow_holder(uri: str, model: str, alias: str = "champion") -> str | None:
    from mlflow.tracking import MlflowClient

    info = MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model(model)
    held = info.aliases.get(alias)
    return None if held is None else str(held)


# ------------------------------------------------------------------------------------ checks


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    exactly_once: bool = True


def db_rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def check_promotions(
    engine: Any, fake: FakeSlack, mlflow_uri: str, models: list[str]
) -> tuple[list[Check], dict[str, Any]]:
    from mlflow.tracking import MlflowClient

    reqs = db_rows(
        engine,
        "SELECT id, model_name, version, previous_version, status, required_approvals, "
        "channel, message_ts FROM promotion_request ORDER BY created_at",
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for rid, action, n in db_rows(
        engine,
        "SELECT request_id, action, count(*) FROM audit_event "
        "WHERE request_id IS NOT NULL GROUP BY request_id, action",
    ):
        counts[rid][action] = n
    applied_events = db_rows(
        engine,
        "SELECT id, request_id, model_name, model_version FROM audit_event "
        "WHERE action = 'promotion_applied' ORDER BY id",
    )
    by_id = {r.id: r for r in reqs}
    status_count = Counter(r.status for r in reqs)
    twice = [rid for rid, c in counts.items() if c["promotion_applied"] > 1]
    mismatch = [
        r.id for r in reqs if (r.status == "applied") != (counts[r.id]["promotion_applied"] == 1)
    ]
    over_voted = [r.id for r in reqs if counts[r.id]["approval_granted"] > r.required_approvals]
    stuck = [
        r.id
        for r in reqs
        if r.status == "applying"
        or (r.status == "pending" and counts[r.id]["approval_granted"] >= r.required_approvals)
    ]
    checks = [
        Check(
            "no request promoted twice",
            not twice,
            f"{len(applied_events)} promotion_applied rows for {len(reqs)} requests"
            + (f"; twice: {twice}" if twice else ""),
        ),
        Check(
            "applied requests ⇔ exactly one promotion_applied",
            not mismatch,
            f"{status_count['applied']} applied"
            + (f"; mismatched: {mismatch}" if mismatch else ""),
        ),
        Check(
            "approval_granted ≤ required approvals",
            not over_voted,
            f"granted per request: {dict(Counter(counts[r.id]['approval_granted'] for r in reqs))}"
            + (f"; over: {over_voted}" if over_voted else ""),
        ),
        Check(
            "no request left applying, or pending with enough approvals",
            not stuck,
            f"statuses {dict(status_count)}" + (f"; stuck: {stuck}" if stuck else ""),
        ),
    ]

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    chain_bad, alias_bad = [], []
    per_model: dict[str, list[Any]] = defaultdict(list)
    for ev in applied_events:
        per_model[ev.model_name].append(ev)
    for model in models:
        expected_prev = "1"
        for ev in per_model[model]:
            req = by_id[ev.request_id]
            if req.previous_version != expected_prev:
                chain_bad.append(f"{model} {req.id}: previous v{req.previous_version}")
            expected_prev = ev.model_version
        holder = mlflow_holder(mlflow_uri, model)
        last = per_model[model][-1] if per_model[model] else None
        want = last.model_version if last else "1"
        tag = (
            client.get_model_version(model, want).tags.get("mlops_bot.request_id") if last else None
        )
        if holder != want or (last is not None and tag != last.request_id):
            alias_bad.append(
                f"{model}: @champion v{holder}, expected v{want} (tag {tag}, "
                f"last applied {last.request_id if last else '-'})"
            )
    checks.append(
        Check(
            "applied promotions chain per model (previous holder = last applied version)",
            not chain_bad,
            f"{len(per_model)} models promoted"
            + (f"; broken: {chain_bad[:5]}" if chain_bad else ""),
        )
    )
    checks.append(
        Check(
            "MLflow @champion and its mlops_bot.request_id tag = the last applied request",
            not alias_bad,
            f"{len(models)} models" + (f"; wrong: {alias_bad[:5]}" if alias_bad else ""),
        )
    )

    replies: Counter[tuple[str, str]] = Counter()
    for c in fake.calls_to("chat.postMessage"):
        if c.ok and c.params.get("thread_ts"):
            replies[(str(c.params.get("channel")), str(c.params["thread_ts"]))] += 1
    decided = [r for r in reqs if r.status in TERMINAL and r.message_ts]
    wrong_replies = {
        r.id: replies[(r.channel, r.message_ts)]
        for r in decided
        if replies[(r.channel, r.message_ts)] != 1
    }
    checks.append(
        Check(
            "one thread reply per decided card",
            not wrong_replies,
            f"{len(decided)} decided cards"
            + (f"; replies: {wrong_replies}" if wrong_replies else ""),
        )
    )
    stale_cards = []
    for r in decided:
        msg = fake.message(r.channel, r.message_ts) or {}
        blocks = msg.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if any(
            el.get("action_id") == ids.APPROVE
            for b in blocks
            if b.get("type") == "actions"
            for el in b.get("elements", [])
        ):
            stale_cards.append(r.id)
    checks.append(
        Check(
            "decided cards no longer show Approve (final chat.update)",
            not stale_cards,
            f"{len(stale_cards)} of {len(decided)} still show Approve"
            + (f": {stale_cards[:5]}" if stale_cards else ""),
            exactly_once=False,
        )
    )
    actions = Counter()
    for c in counts.values():
        actions.update(c)
    oob = db_rows(engine, "SELECT count(*) FROM audit_event WHERE action = 'out_of_band_change'")
    baselines = db_rows(
        engine,
        "SELECT model_name, alias, count(*) FROM audit_event WHERE action = 'alias_baseline' "
        "GROUP BY model_name, alias HAVING count(*) > 1",
    )
    checks.append(
        Check(
            "one alias_baseline per protected alias (both replicas reconcile at start)",
            not baselines,
            f"recorded twice: {[tuple(b) for b in baselines[:5]]}" if baselines else "none twice",
            exactly_once=False,
        )
    )
    info = {
        "requests": len(reqs),
        "statuses": dict(status_count),
        "approval_granted": actions["approval_granted"],
        "approval_denied": actions["approval_denied"],
        "promotion_failed": actions["promotion_failed"],
        "request_stale": actions["request_stale"],
        "out_of_band_change": oob[0][0],
    }
    return checks, info


def check_logs(tmp: Path) -> Check:
    """ERROR lines in the replicas' logs (their stderr), first line of each kind."""
    found: Counter[str] = Counter()
    for log in sorted(tmp.glob("replica*/log")):
        for line in log.read_text(errors="replace").splitlines():
            if " ERROR " in line:
                found[f"{log.parent.name}: {line.split(' ERROR ', 1)[1][:120]}"] += 1
    shown = "; ".join(f"{n}× {k}" for k, n in found.most_common(5))
    return Check(
        "no ERROR lines in the replicas' logs",
        not found,
        shown or "none",
        exactly_once=False,
    )


def minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def check_schedules(
    engine: Any, fake: FakeSlack, stop_wall: datetime, mono_to_wall: float, who: dict[str, str]
) -> tuple[list[Check], list[str]]:
    scheds = db_rows(
        engine, "SELECT id, kind, model_name, channel, created_at FROM report_schedule"
    )
    fires: dict[str, dict[datetime, str]] = defaultdict(dict)
    for sid, fire_time, claimed_by in db_rows(
        engine, "SELECT schedule_id, fire_time, claimed_by FROM schedule_fire"
    ):
        fires[sid][fire_time.astimezone(UTC)] = who.get(claimed_by, claimed_by)
    audit_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, int] = Counter()
    for action, details in db_rows(
        engine,
        "SELECT action, details FROM audit_event "
        "WHERE action IN ('report_posted', 'report_failed') ORDER BY id",
    ):
        d = json.loads(details)
        if action == "report_posted":
            audit_rows[str(d.get("schedule_id"))].append(d)
        else:
            failed[str(d.get("schedule_id"))] += 1

    checks, table = (
        [],
        [
            "| schedule | fire minute (UTC) | claimed by | posts | post lag s | report_posted |",
            "|---|---|---|---|---|---|",
        ],
    )
    for s in scheds:
        created = s.created_at.astimezone(UTC)
        first = minute(created) + timedelta(minutes=1)
        expected = []
        m = first
        while m <= stop_wall - timedelta(seconds=25):
            expected.append(m)
            m += timedelta(minutes=1)
        claimed = fires.get(s.id, {})
        posts = [c for c in posts_to(fake, s.channel) if not c.params.get("thread_ts")]
        assigned: dict[datetime, list[Call]] = defaultdict(list)
        extra = []
        for c in sorted(posts, key=lambda c: c.at):
            at = datetime.fromtimestamp(c.at + mono_to_wall, UTC)
            # the earliest claimed fire at or before the post that has no post yet
            free = [f for f in sorted(claimed) if f <= at and not assigned[f]]
            if free:
                assigned[free[0]].append(c)
            else:
                extra.append(c)
        posted_ts = {str(c.response.get("ts")) for c in posts if isinstance(c.response, dict)}
        rows = audit_rows.get(s.id, [])
        audit_ts = Counter(str(d.get("ts")) for d in rows)
        for f in sorted(set(expected) | set(claimed)):
            got = assigned.get(f, [])
            lag = (
                f"{(datetime.fromtimestamp(got[0].at + mono_to_wall, UTC) - f).total_seconds():.1f}"
                if got
                else "-"
            )
            n_audit = sum(
                audit_ts[str(c.response.get("ts"))] for c in got if isinstance(c.response, dict)
            )
            table.append(
                f"| {s.id} ({s.kind} {s.model_name}) | {f:%H:%M} | {claimed.get(f, 'UNCLAIMED')} "
                f"| {len(got)} | {lag} | {n_audit} |"
            )
        missing = [f"{f:%H:%M}" for f in expected if f not in claimed]
        unposted = [f"{f:%H:%M}" for f in claimed if len(assigned.get(f, [])) != 1]
        not_audited = sorted(posted_ts - set(audit_ts))
        dup_audit = [ts for ts, n in audit_ts.items() if n > 1]
        orphan_audit = sorted(set(audit_ts) - posted_ts)
        problems = []
        if missing:
            problems.append(f"fire minutes never claimed: {missing}")
        if unposted:
            problems.append(f"claimed minutes without exactly one post: {unposted}")
        if extra:
            problems.append(f"{len(extra)} extra posts: {[c.summary() for c in extra[:3]]}")
        if not_audited or dup_audit or orphan_audit:
            problems.append(
                f"report_posted vs posts: unaudited {not_audited}, twice {dup_audit}, "
                f"without post {orphan_audit}"
            )
        if failed.get(s.id):
            problems.append(f"{failed[s.id]} report_failed rows")
        checks.append(
            Check(
                f"schedule {s.id} ({s.kind} {s.model_name} → {s.channel}): one post per fire",
                not problems,
                f"{len(expected)} fire minutes due, {len(claimed)} claimed, {len(posts)} posts, "
                f"{len(rows)} report_posted" + (f"; {'; '.join(problems)}" if problems else ""),
            )
        )
    return checks, table


# ------------------------------------------------------------------------------------ output


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(p * len(values)) - 1)]


def by_kind(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.kind].append(s)
    return groups


def ms_row(name: str, ms: list[float], last: object) -> str:
    """A table row: name, count, p50, p99 and max of the sorted `ms`, then `last`."""
    return (
        f"| {name} | {len(ms)} | {pct(ms, 0.5):.0f} | {pct(ms, 0.99):.0f} | {ms[-1]:.0f} | {last} |"
    )


def latency_table(samples: list[Sample]) -> list[str]:
    rows = [
        "| kind | n | p50 ms | p99 ms | max ms | non-200 |",
        "|---|---|---|---|---|---|",
    ]
    groups = by_kind(samples)
    order = [k for k in KIND_ORDER if k in groups] + sorted(set(groups) - set(KIND_ORDER))
    labelled = [(k, groups[k]) for k in order]
    labelled += [(f"all, replica {r + 1}", [s for s in samples if s.replica == r]) for r in (0, 1)]
    labelled.append(("**all**", samples))
    for name, group in labelled:
        if not group:
            continue
        bad = Counter(str(s.status) for s in group if s.status != 200)
        shown = ", ".join(f"{n}×{k}" for k, n in bad.items()) if bad else "0"
        rows.append(ms_row(name, sorted(s.ms for s in group), shown))
    return rows


def reply_table(samples: list[Sample], replies: dict[str, float]) -> list[str]:
    rows = [
        "| kind | replies | p50 ms | p99 ms | max ms | expected, missing |",
        "|---|---|---|---|---|---|",
    ]
    groups = by_kind(samples)
    for kind in [k for k in KIND_ORDER if k in groups]:
        group = groups[kind]
        ms = sorted(
            (replies[s.reply_name] - s.sent) * 1000 for s in group if s.reply_name in replies
        )
        if not ms:
            continue
        always = kind.startswith("/mlops") or kind in ("Approve: requester", "Approve: outsider")
        missing = sum(1 for s in group if s.reply_name not in replies) if always else "-"
        rows.append(ms_row(kind, ms, missing))
    return rows


# ------------------------------------------------------------------------------------ main


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(what: str, predicate: Callable[[], Any], timeout: float, notes: list[str]) -> bool:
    """Poll with a deadline; a timeout is noted (and shows in the output), not fatal."""
    try:
        wait_until(predicate, timeout=timeout, interval=0.2)
        return True
    except AssertionError:
        notes.append(f"timed out after {timeout:.0f} s waiting for {what}")
        print(f"WARNING: {notes[-1]}", file=sys.stderr)
        return False


def start_replicas(
    tmp: Path, fake: FakeSlack, mlflow_uri: str, db_url: str, policy: Path
) -> list[tuple[subprocess.Popen, str] | BaseException]:
    """Both replicas at once (migrations take an advisory lock); errors are returned."""
    started: dict[int, tuple[subprocess.Popen, str] | BaseException] = {}

    def start(i: int) -> None:
        try:
            started[i] = serve_process(tmp / f"replica{i + 1}", fake, mlflow_uri, db_url, policy)
        except BaseException as exc:  # serve_process kills a process that does not come up
            started[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [started[0], started[1]]


def fire_minutes(start: datetime, end: datetime) -> int:
    """Minute boundaries in (start, end]."""
    m, n = minute(start) + timedelta(minutes=1), 0
    while m <= end:
        m, n = m + timedelta(minutes=1), n + 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="75 s window, 6 models")
    ap.add_argument("--duration", type=float, help="load window in seconds (default 140)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--models", type=int, help="bench models to promote (default 10)")
    ap.add_argument("--read-share", type=float, default=0.4, help="share of read-only sends")
    ap.add_argument(
        "--flood",
        action="store_true",
        help="senders do not wait for a command's reply, only for its ack",
    )
    ap.add_argument("--start-second", type=int, default=50, help="the window starts at :SS")
    ap.add_argument(
        "--keepalive-expiry",
        type=float,
        default=5.0,
        help="seconds the load's HTTP clients keep idle connections (httpx default 5)",
    )
    ap.add_argument("--database-url", default=DEFAULT_DB, help="its tables are DROPPED first")
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    args = ap.parse_args()
    duration = args.duration or (75.0 if args.quick else 140.0)
    n_models = args.models or (6 if args.quick else 10)
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    notes: list[str] = []

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {msg}", file=sys.stderr)

    from sqlalchemy import create_engine

    from bot import audit

    ensure_database(args.database_url)
    reset_postgres(args.database_url)
    say(f"scratch dir {tmp}; tables of {args.database_url} dropped; seeding MLflow")
    (tmp / "mlflow").mkdir()
    mlflow_uri = seed_mlflow(tmp / "mlflow")
    models = seed_bench_models(mlflow_uri, tmp / "mlflow", n_models)
    data = write_data(tmp)
    policy = tmp / "policy.toml"
    policy.write_text(policy_text(models, data))
    engine = create_engine(args.database_url, pool_size=2)
    procs: list[subprocess.Popen] = []
    clients: list[BotServer] = []
    failed = True
    with FakeSlack() as fake:
        fake.usergroups["S0LEADS"] = ["U0LEAD"]
        try:
            started = start_replicas(tmp, fake, mlflow_uri, args.database_url, policy)
            procs = [item[0] for item in started if isinstance(item, tuple)]
            for i, item in enumerate(started):
                if not isinstance(item, tuple):
                    raise SystemExit(f"replica {i + 1} did not start: {item!r}; logs in {tmp}")
            urls = [item[1] for item in started if isinstance(item, tuple)]
            host = socket.gethostname()
            who = {f"{host}:{p.pid}": f"replica {i + 1}" for i, p in enumerate(procs)}
            limits = httpx.Limits(
                max_connections=args.concurrency + 8,
                max_keepalive_connections=args.concurrency + 8,
                keepalive_expiry=args.keepalive_expiry,
            )
            clients = [
                BotServer(
                    url=u,
                    fake=fake,
                    runtime=None,
                    app=None,
                    _stop=lambda: None,
                    http=httpx.Client(timeout=30, limits=limits),
                )
                for u in urls
            ]
            say(f"replicas up at {urls}; warming up, adding the Slack-made schedule")
            for i, c in enumerate(clients):
                for text in [*READS, "schedule list"]:
                    resp, url = c.command(text, user=READER, channel=READ_CHANNEL)
                    assert resp.status_code == 200, resp.text
                    c.reply_to(url, timeout=60)
                if i == 1:
                    resp, url = c.command(
                        f'schedule add perf fraud-detector "* * * * *" <#{PERF_CHANNEL}|perf>',
                        user="U0OWNER",
                        channel=READ_CHANNEL,
                    )
                    reply = c.reply_to(url, timeout=60)
                    assert "Scheduled" in reply.get("text", ""), reply

            flows = [Flow(m, f"C0BM{i:02d}") for i, m in enumerate(models)]
            load = Load(clients, fake, flows, engine, mlflow_uri, args.read_share, not args.flood)
            watcher = threading.Thread(target=load.watch, daemon=True)
            watcher.start()
            seconds = range(args.start_second, min(args.start_second + 8, 60))
            say(f"waiting for second :{args.start_second:02d} to start the window")
            wait_for("the window start", lambda: datetime.now(UTC).second in seconds, 70, notes)
            load_start = datetime.now(UTC)
            loadavg_start = os.getloadavg()
            say(f"load: {duration:.0f} s, concurrency {args.concurrency}, {n_models} models")
            senders = [
                threading.Thread(target=load.sender, args=(i,), daemon=True)
                for i in range(args.concurrency)
            ]
            t0 = time.monotonic()
            for t in senders:
                t.start()
            wait_for("the window", lambda: time.monotonic() - t0 >= duration, duration + 5, notes)
            load.window_over.set()
            loadavg_end = os.getloadavg()
            load_end = datetime.now(UTC)
            say("window over; finishing the clicks of posted cards")
            t1 = time.monotonic()
            wait_for("every request to be decided", load.all_idle, 240, notes)
            drain_s = time.monotonic() - t1
            load.senders_done.set()
            for t in senders:
                t.join()
            expected = [
                s.reply_name
                for s in load.samples
                if s.kind.startswith("/mlops")
                or s.kind in ("Approve: requester", "Approve: outsider")
            ]
            wait_for(
                "after-ack replies", lambda: all(n in load.replies for n in expected), 120, notes
            )
            settle_s = time.monotonic() - t1
            load.watch_done.set()
            watcher.join()

            def reports_settled() -> bool:
                if not 25 <= datetime.now(UTC).second <= 50:
                    return False
                claims = db_rows(engine, "SELECT count(*) FROM schedule_fire")[0][0]
                done = db_rows(
                    engine,
                    "SELECT count(*) FROM audit_event "
                    "WHERE action IN ('report_posted', 'report_failed')",
                )[0][0]
                return bool(claims == done)

            say("waiting until every claimed report fire is posted (stopping at :25-:50)")
            wait_for("scheduled reports to settle", reports_settled, 180, notes)
            stop_wall = datetime.now(UTC)
            stop(procs)
            say("replicas stopped; checking")

            mono_to_wall = time.time() - time.monotonic()
            promo_checks, info = check_promotions(engine, fake, mlflow_uri, models)
            sched_checks, sched_table = check_schedules(engine, fake, stop_wall, mono_to_wall, who)
            verify = audit.verify(engine)
            checks = [
                *promo_checks,
                *sched_checks,
                Check(
                    "audit chain verifies (bot.audit.verify)",
                    verify.ok,
                    f"{verify.count} rows"
                    + ("" if verify.ok else f"; first bad id {verify.bad_id}: {verify.reason}"),
                ),
                check_logs(tmp),
            ]
            errors = [
                f"{s.kind} → replica {s.replica + 1}: {s.error}" for s in load.samples if s.error
            ]
            failed = any(not c.ok and c.exactly_once for c in checks)
            over3 = sum(1 for s in load.samples if s.ms > 3000)
            la = load.loadavg or [loadavg_start[0]]
            retries = sum(f.retries for f in flows)
            mode = (
                "wait only for the ack (--flood)"
                if args.flood
                else "wait for each command's response_url reply before the next send"
            )
            out = [
                f"## Two replicas, mixed load ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
                "",
                f"Window {load_start:%H:%M:%S}–{load_end:%H:%M:%S} UTC ({duration:.0f} s, "
                f"{fire_minutes(load_start, load_end)} fire minutes inside), concurrency "
                f"{args.concurrency}, read share {args.read_share}, {n_models} bench models; "
                "2 replicas on one PostgreSQL database, MLflow sqlite store, fake Slack in the "
                f"load process. Senders {mode}. {len(load.samples)} requests, acks over 3 s: "
                f"{over3}, commands without a reply within 60 s: {load.no_reply}.",
                "",
                "Ack latency (request → HTTP answer):",
                "",
                *latency_table(load.samples),
                "",
                "After-ack replies (request → response_url POST; granted approvals get none):",
                "",
                *reply_table(load.samples, load.replies),
                "",
                f"After the window: {drain_s:.1f} s until every request was decided, "
                f"{settle_s:.1f} s until every reply had arrived.",
                f"Load average (1 min) sampled every 5 s in the window: min {min(la):.1f}, "
                f"mean {sum(la) / len(la):.1f}, max {max(la):.1f}; at the start "
                f"{', '.join(f'{v:.1f}' for v in loadavg_start)}, at the end "
                f"{', '.join(f'{v:.1f}' for v in loadavg_end)}; {os.cpu_count()} CPUs.",
                "",
                "Promotions: "
                + ", ".join(f"{k} {v}" for k, v in info.items())
                + f"; refused requests {len(load.refused_requests)}; cards never seen "
                f"{load.lost_cards}; retry rounds {retries}.",
                "",
                "Scheduled reports:",
                "",
                *sched_table,
                "",
                "| check | result | detail |",
                "|---|---|---|",
                *[
                    f"| {c.name} | {'ok' if c.ok else ('FAIL' if c.exactly_once else 'WARN')} "
                    f"| {c.detail} |"
                    for c in checks
                ],
                "",
                *[f"Note: {n}." for n in notes],
                *[f"Non-200: {e}" for e in errors[:10]],
                *[f"Refused promotion request: {r}" for r in load.refused_requests[:10]],
                f"Run time {time.monotonic() - began:.0f} s; logs in {tmp}.",
            ]
            text = "\n".join(out)
            print(text)
            if args.out:
                args.out.write_text(text + "\n")
        finally:
            stop(procs)
            for c in clients:
                c.http.close()
            engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
