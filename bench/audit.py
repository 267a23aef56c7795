"""Benchmark of the hash-chained audit log (bot/audit.py) on SQLite and PostgreSQL.

Per backend, on a fresh database migrated with bot.db.upgrade, it measures at N events:

* append throughput through the real path: one event per transaction (`audit.record`, what
  the bot does) and many events per transaction (`audit.append` in a loop inside one
  `db.session(engine, write=True)`, which is how the N-event log is built in reasonable time);
* `audit.verify(engine)`: wall time, CPU time and peak RSS, each run in a fresh process,
  against a read-only baseline that runs the same keyset-paginated query without hashing;
* the `/mlops audit` queries `audit.recent(engine, model="m7", limit=20)` and
  `audit.recent(engine, limit=20)`, median of 50 runs;
* against a second baseline, `reference`: every row checked by the definition (typed
  columns, `details` parsed, canonical JSON re-encoded, hashed), which is how verify worked
  before it hashed the stored text; the script checks that it returns the same VerifyResult
  as `audit.verify` on the intact chain and on a set of tampered rows.

Run from the repository root:

    .venv/bin/python bench/audit.py                  # N = 1,000,000 (filling takes a while)
    .venv/bin/python bench/audit.py --quick          # N = 20,000
    .venv/bin/python bench/audit.py --events 200000 --no-pg
    .venv/bin/python bench/audit.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test

PostgreSQL runs when --pg is given or the default URL below answers. The script DROPs and
re-creates the schema it uses (`public`, or --pg-schema NAME, which also sets search_path), so
point it at a scratch database. The markdown table goes to stdout (and --out FILE); progress
goes to stderr. --keep keeps the databases; --reuse measures an existing, filled database
(--sqlite-file PATH / the PG schema) without resetting or filling it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import os
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, create_engine, func, literal_column, text, type_coerce
from sqlalchemy import select as sa_select
from sqlalchemy.engine import make_url

from bot import audit, clock
from bot.storage import db
from bot.storage.tables import AuditEvent

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
Q_MODEL, Q_ALL = "recent(model='m7', limit=20)", "recent(limit=20)"
TABLE = AuditEvent.__table__  # type: ignore[attr-defined]
BATCH = 20000  # rows per keyset page, as audit.verify

Event = tuple[str, str, dict[str, Any]]  # action, actor, keyword fields of audit.append


# -- the event mix ----------------------------------------------------------------------------

ACTION_WEIGHTS = {
    "promotion_requested": 20,
    "approval_granted": 35,
    "approval_denied": 5,
    "report_posted": 40,
}
MODELS = [f"m{i}" for i in range(50)]
ALIASES = ["champion", "challenger", "staging"]
PHRASES = [
    "AUC +1.8 pts on the holdout, p95 latency unchanged",
    "retrained on October data; drift on `country` and `device`",
    "Réentraîné après dérive → PSI 0.31 sur `âge`",
    'fixes "null" handling in the feature store join',
    "rollback: p95 latency regression\nsee incident #4411",
    "Q4 refresh 🚀 approved in the weekly review",
    "export path C:\\models\\churn from the windows runner",
    "weekly retrain, all gates green, no override",
    "tab\tseparated note from the notebook",
    "line separator\u2028inside a pasted comment",
]


class EventMix:
    """Deterministic, realistic events: four actions, 50 models, details of ~100–200 bytes."""

    def __init__(self, seed: int = 20240601) -> None:
        self.rng = random.Random(seed)
        self.users = [f"U0{self.rng.getrandbits(40):010X}" for _ in range(30)]
        self.open: list[dict[str, Any]] = []  # recent promotion requests, for the votes
        self.actions = list(ACTION_WEIGHTS)
        self.weights = list(ACTION_WEIGHTS.values())

    def _hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def _channel(self) -> str:
        return f"C0{self.rng.getrandbits(32):08X}"

    def _reason(self) -> str:
        return self.rng.choice(PHRASES)

    def next(self) -> Event:
        rng = self.rng
        details: dict[str, Any]
        action = rng.choices(self.actions, self.weights)[0]
        actor = rng.choice(self.users)
        if action == "promotion_requested" or (action != "report_posted" and not self.open):
            version = rng.randint(1, 400)
            req = {
                "model_name": rng.choice(MODELS),
                "model_version": str(version),
                "alias": rng.choice(ALIASES),
                "run_id": self._hex(32),
                "request_id": self._hex(12),
            }
            self.open = (self.open + [req])[-20:]
            details = {
                "reason": self._reason(),
                "previous_version": str(version - 1) if version > 1 else None,
                "required_approvals": rng.choice([1, 2, 2, 3]),
                "gates_passed": rng.random() < 0.9,
                "channel": self._channel(),
            }
            return "promotion_requested", actor, {**req, "details": details}
        if action == "report_posted":
            fleet = rng.random() < 0.05  # the fleet digest is not about one model
            details = {
                "kind": rng.choice(["drift", "performance"]),
                "psi_max": round(rng.random() * 0.5, 4),
                "drifted": rng.sample(["country", "device", "age", "tenure", "plan", "spend"], 2),
                "rows": rng.randint(1000, 500000),
                "channel": self._channel(),
                "ts": f"{1700000000 + rng.randint(0, 10**7)}.{rng.randint(0, 999999):06d}",
            }
            model = None if fleet else rng.choice(MODELS)
            return "report_posted", actor, {"model_name": model, "details": details}
        req = rng.choice(self.open)
        if action == "approval_granted":
            details = {
                "votes": rng.randint(1, 3),
                "required": 2,
                "override": rng.random() < 0.02,
                "channel": self._channel(),
                "comment": self._reason()[:40],
            }
        else:
            details = {"reason": self._reason(), "channel": self._channel()}
        return action, actor, {**req, "details": details}


# -- backends ---------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str  # the URL the engine was made from (with search_path for a non-public schema)
    engine: Engine
    cleanup: Callable[[], None]
    where: str


def pg_url_for(url: str, schema: str) -> str:
    """The URL with search_path set to `schema` (unchanged for public)."""
    if schema == "public":
        return url
    u = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False)


def pg_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def open_sqlite(path: str | None, reuse: bool, keep: bool) -> Backend:
    if path:
        file = Path(path).resolve()
        file.parent.mkdir(parents=True, exist_ok=True)
        if not reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{file}{suffix}").unlink(missing_ok=True)
        tmpdir = None
    else:
        tmpdir = tempfile.mkdtemp(prefix="bench-audit-")
        file = Path(tmpdir) / "audit.db"
    url = f"sqlite:///{file}"
    engine = db.make_engine(url)
    if not reuse:
        db.upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        if tmpdir and not keep:
            shutil.rmtree(tmpdir, ignore_errors=True)

    return Backend("SQLite", url, engine, cleanup, str(file))


def open_pg(url: str, schema: str, reuse: bool, keep: bool) -> Backend:
    if not reuse:
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    full = pg_url_for(url, schema)
    engine = db.make_engine(full)
    if not reuse:
        db.upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        if not keep:
            admin = create_engine(url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                if schema == "public":
                    conn.execute(text("CREATE SCHEMA public"))
            admin.dispose()

    return Backend("PostgreSQL", full, engine, cleanup, f"{url} schema {schema}")


def count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa_select(func.count()).select_from(TABLE)).scalar_one())


# -- appends ----------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def append_batched(
    engine: Engine, mix: EventMix, n: int, batch: int, label: str = ""
) -> tuple[float, float]:
    """Append n events, `batch` per transaction, through audit.append.

    Returns events/s and this process's CPU µs per event. Events are generated before each
    transaction starts, so only the appends are timed.
    """
    done, busy, cpu, last_report = 0, 0.0, 0.0, time.monotonic()
    while done < n:
        events = [mix.next() for _ in range(min(batch, n - done))]
        c0, t0 = time.process_time(), time.perf_counter()
        with db.session(engine, write=True) as s:
            for action, actor, fields in events:
                audit.append(s, action, actor, **fields)
            s.commit()
        busy += time.perf_counter() - t0
        cpu += time.process_time() - c0
        done += len(events)
        if label and (time.monotonic() - last_report > 15 or done == n):
            last_report = time.monotonic()
            rate = done / busy
            eta = timedelta(seconds=int((n - done) / rate))
            log(f"  {label}: {done:,}/{n:,} appended, {rate:,.0f}/s, eta {eta}")
    return (n / busy, cpu / n * 1e6) if n else (0.0, 0.0)


def bulk_insert(engine: Engine, mix: EventMix, n: int, label: str = "") -> float:
    """Extend the chain by n events built by audit.chained_event (the hashing of append),
    inserted 50,000 per executemany: the filler for N = 1,000,000. Returns events/s.

    Not the bot's append path (that is timed separately); verify() checks every row it wrote.
    """
    with engine.connect() as conn:
        head = conn.execute(
            sa_select(TABLE.c.id, TABLE.c.hash).order_by(TABLE.c.id.desc()).limit(1)
        ).first()
    prev_id, prev_hash = (int(head[0]), head[1]) if head else (0, audit.GENESIS)
    at = clock.utcnow() - timedelta(days=365)
    step = timedelta(seconds=30)
    done, t0, last_report = 0, time.perf_counter(), time.monotonic()
    while done < n:
        rows = []
        for _ in range(min(50_000, n - done)):
            action, actor, fields = mix.next()
            at += step
            ev = audit.chained_event(prev_id, prev_hash, action, actor, at, **fields)
            rows.append({f: getattr(ev, f) for f in audit.FIELDS})
            prev_id, prev_hash = ev.id or 0, ev.hash
        with engine.begin() as conn:
            conn.execute(TABLE.insert(), rows)
        done += len(rows)
        if label and (time.monotonic() - last_report > 15 or done == n):
            last_report = time.monotonic()
            log(
                f"  {label}: {done:,}/{n:,} bulk-inserted, "
                f"{done / (time.perf_counter() - t0):,.0f}/s"
            )
    return n / (time.perf_counter() - t0) if n else 0.0


def append_single(engine: Engine, mix: EventMix, n: int) -> tuple[float, float]:
    """Append n events with audit.record, one transaction each: events/s, CPU µs per event."""
    if not n:
        return 0.0, 0.0
    events = [mix.next() for _ in range(n)]
    c0, t0 = time.process_time(), time.perf_counter()
    for action, actor, fields in events:
        audit.record(engine, action, actor, **fields)
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / n * 1e6


# -- verify: the baselines -------------------------------------------------------------------


def _pages(engine: Engine, cols: Sequence[Any], batch: int = BATCH) -> Iterator[Sequence[Any]]:
    """The keyset pagination of audit.verify, one list of rows per page."""
    last_id = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(
                sa_select(*cols).where(TABLE.c.id > last_id).order_by(TABLE.c.id).limit(batch)
            ).all()
            if not rows:
                return
            yield rows
            last_id = rows[-1][0]


def read_only(engine: Engine) -> audit.VerifyResult:
    """Baseline: the query and loop of audit.verify (id and link checks), without hashing."""
    prev_hash, expected_id, n = audit.GENESIS, 1, 0
    for rows in _pages(engine, [TABLE.c[f] for f in audit.FIELDS]):
        for row in rows:
            ev_id, _at, _ac, _act, _m, _v, _al, _run, _req, _details, ph, h = row
            if ev_id != expected_id or ph != prev_hash:
                return audit.VerifyResult(False, n, ev_id, "broken link")
            prev_hash, expected_id, n = h, expected_id + 1, n + 1
    return audit.VerifyResult(True, n)


def _slow_row(row: Sequence[Any], prev_hash: str, expected_id: int, n: int) -> audit.VerifyResult:
    """One row checked by the definition (details parsed, canonical JSON re-encoded, hashed);
    VerifyResult(True, ...) when the row is ok."""
    ev_id, ph = row[0], row[-2]
    if ev_id != expected_id:
        return audit.VerifyResult(
            False, n, ev_id, f"row {expected_id} is missing before row {ev_id}"
        )
    if ph != prev_hash:
        return audit.VerifyResult(False, n, ev_id, "prev_hash does not match the row before")
    if not audit._same_after_parsing(row):
        return audit.VerifyResult(False, n, ev_id, "hash does not match the row's content")
    return audit.VerifyResult(True, n)


def verify_reference(engine: Engine) -> audit.VerifyResult:
    """The baseline the speed-up is measured against: every row checked by the definition
    (typed columns, `details` parsed, the canonical JSON re-encoded and hashed), which is how
    audit.verify worked before it hashed the stored text."""
    prev_hash, expected_id, n = audit.GENESIS, 1, 0
    for rows in _pages(engine, [TABLE.c[f] for f in audit.FIELDS]):
        for row in rows:
            res = _slow_row(row, prev_hash, expected_id, n)
            if not res.ok:
                return res
            prev_hash, expected_id, n = row[11], expected_id + 1, n + 1
    return audit.VerifyResult(True, n)


VERIFIERS: dict[str, Callable[[Engine], audit.VerifyResult]] = {
    "read": read_only,
    "reference": verify_reference,
    "verify": audit.verify,
}
COMPARED = ("reference",)  # the variants whose verdict must equal audit.verify's


@dataclass
class Run:
    kind: str
    wall: float
    cpu: float
    rss_mb: float  # peak RSS of the process (ru_maxrss)
    base_rss_mb: float  # RSS after imports and connecting, before the run
    result: dict[str, Any]


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _isolated(kind: str, url: str) -> Run:
    """Runs in a fresh process, so ru_maxrss is this measurement's peak only."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, t0 = _cpu(), time.perf_counter()
    res = VERIFIERS[kind](engine)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    rss = max(
        resource.getrusage(who).ru_maxrss / 1024
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    engine.dispose()
    return Run(kind, wall, cpu, rss, base, asdict(res))


def run_isolated(kind: str, url: str) -> Run:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_isolated, kind, url).result()


