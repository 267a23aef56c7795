"""Ack latency of `mlops-bot serve --http` vs a bare Bolt app on the same HTTP stack.

    .venv/bin/python bench/ack.py [--requests 200] [--concurrency 20] [--rows 200000]

Sends signed slash commands (`/mlops status`) and button clicks (Approve on a request that
does not exist: the full eligibility path, a denial and an audit row) at the given concurrency
to the real bot (subprocess, SQLite, seeded MLflow sqlite store, fake Slack Web API on
loopback), and the same number of slash commands to a bare Bolt app whose only listener acks.
Then it repeats the bot's runs while a 50 numeric + 10 categorical × `--rows` drift report
computes. Prints p50 / p99 / max per run and the ratio to the bare app measured in this run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import pandas as pd
from _common import ROOT  # puts the repository root on sys.path

from tests.helpers import (
    SIGNING_SECRET,
    free_port,
    seed_mlflow,
    serve_process,
    signed_headers,
    wait_http,
)
from tests.slack_fake import FakeSlack

BARE_APP = """
import sys, uvicorn
from slack_bolt import App
from slack_sdk import WebClient
from handlers.transport.http import create_asgi

app = App(client=WebClient(token="xoxb-test", base_url=sys.argv[2]), signing_secret=sys.argv[3])
@app.command("/mlops")
def ack_only(ack):
    ack()

class _Services:  # create_asgi needs .health and .rt.settings for /healthz and the webhook route
    rt = type("Rt", (), {"settings": type("S", (), {"mlflow_webhook_secret": None})()})()
    health = type("H", (), {"check": staticmethod(lambda: [])})()
