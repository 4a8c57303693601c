"""Alert intake throughput and latency, durable, on SQLite and PostgreSQL — with Alertmanager beside it.

The server is commandpost's app under uvicorn (uvloop, httptools, no access log) in its own
process; the load generator (``bench/loadgen.py``) is another process on loopback, bounded in
requests and seconds. Every accepted request was committed before its 202 (group commit), and
after each run the stored counts are checked against the accepted events. Workloads:

- (a) PagerDuty Events v2 triggers, one alert per request, over a pool of 1,000 dedup keys
  (a warm-up pass opens every key's alert, so the measured load is repeats: one
  ``UPDATE … count = count + 1`` per event — what re-sending monitors produce);
- (b) Alertmanager webhooks of 50 alerts (one aggregation group each, 100 groups);
- p99 at a fixed 1,000 PagerDuty events/s, open loop (latency from the scheduled send time).

Debian's Alertmanager 0.25 (in memory) takes the same load on ``POST /api/v2/alerts`` (1 and 50
alerts per request) for the ratio. The examples/ops routing is used unchanged except for a
rate limit high enough not to interfere; the bench alerts route to SEV3 (no incident).

    .venv/bin/python -m bench ingest        (or: python -m bench.ingest)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from sqlalchemy import create_engine, func, select, text

Row = tuple[str, str, str, bool]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"
PG_ADMIN_URL = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = 50
KEY_POOL = 1_000
BATCH = 50
GROUPS = 100
FIXED_RATE = 1000.0
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
WITH_ALERTMANAGER = os.environ.get("BENCH_ALERTMANAGER", "1") == "1"

TARGET_SINGLE = 15_000.0
TARGET_BATCHED = 44_000.0
TARGET_P99_MS = 20.0

NOTES = """\
**How the intake rows are measured.** One server process (uvicorn, uvloop, httptools, no access
log; the garbage collector tuned as `commandpost serve` does) and a separate load-generator
process on loopback; 50 keep-alive connections, closed loop, {seconds:g} s after a warm-up that
opens every alert once, so the measured load is repeats (`count = count + 1`). *Durable*: each
202 is sent after its transaction committed (SQLite WAL with `synchronous=NORMAL`, as the server
runs; PostgreSQL with `synchronous_commit=on`); "every accepted event stored" checks the stored
counts against the 202s. Alertmanager 0.25 runs in the same bench, in memory, fed by the same
load generator on its own `POST /api/v2/alerts`. "CPU per event" is the server process's CPU
time (all its threads) divided by the events it accepted — a figure that holds even when other
work shares the machine, which the rates do not: on these 2 cores the load generator (Python)
takes about one, and other sessions' test runs come and go. Compare the ratio rows, measured
side by side.

**The request path.** The intake paths are served by a bare ASGI front ahead of FastAPI's
middleware stack (same body limit, error shape and request metrics); the common PagerDuty
trigger is checked without collecting errors. On SQLite the group commit runs on the event loop
itself: the requests of one loop turn share one transaction, their repeats bumped in one
`UPDATE … FROM json_each(?)` statement, and the WAL is copied into the database by a thread
beside the loop. (A writer thread had to win the GIL back from the busy loop after every
statement — up to 5 ms each — which capped the whole intake at ~1,000 requests/s.) When another
writer holds SQLite's lock, a batch goes to a writer thread that waits for it, and the loop
keeps serving. PostgreSQL batches run on a writer thread (`UPDATE … FROM unnest(…)`).

