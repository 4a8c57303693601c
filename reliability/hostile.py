"""Checks 12–14: hostile input under load never delays pages nor answers 5xx (issue 14, items 1, 2 and 6).

12, login storm: 20 clients guess passwords as fast as they can for 20 s against a real server while
the benchmark's load generator sends PagerDuty events at a fixed rate. Logins verify the password
outside any write transaction and failed ones are throttled before any hashing, so intake's p99
stays under 50 ms, nothing answers 5xx, and the engine never skips a pass (its log would say
``engine pass skipped``). The throttle must have answered 429 (control).

13, NUL flood: PagerDuty events whose summary, dedup key and a ``custom_details`` key hold U+0000, at
a fixed rate: every one is accepted, and the database holds U+FFFD where each NUL was (on PostgreSQL
a NUL used to be a 500, and senders retry a 5xx forever).

14, database locked (SQLite): another process holds the write lock for 10 s while alerts and
declarations arrive. Each is answered 503 with ``Retry-After`` — no 500, no traceback — within the
busy timeout, not a busy timeout per request of a batch; after the lock is released the same
requests, sent again, are all stored.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from sqlalchemy import func, select

from commandpost.alerts.models import Alert
from commandpost.db.engine import transaction
from commandpost.policy import service as policy_service
from commandpost.security import users
from reliability.figures import Figure, at_least, at_most, equals
from reliability.ingest_load import measure, pagerduty_bodies
from reliability.stack import engine_of, sessions_of, stack

PASSWORD = "the right password, not guessed"
SKIPPED = "engine pass skipped"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REQUEST_TRACEBACKS = ("Exception in ASGI application", "unhandled error", "page error")
"""How a request's traceback starts in the log: uvicorn's, the API's and the pages' own."""


# ------------------------------------------------------------------ 12: login storm


class Guessers:
    """``clients`` threads, each logging in with a wrong password in a loop until stopped."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guess, args=(n,), daemon=True) for n in range(clients)]

    def _guess(self, n: int) -> None:
        """The form once (its CSRF cookie and token), then guess after guess, as a script would."""
        with httpx.Client(base_url=self.base, timeout=30) as client:
            token = _CSRF.search(client.get("/login").text)
            while not self.stop.is_set():
                try:
                    answer = client.post(
                        "/login",
                        data={"handle": "hana", "password": f"guess {n} {time.monotonic()}",
                              "csrf_token": token.group(1) if token else ""},
                    )  # fmt: skip
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                with self.lock:
                    self.statuses[status] += 1

    def __enter__(self) -> Guessers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def login_storm(backend: str, clients: int = 20, seconds: float = 20.0, rate: float = 100.0) -> list[Figure]:
    check = f"12 login storm ({backend}, {clients} guessing clients)"
    with stack(backend) as env:
        server = env.server("storm")
        with sessions_of(env.url) as sessions, transaction(sessions) as s:
            config = policy_service.current_config(s)
            users.set_password(s, config=config, handle="hana", password=PASSWORD, role="responder",
                               now=datetime.now(UTC))  # fmt: skip
        bodies = pagerduty_bodies(env.folder, env.keys()["pagerduty"], 200, prefix="storm")
        baseline = measure(server.base, bodies, rate=rate, seconds=min(seconds, 10.0))
        with Guessers(server.base, clients) as guessers:
            during = measure(server.base, bodies, rate=rate, seconds=seconds)
        log = server.log_text()
    statuses = dict(sorted(guessers.statuses.items()))
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    return [
        at_most(check, "intake p99 during the storm", during.p99_ms, 50.0, " ms", timing=True,
                note=f"baseline {baseline.p99_ms:.1f} ms; p50 {during.p50_ms:.1f} ms; {rate:g} events/s"),
        equals(check, "intake errors during the storm", during.errors, 0, note=str(during.statuses)),
        equals(check, "login answers 5xx (or no answer)", server_errors, 0,
               note=f"{sum(statuses.values())} login attempts: {statuses}"),
        at_least(check, "logins refused 429 by the throttle (control)", statuses.get(429, 0), 1),
        equals(check, f"'{SKIPPED}' in the server log", log.count(SKIPPED), 0),
    ]  # fmt: skip


# ------------------------------------------------------------------ 13: NUL flood


