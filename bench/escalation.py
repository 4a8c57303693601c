"""Escalation lateness: a level's due time → its page handed to the channel, with 10,000 escalations
pending while the intake takes 1,000 events/s — on SQLite and PostgreSQL.

Processes: the commandpost server (intake, engine off) under uvicorn; the load generator at a fixed
1,000 PagerDuty events/s (open loop; SEV3 repeats, as in the ingest bench); a local HTTP sink (the far
end); and this process running the engine — the real Runner with the escalation processor and the
notify sender (real webhook channel), on the system clock. It sleeps until the next due time; nothing
wakes it early (no incident opens here), so the figure is the due-time path alone.

Seeded by bulk SQL: 10,000 open SEV2 incidents, each with an active escalation at its second level
(the secondary). ``STEADY_RATE`` of them fall due per second through a window, then ``BURST`` more at
one instant; the rest stay pending beyond the run. Two windows: the engine alone, then with the
intake under load. Lateness is measured in this
process when the sender hands a webhook page to the channel (``time.time()`` − the message's due
time, which is the escalation's due time).

    .venv/bin/python -m bench escalation        (or: python -m bench.escalation)
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import bindparam, insert, select, update

from bench import ingest
from bench.notify import sink
from commandpost import wiring
from commandpost.clock import SystemClock
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.engine.processor import PassPlan
from commandpost.engine.runner import Runner
from commandpost.incidents.models import Incident
from commandpost.notify.channels import Channels
from commandpost.notify.rules import Delivery
from commandpost.notify.sender import NotificationSender
from commandpost.paging.models import Escalation
from commandpost.paging.processors import EscalationsDue
from commandpost.policy import service as policy_service
from commandpost.settings import Settings

Row = tuple[str, str, str, bool]
PENDING = 10_000
SECONDS = max(20.0, float(os.environ.get("BENCH_SECONDS", "5")) * 4)
STEADY_RATE = float(os.environ.get("BENCH_ESCALATION_RATE", "5"))  # falling due per second
BURST = int(os.environ.get("BENCH_ESCALATION_BURST", "100"))  # then this many at one instant
SHORT_PASS_WAIT = 0.05  # notify_pass_wait_seconds in the tuned windows (the default is 1 s)
PUBLIC_URL = "https://cp.example"
LEAD = 3.0  # seconds between the start of the run and the first due time
EVENTS_PER_SECOND = 1000.0
TARGET_P99_MS = 250.0

NOTES = f"""
**escalation**: one engine process — the real Runner with every processor `serve` runs (escalations
first, then the sender, the other processors, escalations and the sender again) —
beside the intake server, a sink process and, in the second window, the load generator at a fixed
1,000 PagerDuty events/s. 10,000 escalations are pending; in each window {STEADY_RATE:g}/s fall due,
then {BURST} more at one instant. Lateness = the moment the sender hands the page to the channel − the
escalation's due time. The engine sleeps until the earliest due time (no fixed cycle; GoAlert polls
every 5 s), decides the level (who is on call now, one message per contact method, a `page` timeline
entry) and hands it to the channel in the same pass. Two settings: notify's default
`notify_pass_wait_seconds` (1 s: a pass waits up to that long for its sends, so a slow far end holds
up the next due page) and {SHORT_PASS_WAIT:g} s (sends that take longer record their own result). "Engine CPU
per escalation" is this process's CPU over a window divided by the escalations due in it (it includes
the passes of every other processor).
"""


class Timed:
    """The real channels, timing the hand-off of every page (the figure the bench reports)."""

    def __init__(self, real: Channels) -> None:
        self.real = real
        self.handed: list[tuple[str, datetime | None, float]] = []
        self.lock = threading.Lock()

    def send(self, message: Any, now: datetime) -> Delivery:
        at = time.time()
        with self.lock:
            self.handed.append((message.key, message.due_at, at))
        return self.real.send(message, now)

    def close(self) -> None:
        self.real.close()


def _apply(url: str, sink_url: str) -> dict[str, str]:
    """examples/ops: intake rate limits out of the way; every person paged on one webhook (the sink)."""
    folder = Path(tempfile.mkdtemp(prefix="cp-bench-esc-"))
    ops = folder / "ops"
    shutil.copytree(ingest.EXAMPLE_OPS, ops)
    service = ops / "services" / "payment-platform.yaml"
    data = yaml.safe_load(service.read_text())
    for integration in data["integrations"]:
        integration["rate_limit_per_minute"] = 100_000_000
    service.write_text(yaml.safe_dump(data, sort_keys=False))
    people = ops / "people.yaml"
    data = yaml.safe_load(people.read_text())
    for person in data["people"]:
        person["contact"] = {"webhook": f"{sink_url}/hooks/{person['handle']}"}
        person.pop("notify", None)
        person.pop("notification_rules", None)
    for team in data.get("teams", []):  # SEV3 alerts tell the team channel: that goes to the sink too
        if team.get("channel"):
            team["channel"] = {"name": team["channel"]["name"], "webhook": f"{sink_url}/hooks/{team['name']}"}
    people.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    engine = create_db_engine(url)
    with make_session_factory(engine)() as s:
        policy_service.apply_folder(s, path=ops, now=datetime.now(UTC), actor="bench")
        s.commit()
        keys = {k.source: k.key for k in policy_service.list_integrations(s)}
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return keys


def _seed(url: str) -> dict[int, int]:
    """PENDING open SEV2 incidents, each escalation waiting at its second level, due far later."""
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    later = now + timedelta(hours=6)
    incidents = [
        {
            "number": n,
            "title": f"Webhook backlog {n}",
            "summary": "",
            "impact": "",
            "service": "payment-platform",
            "severity": "SEV2",
            "status": "investigating",
            "labels": {},
            "data_loss": False,
            "manual_intervention": False,
            "detection": "automatic",
            "channel": f"inc-bench-{n}",
            "group_key": f"bench-{n}",
            "runbook": "payment-webhook-backlog",
            "no_runbook": False,
            "created_by": "commandpost",
            "detected_at": now,
            "declared_at": now,
            "updated_at": now,
            "reopen_count": 0,
        }
        for n in range(1, PENDING + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Incident), incidents)
        ids = dict(conn.execute(select(Incident.number, Incident.id)).all())
        conn.execute(
            insert(Escalation),
            [
                {
                    "incident_id": ids[n],
                    "policy": "payment-platform",
                    "severity": "SEV2",
                    "chain": 0,
                    "level": 1,
                    "repeat": 0,
                    "fired": 1,
                    "fyi_sent": True,
                    "state": "active",
                    "next_escalation_at": later + timedelta(seconds=n),
                    "started_at": now,
                    "updated_at": now,
                }
                for n in range(1, PENDING + 1)
            ],
        )
    engine.dispose()
    return ids


def _schedule(url: str, ids: dict[int, int], numbers: list[int], start: float) -> dict[int, datetime]:
    """Due times for one window: STEADY_RATE/s from ``start`` + LEAD, then BURST at one instant a
    second after the last steady one (so the burst's catch-up does not colour the steady figure)."""
    base = datetime.fromtimestamp(start, UTC) + timedelta(seconds=LEAD)
    steady, burst = numbers[:-BURST], numbers[-BURST:]
    due = {n: base + timedelta(seconds=i / STEADY_RATE) for i, n in enumerate(steady)}
    burst_at = base + timedelta(seconds=len(steady) / STEADY_RATE + 1)  # after the steady ones
    due.update({n: burst_at for n in burst})
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(
            update(Escalation)
            .where(Escalation.incident_id == bindparam("b_id"))
            .values(next_escalation_at=bindparam("b_due")),
            [{"b_id": ids[n], "b_due": at} for n, at in due.items()],
        )
    engine.dispose()
    return due


def _window(
    url: str, ids: dict[int, int], timed: Timed, numbers: list[int], load: tuple[str, list[bytes]] | None
) -> dict[str, Any]:
    """One measured window; with ``load``, the intake takes EVENTS_PER_SECOND meanwhile."""
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    due = _schedule(url, ids, numbers, time.time())
    result: dict[str, Any] = {}
    if load is not None:
        result = ingest.loadgen(load[0], load[1], seconds=SECONDS, rate=EVENTS_PER_SECOND)
    else:
        time.sleep(SECONDS)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(set(_pages(timed)) & set(due)) < len(due):
        time.sleep(0.1)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    pages = _pages(timed)
    burst = set(numbers[-BURST:])
    return {
        "due": len(due),
        "paged": len(set(pages) & set(due)),
        "steady": sorted(v for n, v in pages.items() if n in due and n not in burst),
        "burst": sorted(v for n, v in pages.items() if n in burst),
        "cpu_ms": used / max(1, len(due)) * 1000,
        "load": result,
    }


def _processors(settings: Settings, sender: NotificationSender) -> list[Any]:
    """Every processor `serve` runs, in its order; ours built on this run's settings and channels."""
    wiring.wire(settings)
    plan = wiring.engine_plan(settings)
    return PassPlan(pages=(EscalationsDue(settings),), decide=plan.decide, send=(sender,)).sequence()


def _measure(kind: str) -> dict[str, Any] | None:
    """Three windows on one database, with the settings `serve` ships: the engine alone, then under
    intake load; then, for comparison, the engine alone with a short notify pass wait."""
    with ingest.database(kind) as url, sink() as sink_url:
        if url is None:
            return None
        keys = _apply(url, sink_url)
        ids = _seed(url)
        engine = create_db_engine(url)
        sessions = make_session_factory(engine)
        per_window = int(STEADY_RATE * (SECONDS - LEAD - 2)) + BURST
        slices = [list(range(k * per_window + 1, (k + 1) * per_window + 1)) for k in range(3)]
        got: dict[str, Any] = {}
        with ingest.commandpost_server(url) as (base, _pid):
            bodies = ingest.pd_bodies(keys["pagerduty"])
            ingest.loadgen(f"{base}/v2/enqueue", bodies, seconds=60, requests=len(bodies))  # warm-up
            for name, wait, numbers, load in (
                ("default", None, slices[0], None),
                ("default-busy", None, slices[1], (f"{base}/v2/enqueue", bodies)),
                ("tuned", SHORT_PASS_WAIT, slices[2], None),
            ):
                settings = Settings(database_url=url, outbound_allowlist=["127.0.0.1"], public_url=PUBLIC_URL)
                if wait is not None:
                    settings = settings.model_copy(update={"notify_pass_wait_seconds": wait})
                timed = Timed(Channels(settings, console_stream=io.StringIO()))
                sender = NotificationSender(settings, channels=timed, owner=f"bench-{name}")
                runner = Runner(
                    sessions, SystemClock(), settings=settings, processors=_processors(settings, sender)
                )
                runner.start()
                try:
                    got[name] = _window(url, ids, timed, numbers, load)
                finally:
                    runner.stop()
                    sender.drain(10)
                    sender.close()
        engine.dispose()
    return got


def _pages(timed: Timed) -> dict[int, float]:
    """incident number → lateness (s) of its level-2 webhook page, first hand-off only."""
    out: dict[int, float] = {}
    with timed.lock:
        handed = list(timed.handed)
    for key, due_at, at in handed:
        if "/level=1/" not in key or not key.endswith("channel=webhook") or due_at is None:
            continue
        number = int(key.split("incident=INC-", 1)[1].split("/", 1)[0])
        out.setdefault(number, at - due_at.timestamp())
    return out


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def _ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def _rows(label: str, name: str, got: dict[str, Any]) -> list[Row]:
    steady, burst = got["steady"], got["burst"]
    missed = got["due"] - got["paged"]
    p99 = _pct(steady, 99)
    rows: list[Row] = [
        (
            f"escalation lateness, due → handed to the channel ({label}, {name}; {PENDING:,} pending, "
            f"{STEADY_RATE:g}/s falling due)",
            f"p99 ≤ {TARGET_P99_MS:.0f} ms",
            f"p50 {_ms(_pct(steady, 50))}  p99 {_ms(p99)}  max {_ms(max(steady, default=0))} "
            f"({len(steady)} pages, {missed} missed; {got['cpu_ms']:.1f} ms engine CPU per escalation)",
            p99 * 1000 <= TARGET_P99_MS and missed == 0,
        ),
        (
            f"escalation burst: {BURST} due at one instant ({label}, {name})",
            "—",
            f"first {_ms(min(burst, default=0))}  p50 {_ms(_pct(burst, 50))}  "
            f"last {_ms(max(burst, default=0))}",
            len(burst) == BURST,
        ),
    ]
    if got["load"]:
        load = got["load"]
        rows.append(
            (
                f"intake meanwhile ({label}, open loop at {EVENTS_PER_SECOND:,.0f} events/s)",
                "—",
                f"{load['rps']:,.0f}/s answered  p50 {load['p50_ms']:,.1f} ms  p99 {load['p99_ms']:,.1f} ms",
                True,
            )
        )
    return rows


def run() -> list[Row]:
    rows: list[Row] = []
    for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if kind not in ingest.BACKENDS:
            continue
        got = _measure(kind)
        if got is None:
            rows.append(
                (f"escalation lateness ({label})", f"p99 ≤ {TARGET_P99_MS:.0f} ms", "no database", False)
            )
            continue
        rows += _rows(label, "engine alone, notify defaults", got["default"])
        rows += _rows(
            label, f"intake at {EVENTS_PER_SECOND:,.0f} events/s, notify defaults", got["default-busy"]
        )
        rows += _rows(label, f"engine alone, notify pass wait {SHORT_PASS_WAIT:g} s", got["tuned"])
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(str(c) for c in row))