**What limits it now.** CPU in one Python process. For single events about half of it is
uvicorn's protocol and asyncio per request (a bare ASGI app answering a constant costs about as
much CPU per request as Alertmanager spends per alert), the rest parsing, the group commit and
the answer. Batched webhooks amortise the HTTP cost; per alert, SQLite's `UPDATE` of a ~1 KB
row (~15–20 µs) and the JSON parse and checks dominate. The 15,000 events/s and 44,000 alerts/s
targets are absolute figures for a machine where the load generator does not share the server's
cores; on this one the ratio rows are the fair comparison. Two server processes on one SQLite
file take turns on its write lock (the one that finds it taken hands its batch to its writer
thread), so on SQLite one process is the better choice; PostgreSQL scales with processes.
"""


# ---------------------------------------------------------------- setup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """A fresh, migrated database URL (None when PostgreSQL is unreachable)."""
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="cp-bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"commandpost_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        yield None
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def apply_ops(url: str) -> dict[str, str]:
    """examples/ops with a rate limit out of the benchmark's way; returns source → integration key."""
    from commandpost.db.engine import create_db_engine, make_session_factory
    from commandpost.policy import service as policy_service

    folder = Path(tempfile.mkdtemp(prefix="cp-bench-ops-"))
    shutil.copytree(EXAMPLE_OPS, folder / "ops")
    path = folder / "ops" / "services" / "payment-platform.yaml"
    data = yaml.safe_load(path.read_text())
    for integration in data["integrations"]:
        integration["rate_limit_per_minute"] = 100_000_000
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    engine = create_db_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as s:
        policy_service.apply_folder(s, path=folder / "ops", now=datetime.now(UTC), actor="bench")
        s.commit()
        keys = {k.source: k.key for k in policy_service.list_integrations(s)}
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return keys


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its threads and its child processes (Linux /proc)."""

    def own(p: str) -> tuple[int, float]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    total = own(str(pid))[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(pid):
            try:
                parent, seconds = own(entry.name)
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                total += seconds
    return total


@contextmanager
def commandpost_server(database_url: str, workers: int = 1) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest", "serve", database_url, str(port), str(workers)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc, "commandpost")
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def alertmanager() -> Iterator[tuple[str, int] | None]:
    binary = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
    if not Path(binary).exists():
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="cp-bench-am-"))
    (folder / "am.yml").write_text(
        yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'am.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, "alertmanager")
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def app_factory() -> Any:
    """The real app, no engine loop (its database from BENCH_DATABASE_URL: workers import this)."""
    from commandpost.app import create_app
    from commandpost.clock import SystemClock
    from commandpost.serve import tune_gc
    from commandpost.settings import Settings

    url = os.environ["BENCH_DATABASE_URL"]
    settings = Settings(database_url=url, engine_enabled=False, log_level="WARNING")
    app = create_app(settings, clock=SystemClock(), run_engine=False)
    tune_gc()  # as `commandpost serve` does
    return app


def serve(database_url: str, port: int, workers: int) -> None:
    """The server process(es): uvloop, httptools, no access log; ``workers`` > 1 share the port."""
    import uvicorn

    os.environ["BENCH_DATABASE_URL"] = database_url
    uvicorn.run(
        "bench.ingest:app_factory",
        factory=True,
        workers=workers,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        backlog=4096,
    )


# ---------------------------------------------------------------- workloads


def pd_bodies(key: str) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": f"bench/worker-{i}/queue-depth",
                "payload": {
                    "summary": f"Queue depth above 1000 on worker-{i}",
                    "source": f"worker-{i}",
                    "severity": "warning",
                    "component": "queue",
                    "group": "workers",
                },
            }
        )
        for i in range(KEY_POOL)
    ]


def _labels(group: int, n: int) -> dict[str, str]:
    return {
        "alertname": f"QueueDepthHigh{group}",
        "service": "workers",
        "instance": f"worker-{n}",
        "severity": "warning",
    }


def am_webhook_bodies() -> list[bytes]:
    from commandpost.alerts.sources.alertmanager import fingerprint

    started = "2026-06-24T03:00:00Z"
    bodies = []
    for g in range(GROUPS):
        alerts = [
            {
                "status": "firing",
                "labels": _labels(g, n),
                "annotations": {"summary": f"Queue depth above 1000 on worker-{n}"},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=queue_depth",
                "fingerprint": fingerprint(_labels(g, n)),
            }
            for n in range(BATCH)
        ]
        bodies.append(
            orjson.dumps(
                {
                    "receiver": "commandpost",
                    "status": "firing",
                    "alerts": alerts,
                    "groupLabels": {"alertname": f"QueueDepthHigh{g}"},
                    "commonLabels": {"alertname": f"QueueDepthHigh{g}", "service": "workers"},
                    "commonAnnotations": {},
                    "externalURL": "http://alertmanager:9093",
                    "version": "4",
                    "groupKey": f'{{}}:{{alertname="QueueDepthHigh{g}"}}',
                    "truncatedAlerts": 0,
                }
            )
        )
    return bodies


def am_api_bodies(batch: int) -> list[bytes]:
    """Alertmanager's own intake (POST /api/v2/alerts): the same alerts, ``batch`` per request."""
    alerts = [
        {"labels": _labels(g, n), "annotations": {"summary": f"Queue depth above 1000 on worker-{n}"}}
        for g in range(GROUPS)
        for n in range(BATCH)
    ]
    return [orjson.dumps(alerts[i : i + batch]) for i in range(0, len(alerts), batch)]