# -- tampering: the reference must agree with audit.verify -----------------------------------


def tamper_cases(dialect: str) -> dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]]:
    """Name → a change to one row's column values (None: delete the row)."""

    def details(d: str) -> str:
        return json.dumps(json.loads(d), indent=1)

    cases: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
        "details value changed": lambda r: {
            "details": audit.canonical({**json.loads(r["details"]), "channel": "C0TAMPERED"})
        },
        "details re-spaced, same JSON": lambda r: {"details": details(r["details"])},
        "details keys reordered": lambda r: {
            "details": json.dumps(dict(reversed(json.loads(r["details"]).items())))
        },
        "details not JSON": lambda r: {"details": r["details"][:-1]},
        "at + 1 µs": lambda r: {"at": r["at"] + timedelta(microseconds=1)},
        "actor changed": lambda r: {"actor": r["actor"] + "X"},
        "actor with escapes": lambda r: {"actor": 'U"\\\n\u2028é'},
        "model_name set NULL": lambda r: {"model_name": None},
        "alias set": lambda r: {"alias": "shadow"},
        "prev_hash changed": lambda r: {"prev_hash": "f" * 64},
        "hash changed": lambda r: {"hash": "e" * 64},
        "row deleted": lambda r: None,
    }
    if dialect == "sqlite":  # the same instant, stored as other text
        cases["at stored as ISO text"] = lambda r: {"at": literal_column("replace(at, ' ', 'T')")}
        cases["at stored without µs"] = lambda r: {"at": literal_column("substr(at, 1, 19)")}
    return cases