uvicorn.run(
    create_asgi(app, _Services()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"
)
"""


def command_body(text: str, i: int, fake: FakeSlack) -> str:
    return urlencode(
        {
            "command": "/mlops",
            "text": text,
            "user_id": "U0BENCH",
            "user_name": "bench",
            "channel_id": "C0BENCH",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "response_url": fake.response_url(f"b{i}"),
            "trigger_id": f"{i}.1.x",
        }
    )


def click_body(i: int, fake: FakeSlack) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0BENCH", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "trigger_id": f"{i}.2.x",
        "team": {"id": "T0TEAM"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0BENCH"},
        "channel": {"id": "C0BENCH"},
        "response_url": fake.response_url(f"c{i}"),
        "actions": [
            {
                "action_id": "mlops_approve",
                "block_id": "b",
                "value": f"{i:012x}",
                "type": "button",
                "action_ts": "1.2",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def load(url: str, bodies: list[str], concurrency: int) -> list[float]:
    """Send each body once from a separate process; the latency of every response in ms.

    The sender runs in its own interpreter because the fake Slack API lives in this one: the
    bot's replies to response_url land here, and a sender sharing this GIL would count the
    fake's work as the bot's latency (the bare app sends no replies, so it would look faster).
    """
    job = json.dumps({"url": url, "concurrency": concurrency, "bodies": bodies})
    out = subprocess.run(
        [sys.executable, __file__, "--send"], input=job, capture_output=True, text=True, check=True
    )
    latencies: list[float] = json.loads(out.stdout)
    return latencies


def send_all() -> None:
    """`--send`: read {url, concurrency, bodies} on stdin, print the latencies as JSON."""
    job = json.load(sys.stdin)
    url, concurrency = job["url"], job["concurrency"]
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=concurrency))

    def send(body: str) -> float:
        headers = signed_headers(body)
        started = time.perf_counter()
        resp = client.post(f"{url}/slack/events", content=body.encode(), headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        return elapsed

    with ThreadPoolExecutor(concurrency) as pool:
        out = list(pool.map(send, job["bodies"]))
    client.close()
    print(json.dumps(out))


def row(name: str, ms: list[float], bare_p99: float | None) -> str:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p99 = ms[max(0, int(len(ms) * 0.99) - 1)]
    ratio = f"{p99 / bare_p99:.2f}×" if bare_p99 else "1.00×"
    over = sum(1 for m in ms if m > 3000)
    return f"| {name} | {len(ms)} | {p50:.1f} | {p99:.1f} | {ms[-1]:.1f} | {ratio} | {over} |"


def make_drift_data(root: Path, rows: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    cols: dict[str, np.ndarray] = {f"n{i}": rng.normal(size=rows) for i in range(50)}
    cols |= {f"c{i}": rng.choice(list("abcdefgh"), rows) for i in range(10)}
    ref = pd.DataFrame(cols)
    cur = ref.copy()
    for i in range(0, 50, 5):
        cur[f"n{i}"] = cur[f"n{i}"] + 0.3
    ref.to_parquet(root / "ref.parquet")
    cur.to_parquet(root / "cur.parquet")
    return root / "ref.parquet", root / "cur.parquet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    n, c = args.requests, args.concurrency
    tmp = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    procs: list[subprocess.Popen] = []
    with FakeSlack() as fake:
        try:
            print("seeding MLflow and writing drift data…", file=sys.stderr)
            (tmp / "mlflow").mkdir()
            mlflow_uri = seed_mlflow(tmp / "mlflow")
            ref, cur = make_drift_data(tmp, args.rows)
            (tmp / "policy.toml").write_text(
                '[defaults]\napprovers = ["U0APPROVER1"]\n[models.churn.monitor]\n'
                f'reference = "{ref}"\ncurrent = "{cur}"\n'
            )
            bare_port = free_port()
            # the bot logs to tmp/log
            bot, bot_url = serve_process(
                tmp, fake, mlflow_uri, f"sqlite:///{tmp / 'bot.db'}", tmp / "policy.toml"
            )
            procs.append(bot)
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(bare_port), fake.api_url, SIGNING_SECRET],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(bare)
            bare_url = f"http://127.0.0.1:{bare_port}"
            wait_http(f"{bare_url}/healthz", bare)
            warm = [command_body("status", i, fake) for i in range(20)]
            load(bot_url, warm, c)
            load(bare_url, warm, c)

            results: list[tuple[str, list[float]]] = []
            bare_ms = load(bare_url, [command_body("status", i, fake) for i in range(n)], c)
            results.append(("bare Bolt app: slash command (ack only)", bare_ms))
            results.append(
                (
                    "mlops-bot: /mlops status",
                    load(bot_url, [command_body("status", 1000 + i, fake) for i in range(n)], c),
                )
            )
            results.append(
                (
                    "mlops-bot: Approve click",
                    load(bot_url, [click_body(2000 + i, fake) for i in range(n)], c),
                )
            )

            before = len(fake.calls_to("chat.postMessage"))
            load(bot_url, [command_body("drift churn", 9999, fake)], 1)
            time.sleep(2)  # let the worker start loading the frames
            busy_status = load(
                bot_url, [command_body("status", 3000 + i, fake) for i in range(n)], c
            )
            busy_click = load(bot_url, [click_body(4000 + i, fake) for i in range(n)], c)
            posted = len(fake.calls_to("chat.postMessage")) > before
            results.append(("mlops-bot: /mlops status during a drift report", busy_status))
            results.append(("mlops-bot: Approve click during a drift report", busy_click))
            started = time.perf_counter()
            fake.wait_for(
                "chat.postMessage",
                lambda call: call.params.get("channel") == "C0BENCH",
                timeout=600,
            )
            report_s = time.perf_counter() - started

            bare_p99 = sorted(bare_ms)[max(0, int(len(bare_ms) * 0.99) - 1)]
            print(
                f"\nconcurrency {c}, {n} requests per run, drift data 60 cols × {args.rows:,} rows"
            )
            print("| run | requests | p50 ms | p99 ms | max ms | p99 vs bare | over 3 s |")
            print("|---|---|---|---|---|---|---|")
            for name, ms in results:
                print(row(name, ms, None if name.startswith("bare") else bare_p99))
            print(
                f"\ndrift report still computing during the busy runs: {not posted}; "
                f"posted {report_s:.1f} s after them"
            )
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


if __name__ == "__main__":
    if sys.argv[1:] == ["--send"]:
        send_all()
    else:
        main()