def loadgen(
    url: str,
    bodies: list[bytes],
    *,
    seconds: float = SECONDS,
    rate: float = 0.0,
    pid: int | None = None,
    requests: int = 1_000_000,
) -> dict[str, Any]:
    """Run the load generator; ``cpu_s`` is the server's CPU seconds during the run (with ``pid``)."""
    before = cpu_seconds(pid) if pid else 0.0
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        f.write(b"\n".join(bodies))
        path = f.name
    try:
        args = [sys.executable, "-m", "bench.loadgen", "--url", url, "--bodies", path]
        args += ["--connections", str(CONNECTIONS), "--seconds", str(seconds), "--requests", str(requests)]
        if rate:
            args += ["--rate", str(rate)]
        out = subprocess.run(
            args, cwd=REPO, capture_output=True, text=True, timeout=seconds * 6 + 60, check=True
        )
        result: dict[str, Any] = json.loads(out.stdout)
        result["cpu_s"] = cpu_seconds(pid) - before if pid else 0.0
        return result
    finally:
        os.unlink(path)


def stored_events(database_url: str) -> int:
    """Triggers counted on alerts: must equal the events the server accepted."""
    from commandpost.alerts.models import Alert
    from commandpost.db.engine import create_db_engine

    engine = create_db_engine(database_url)
    with engine.connect() as conn:
        total = conn.execute(select(func.coalesce(func.sum(Alert.count), 0))).scalar_one()
    engine.dispose()
    return int(total)


# ---------------------------------------------------------------- the run


def measure_commandpost(kind: str) -> dict[str, Any] | None:
    with database(kind) as url:
        if url is None:
            return None
        keys = apply_ops(url)
        pd = pd_bodies(keys["pagerduty"])
        am = am_webhook_bodies()
        with commandpost_server(url) as (base, pid):
            enqueue = f"{base}/v2/enqueue"
            webhook = f"{base}/api/v1/intake/alertmanager/{keys['alertmanager']}"
            # warm-up: every key and every webhook group once, so the measured load is steady state
            warm = [
                loadgen(enqueue, pd, seconds=120, requests=len(pd)),
                loadgen(webhook, am, seconds=120, requests=len(am)),
            ]
            single = loadgen(enqueue, pd, pid=pid)
            batched = loadgen(webhook, am, pid=pid)
            fixed = loadgen(enqueue, pd, rate=FIXED_RATE)
        two: dict[str, Any] = {"ok": 0}
        if kind == "sqlite":  # does a second process help? (it takes turns on the write lock)
            with commandpost_server(url, workers=2) as (base, pid):
                enqueue = f"{base}/v2/enqueue"
                warm.append(loadgen(enqueue, pd, seconds=1.0))
                two = loadgen(enqueue, pd, pid=pid)
        accepted = warm[0]["ok"] + single["ok"] + fixed["ok"] + BATCH * (warm[1]["ok"] + batched["ok"])
        accepted += sum(w["ok"] for w in warm[2:]) + two["ok"]
        return {
            "single": single,
            "batched": batched,
            "fixed": fixed,
            "two": two,
            "accepted": accepted,
            "stored": stored_events(url),
        }


def measure_alertmanager() -> dict[str, Any] | None:
    with alertmanager() as found:
        if found is None:
            return None
        base, pid = found
        url = f"{base}/api/v2/alerts"
        loadgen(url, am_api_bodies(1), seconds=1.0)
        return {
            "single": loadgen(url, am_api_bodies(1), pid=pid),
            "batched": loadgen(url, am_api_bodies(BATCH), pid=pid),
        }