def tamper_check(engine: Engine, targets: Sequence[int]) -> list[tuple[str, int, str, bool]]:
    """Change each target row in each way, compare the reference with audit.verify, restore.

    (change, row, audit.verify's answer, whether the reference returned the same result)
    """
    cols = [TABLE.c[f] for f in audit.FIELDS]
    out = []
    for target in targets:
        with engine.connect() as conn:
            row = conn.execute(sa_select(*cols).where(TABLE.c.id == target)).one()
        original = dict(row._mapping)
        for name, change in tamper_cases(engine.dialect.name).items():
            values = change(dict(original))
            with engine.begin() as conn:
                if values is None:
                    conn.execute(TABLE.delete().where(TABLE.c.id == target))
                else:
                    conn.execute(TABLE.update().where(TABLE.c.id == target).values(**values))
            try:
                want = audit.verify(engine)
                # the same verdict and row (the reference words a non-JSON `details` its own way)
                same = all(
                    (r.ok, r.bad_id) == (want.ok, want.bad_id)
                    for r in (VERIFIERS[k](engine) for k in COMPARED)
                )
                desc = "ok" if want.ok else f"fails at {want.bad_id}: {want.reason}"
                out.append((name, target, desc, same))
            finally:
                with engine.begin() as conn:
                    conn.execute(TABLE.delete().where(TABLE.c.id == target))
                    conn.execute(TABLE.insert().values(**original))
    assert audit.verify(engine).ok, "restoring a tampered row failed"
    return out