def nul_bodies(folder: Path, routing_key: str, keys: int) -> Path:
    path = folder / "nul-bodies.jsonl"
    lines = [
        orjson.dumps(
            {
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": f"nul\u0000{i}",
                "payload": {"summary": f"a\u0000b {i}", "source": "host", "severity": "info",
                            "custom_details": {"ke\u0000y": "va\u0000lue"}},
            }
        )
        for i in range(keys)
    ]  # fmt: skip
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def nul_flood(backend: str, rate: float = 200.0, seconds: float = 10.0, keys: int = 300) -> list[Figure]:
    check = f"13 NUL flood ({backend})"
    with stack(backend) as env:
        server = env.server("nul", engine=False)
        window = measure(server.base, nul_bodies(env.folder, env.keys()["pagerduty"], keys),
                         rate=rate, seconds=seconds)  # fmt: skip
        with engine_of(env.url) as engine, engine.connect() as conn:
            stored = conn.execute(select(Alert.summary, Alert.dedup_key)).all()
    with_nul = sum(1 for summary, key in stored if "\x00" in summary or "\x00" in key)
    replaced = sum(1 for summary, key in stored if "\ufffd" in summary and "\ufffd" in key)
    return [
        equals(check, "events not accepted", window.errors, 0,
               note=f"{window.requests} sent: {window.statuses}"),
        equals(check, "alerts stored with a NUL", with_nul, 0),
        equals(check, "alerts stored with U+FFFD where the NUL was", replaced, len(stored),
               note=f"{len(stored)} alerts (distinct dedup keys of the {window.requests} events)"),
        at_least(check, "alerts stored (control)", len(stored), min(keys, window.requests)),
    ]  # fmt: skip


# ------------------------------------------------------------------ 14: database locked


def locked_database(hold_seconds: float = 10.0, requests: int = 20) -> list[Figure]:
    check = "14 database locked (sqlite, another process holds the write lock)"
    with stack("sqlite") as env:
        server = env.server("locked")
        key = env.keys()["pagerduty"]
        token = env.token("responder", "hana")
        events = [
            {"routing_key": key, "event_action": "trigger", "dedup_key": f"locked/{n}",
             "payload": {"summary": f"locked {n}", "source": "host", "severity": "info"}}
            for n in range(requests)
        ]  # fmt: skip
        declares = [{"title": f"declared while locked {n}", "severity": "SEV3"} for n in range(requests // 4)]
        path = env.url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        released = threading.Timer(hold_seconds, lambda: holder.execute("ROLLBACK"))
        released.start()
        answers: list[tuple[str, int, float, str | None]] = []
        lock = threading.Lock()

        def send(kind: str, body: dict[str, object]) -> None:
            with httpx.Client(base_url=server.base, timeout=60) as client:
                t0 = time.monotonic()
                if kind == "alert":
                    answer = client.post("/v2/enqueue", content=orjson.dumps(body))
                else:
                    answer = client.post("/api/v1/incidents", json=body,
                                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                with lock:
                    answers.append((kind, answer.status_code, time.monotonic() - t0,
                                    answer.headers.get("Retry-After")))  # fmt: skip

        time.sleep(0.5)  # the lock is held before the first request
        with ThreadPoolExecutor(16) as pool:
            for body in events:
                pool.submit(send, "alert", body)
            for body in declares:
                pool.submit(send, "declare", body)
        released.join()
        holder.close()
        with httpx.Client(base_url=server.base, timeout=60) as client:
            again = [client.post("/v2/enqueue", content=orjson.dumps(body)).status_code for body in events]
        with engine_of(env.url) as engine, engine.connect() as conn:
            stored = int(conn.scalar(select(func.count()).select_from(Alert)) or 0)
        log = server.log_text()
    statuses = Counter(status for _kind, status, _s, _r in answers)
    unavailable = [a for a in answers if a[1] == 503]
    slowest = max((seconds for _k, _s, seconds, _r in answers), default=0.0)
    others = sum(1 for a in answers if a[1] != 503 and not 200 <= a[1] < 300)
    return [
        equals(check, "answers neither 503 nor stored", others, 0,
               note=f"{len(answers)} requests ({requests} alerts, {len(declares)} declarations): "
                    f"{dict(statuses)} (a 2xx waited within the busy timeout for the release)"),
        at_least(check, "503s while locked (control)", len(unavailable), 1),
        equals(check, "503s without Retry-After", sum(1 for a in unavailable if not a[3]), 0),
        at_most(check, "slowest answer while locked", slowest, 5.0 + 3.0, " s", timing=True,
                note="the busy timeout is 5 s; a batch replayed one by one waited 5 s per request"),
        equals(check, "requests that logged a traceback", sum(log.count(s) for s in REQUEST_TRACEBACKS), 0,
               note=f"{log.count('Traceback')} tracebacks in the log in all (a background pass may log one)"),
        equals(check, "alerts sent again after the release and stored",
               sum(s == 202 for s in again), requests),
        equals(check, "alerts stored", stored, requests),
    ]  # fmt: skip


def run() -> list[Figure]:
    figures: list[Figure] = []
    for backend in ("sqlite", "postgresql"):
        figures += login_storm(backend)
        figures += nul_flood(backend)
    return figures + locked_database()