def _per_event_us(result: dict[str, Any], per_request: int) -> str:
    """CPU the server spent per event: independent of what else the machine was running."""
    events = result["ok"] * per_request
    if not events or not result["cpu_s"]:
        return "—"
    us = result["cpu_s"] / events * 1e6
    return f"{us:,.0f} µs ({1e6 / us:,.0f}/s per core)"


def _latency(result: dict[str, Any]) -> str:
    return f"p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms"


def _fmt_rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}/s"


def run() -> list[Row]:
    rows: list[Row] = []
    reference = measure_alertmanager() if WITH_ALERTMANAGER else None
    am_single = reference["single"]["rps"] if reference else 0.0
    am_batched = reference["batched"]["rps"] * BATCH if reference else 0.0
    for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if kind not in BACKENDS:
            continue
        got = measure_commandpost(kind)
        if got is None:
            rows.append((f"alert intake ({label})", "—", "PostgreSQL unreachable", False))
            continue
        single, batched, fixed = got["single"], got["batched"], got["fixed"]
        batched_alerts = batched["rps"] * BATCH
        primary = kind == "sqlite"
        rows += [
            (
                f"(a) PagerDuty events, 1 alert/request, durable ({label})",
                f"≥ {TARGET_SINGLE:,.0f}/s" if primary else "—",
                f"{_fmt_rate(single['rps'], 'events')}  {_latency(single)}",
                single["rps"] >= TARGET_SINGLE if primary else True,
            ),
            (
                f"(b) Alertmanager webhooks, {BATCH} alerts/request, durable ({label})",
                f"≥ {TARGET_BATCHED:,.0f} alerts/s" if primary else "—",
                f"{_fmt_rate(batched_alerts, 'alerts')}  {_latency(batched)}",
                batched_alerts >= TARGET_BATCHED if primary else True,
            ),
            (
                f"p99 at a fixed {FIXED_RATE:,.0f} events/s, open loop ({label})",
                f"≤ {TARGET_P99_MS:g} ms" if primary else "—",
                f"p99 {fixed['p99_ms']:.1f} ms  p50 {fixed['p50_ms']:.1f} ms  ({fixed['ok']:,} ok)",
                fixed["p99_ms"] <= TARGET_P99_MS and fixed["ok"] == fixed["requests"] if primary else True,
            ),
            (
                f"server CPU per event, 1 alert/request · {BATCH} alerts/request ({label})",
                "—",
                f"{_per_event_us(single, 1)} · {_per_event_us(batched, BATCH)}",
                True,
            ),
            (
                f"every accepted event stored ({label})",
                "stored = accepted",
                f"{got['stored']:,} stored / {got['accepted']:,} accepted",
                got["stored"] == got["accepted"],
            ),
        ]
        if primary:
            rows.insert(
                -4,
                (
                    f"(a) the same with 2 server processes on one database ({label})",
                    "—",
                    f"{_fmt_rate(got['two']['rps'], 'events')}  {_latency(got['two'])}",
                    True,
                ),
            )
        if reference and primary:
            rows += [
                (
                    "Alertmanager 0.25 CPU per alert, 1 · 50 alerts/request",
                    "—",
                    f"{_per_event_us(reference['single'], 1)} · {_per_event_us(reference['batched'], BATCH)}",
                    True,
                ),
                (
                    "ratio to Alertmanager 0.25 (in memory), 1 alert/request",
                    "≥ 0.50",
                    f"{single['rps'] / am_single:.2f}  (Alertmanager {_fmt_rate(am_single, 'alerts')})",
                    single["rps"] / am_single >= 0.5,
                ),
                (
                    f"ratio to Alertmanager 0.25 (in memory), {BATCH} alerts/request",
                    "≥ 0.50",
                    f"{batched_alerts / am_batched:.2f}  (Alertmanager {_fmt_rate(am_batched, 'alerts')})",
                    batched_alerts / am_batched >= 0.5,
                ),
            ]
    if reference is None:
        why = (
            "skipped (BENCH_ALERTMANAGER=0)"
            if not WITH_ALERTMANAGER
            else "prometheus-alertmanager not installed"
        )
        rows.append(("Alertmanager reference", "—", why, False))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        for figure, target, result, ok in run():
            print(f"{'PASS ' if ok else 'SHORT'}  {figure:<70} {target:<18} {result}")