# -- where verify's time goes -----------------------------------------------------------------


def _read_dbapi(engine: Engine, sample: int) -> float:
    """Seconds to read the first `sample` rows with the driver's cursor, keyset-paginated."""
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = (
        f"SELECT {', '.join(audit.FIELDS)} FROM audit_event"
        f" WHERE id > {mark} ORDER BY id LIMIT {mark}"
    )
    t0, k, last_id = time.perf_counter(), 0, 0
    with engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        while k < sample:
            cur.execute(sql, (last_id, BATCH))
            rows = cur.fetchall()
            if not rows:
                break
            k, last_id = k + len(rows), rows[-1][0]
        cur.close()
    return time.perf_counter() - t0


def breakdown(engine: Engine, sample: int) -> dict[str, float]:
    """µs per row of each step of the reference verify, over the first `sample` rows held in
    memory; the garbage collector is off so the big lists do not tax the steps."""
    cols = [TABLE.c[f] for f in audit.FIELDS]
    raw_cols = list(cols)
    raw_cols[1] = type_coerce(TABLE.c.at, String).label("at")

    def read(columns: list[Any]) -> tuple[list[Sequence[Any]], float]:
        rows: list[Sequence[Any]] = []
        t0 = time.perf_counter()
        for page in _pages(engine, columns):
            rows.extend(page)
            if len(rows) >= sample:
                break
        return rows[:sample], time.perf_counter() - t0

    gc.collect()
    gc.disable()
    try:
        rows, t_read = read(cols)
        _, t_raw = read(raw_cols)
        t_dbapi = _read_dbapi(engine, sample)
        n = len(rows)
        keys = audit.FIELDS[:10]
        fields = [
            {**dict(zip(keys, r[:10], strict=True)), "at": audit.fmt_at(r[1])}
            | {"details": json.loads(r[9])}
            for r in rows
        ]
        texts = [r[10] + audit.canonical(f) for r, f in zip(rows, fields, strict=True)]

        def per_row(fn: Callable[[], object]) -> float:
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) / n * 1e6

        return {
            "read the rows (SQLAlchemy Core, `at` as datetime)": t_read / n * 1e6,
            "json.loads(details)": per_row(lambda: [json.loads(r[9]) for r in rows]),
            "fmt_at(at) (as_utc + strftime)": per_row(lambda: [audit.fmt_at(r[1]) for r in rows]),
            "build the fields dict": per_row(
                lambda: [dict(zip(keys, r[:10], strict=True)) for r in rows]
            ),
            "canonical(fields) (json.dumps, sort_keys)": per_row(
                lambda: [audit.canonical(f) for f in fields]
            ),
            "sha256(prev_hash + text).hexdigest()": per_row(
                lambda: [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
            ),
            "read the rows, `at` as stored text (no datetime parsing)": t_raw / n * 1e6,
            "(read the same through the DBAPI cursor, no SQLAlchemy rows)": t_dbapi / n * 1e6,
        }
    finally:
        gc.enable()


def profile_verify(engine: Engine, top: int = 15) -> str:
    prof = cProfile.Profile()
    prof.enable()
    audit.verify(engine)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- /mlops audit -----------------------------------------------------------------------------


def time_recent(engine: Engine, runs: int) -> dict[str, float]:
    """Median ms of `runs` calls of each query (after 3 warm-up calls)."""
    queries: dict[str, Callable[[], list[AuditEvent]]] = {
        Q_MODEL: lambda: audit.recent(engine, model="m7", limit=20),
        Q_ALL: lambda: audit.recent(engine, limit=20),
        # rollback_target's query; no promotion_applied in the mix, so it scans all of m7
        "recent(model, alias, actions={'promotion_applied'}, limit=200)": lambda: audit.recent(
            engine, model="m7", alias="champion", actions={"promotion_applied"}, limit=200
        ),
    }
    out = {}
    for name, q in queries.items():
        for _ in range(3):
            q()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            q()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = statistics.median(times)
    return out


# -- one backend ------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    where: str
    n: int
    fill: dict[str, Any] = field(default_factory=dict)  # append rates, tamper checks
    runs: dict[str, Run] = field(default_factory=dict)  # best of --repeat, by wall time
    recent_ms: dict[str, float] = field(default_factory=dict)
    breakdown: dict[str, float] = field(default_factory=dict)
    details_bytes: float = 0.0
    profile: str = ""


def fill(engine: Engine, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Build the N-event log: a head, tamper checks on it, the bulk batched, then single-tx."""
    mix = EventMix()
    t0 = time.monotonic()
    head = min(3000, args.events)
    log(f"{name}: {head:,} events, then tampering checks")
    append_batched(engine, mix, head, args.batch)
    # two neighbouring rows in the middle of the head
    tamper = tamper_check(engine, targets=[head // 2, head // 2 + 1])
    single = min(args.single, args.events - head)
    batched = min(args.batched, args.events - head - single)
    bulk = args.events - head - single - batched
    log(f"{name}: {bulk:,} events bulk-inserted (precomputed chain)")
    bulk_rate = bulk_insert(engine, mix, bulk, name)
    log(f"{name}: {batched:,} events, {args.batch:,} per transaction (audit.append)")
    batched_rate, batched_cpu = append_batched(engine, mix, batched, args.batch, name)
    log(f"{name}: {single:,} events, one transaction each (audit.record)")
    single_rate, single_cpu = append_single(engine, mix, single)
    return {
        "batch": args.batch,
        "batched_n": batched,
        "bulk_n": bulk,
        "bulk_rate": bulk_rate,
        "batched_rate": batched_rate,
        "batched_cpu_us": batched_cpu,
        "single_n": single,
        "single_rate": single_rate,
        "single_cpu_us": single_cpu,
        "fill_minutes": (time.monotonic() - t0) / 60,
        "load_avg": os.getloadavg(),
        "tamper": tamper,
    }


def bench_backend(b: Backend, args: argparse.Namespace) -> Result:
    engine = b.engine
    res = Result(b.name, b.where, 0)
    saved = json.loads(Path(args.fill_log).read_text()) if args.fill_log and args.reuse else {}
    if args.reuse:
        res.fill = saved.get(b.name, {})
    else:
        res.fill = fill(engine, b.name, args)
        if args.fill_log:
            log_file = Path(args.fill_log)
            state = json.loads(log_file.read_text()) if log_file.exists() else {}
            log_file.write_text(json.dumps({**state, b.name: res.fill}, indent=1) + "\n")
    res.n = count_events(engine)
    with engine.connect() as conn:
        res.details_bytes = float(
            conn.execute(sa_select(func.avg(func.length(TABLE.c.details)))).scalar_one() or 0
        )
    log(f"{b.name}: recent() x{args.runs}")
    res.recent_ms = time_recent(engine, args.runs)
    run_isolated("read", b.url)  # warm the caches so no variant pays for the first read
    for _ in range(args.repeat):
        for kind in VERIFIERS:
            log(f"{b.name}: {kind} over {res.n:,} rows (fresh process)")
            run = run_isolated(kind, b.url)
            if kind not in res.runs or run.wall < res.runs[kind].wall:
                res.runs[kind] = run
    want = res.runs["verify"].result
    for kind in COMPARED:
        got = res.runs[kind].result
        assert (got["ok"], got["count"]) == (want["ok"], want["count"]), f"{kind}: {got}"
    log(f"{b.name}: breakdown over {min(res.n, args.sample):,} rows")
    res.breakdown = breakdown(engine, args.sample)
    if args.profile:
        log(f"{b.name}: cProfile of audit.verify")
        res.profile = profile_verify(engine)
    return res


# -- report -----------------------------------------------------------------------------------


def fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "| backend | N | append/s single-tx | append/s batched | verify s | verify rows/s "
        "| verify peak RSS MB | read-only s | verify ÷ read | recent(model='m7') ms "
        "| recent() ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        v, rd = r.runs["verify"], r.runs["read"]
        lines.append(
            f"| {r.backend} | {r.n:,} | {fmt_rate(r.fill.get('single_rate'))} "
            f"| {fmt_rate(r.fill.get('batched_rate'))} "
            f"| {v.wall:.1f} | {r.n / v.wall:,.0f} | {v.rss_mb:.0f} | {rd.wall:.1f} "
            f"| {v.wall / rd.wall:.1f}× | {r.recent_ms[Q_MODEL]:.2f} | {r.recent_ms[Q_ALL]:.2f} |"
        )
    lines += [
        "",
        "single-tx: the last events of the log, each `audit.record` (own transaction, commit, "
        "refresh), as the bot does. batched: the bulk of the events, `audit.append` in a loop "
        "inside one `db.session(engine, write=True)` per batch. verify / read-only: wall "
        f"time, best of {args.repeat}, each in a fresh process; read-only runs the same "
        "keyset-paginated query and loop with the id/link checks but no hashing. recent(): "
        f"median of {args.runs} runs. Details JSON averages "
        + ", ".join(f"{r.details_bytes:.0f} B ({r.backend})" for r in results)
        + ".",
        "",
        "Appends (wall rate; CPU µs per event in the benchmark process, i.e. without the "
        "PostgreSQL server's share):",
        "",
        "| backend | mode | events | events/transaction | events/s | CPU µs/event "
        "| fill minutes | load avg at the end of the fill |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        f = r.fill
        if not f:
            continue
        load = " ".join(f"{x:.1f}" for x in f["load_avg"])
        lines += [
            f"| {r.backend} | batched | {f['batched_n']:,} | {f['batch']:,} "
            f"| {f['batched_rate']:,.0f} | {f['batched_cpu_us']:,.0f} | {f['fill_minutes']:.0f} "
            f"| {load} |",
            f"| {r.backend} | single-tx | {f['single_n']:,} | 1 | {f['single_rate']:,.0f} "
            f"| {f['single_cpu_us']:,.0f} | | |",
        ]
    lines += [
        "",
        "Verify variants (wall s, CPU s of the verifying process, peak RSS MB of that fresh "
        "process and its RSS before verifying; all return the same VerifyResult):",
        "",
        "| backend | variant | wall s | CPU s | rows/s | peak RSS MB | RSS before MB |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        for kind, run in r.runs.items():
            lines.append(
                f"| {r.backend} | {kind} | {run.wall:.2f} | {run.cpu:.2f} | {r.n / run.wall:,.0f} "
                f"| {run.rss_mb:.0f} | {run.base_rss_mb:.0f} |"
            )
    lines += ["", "Queries (median ms):", "", "| backend | query | ms |", "|---|---|--:|"]
    for r in results:
        for q, ms in r.recent_ms.items():
            lines.append(f"| {r.backend} | `{q}` | {ms:.2f} |")
    lines += ["", "Where the time goes (µs per row, each step timed alone):", ""]
    names = list(results[0].breakdown) if results else []
    lines += [
        "| step | " + " | ".join(r.backend for r in results) + " |",
        "|---|" + "--:|" * len(results),
    ]
    for step in names:
        lines.append(
            f"| {step} | " + " | ".join(f"{r.breakdown[step]:.2f}" for r in results) + " |"
        )
    for kind in VERIFIERS:
        lines.append(
            f"| whole {kind} (wall / CPU) | "
            + " | ".join(
                f"{r.runs[kind].wall / r.n * 1e6:.2f} / {r.runs[kind].cpu / r.n * 1e6:.2f}"
                for r in results
            )
            + " |"
        )
    for r in results:
        if r.fill.get("tamper"):
            lines += [
                "",
                f"Tampered row checks on {r.backend} (audit.verify's answer; does the "
                "reference return the same VerifyResult?):",
                "",
                "| change | row | audit.verify | same |",
                "|---|--:|---|---|",
            ]
            lines += [
                f"| {c} | {row} | {d} | {'yes' if same else '**NO**'} |"
                for c, row, d, same in r.fill["tamper"]
            ]
    for r in results:
        if r.profile:
            lines += ["", f"cProfile of audit.verify on {r.backend}:", "", "```", r.profile, "```"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="N (default 1,000,000)")
    p.add_argument("--quick", action="store_true", help="N = 20,000 and 500 single-tx appends")
    p.add_argument("--single", type=int, default=2000, help="appends with one transaction each")
    p.add_argument("--batch", type=int, default=5000, help="appends per transaction")
    p.add_argument(
        "--batched",
        type=int,
        default=50_000,
        help="events appended in batches (the rest of N "
        "beyond these, --single and a 3,000-event head is bulk-inserted)",
    )
    p.add_argument("--runs", type=int, default=50, help="runs of each recent() query")
    p.add_argument("--sample", type=int, default=200_000, help="rows for the time breakdown")
    p.add_argument("--pg", metavar="URL", help=f"PostgreSQL URL (default {DEFAULT_PG_URL})")
    p.add_argument("--pg-schema", default="public", help="schema to drop, create and use")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    p.add_argument("--sqlite-file", metavar="PATH", help="SQLite file instead of a temp dir")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--reuse", action="store_true", help="measure existing databases, no fill")
    p.add_argument("--repeat", type=int, default=1, help="runs of each verify variant (best)")
    p.add_argument("--fill-log", metavar="FILE", help="save append results here; read by --reuse")
    p.add_argument("--profile", action="store_true", help="also cProfile audit.verify")
    p.add_argument("--out", metavar="FILE", help="also write the markdown here")
    args = p.parse_args(argv)
    if args.quick:
        args.events, args.single = 20_000, min(args.single, 500)
    if args.reuse and not (args.sqlite_file or args.no_sqlite):
        p.error("--reuse needs --sqlite-file (or --no-sqlite)")

    results = []
    if not args.no_sqlite:
        b = open_sqlite(args.sqlite_file, args.reuse, args.keep)
        log(f"SQLite at {b.where}")
        try:
            results.append(bench_backend(b, args))
        finally:
            b.cleanup()
    pg_url = args.pg or DEFAULT_PG_URL
    if args.no_pg:
        pass
    elif pg_reachable(pg_url):
        b = open_pg(pg_url, args.pg_schema, args.reuse, args.keep)
        log(f"PostgreSQL at {b.where}")
        try:
            results.append(bench_backend(b, args))
        finally:
            b.cleanup()
    elif args.pg:
        log(f"PostgreSQL not reachable at {pg_url}")
        return 2
    else:
        log(f"PostgreSQL not reachable at {pg_url}: skipped")
    load = os.getloadavg()
    md = report(results, args) + (
        f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.\n"
    )
    print(md)
    if args.out:
        Path(args.out).write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
