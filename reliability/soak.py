"""Check 11, soak: a real server on SQLite takes a steady 500 events/s for ``seconds`` (2 minutes in
``make reliability``, ``SOAK=3600`` for an hour), measured in consecutive windows by the benchmark's
open-loop load generator: RSS growth from the first window to the last < 10 %, p99 of the last windows
within 20 % of the first ones, the SQLite WAL bounded, and no error at all.

The events cycle over 2,000 dedup keys, a third of them resolved as they go, so alerts open, repeat
and close the whole time instead of one counter being bumped.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import orjson

from reliability.figures import Figure, at_most, equals
from reliability.ingest_load import Window, measure
from reliability.stack import stack

WINDOW_SECONDS = 10.0
WAL_LIMIT_MIB = 64.0
KEYS = 2000


def bodies(folder: Path, routing_key: str) -> Path:
    lines = []
    for i in range(KEYS * 3):
        key = i % KEYS
        action = "resolve" if i % 3 == 2 and key % 3 == 0 else "trigger"
        event = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": f"soak/{key}",
            "payload": {"summary": f"soak {key}", "source": f"host-{key % 17}", "severity": "warning"},
        }
        lines.append(orjson.dumps(event))
    path = folder / "soak-bodies.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(seconds: float = 120.0, rate: float = 500.0) -> list[Figure]:
    check = f"11 soak ({seconds:.0f} s at {rate:.0f}/s, sqlite)"
    windows: list[Window] = []
    rss: list[int] = []
    wal: list[float] = []
    with stack("sqlite") as env:
        server = env.server("soak")
        path = bodies(env.folder, env.keys()["pagerduty"])
        wal_file = Path(env.url.removeprefix("sqlite:///") + "-wal")
        for _ in range(max(2, round(seconds / WINDOW_SECONDS))):
            windows.append(measure(server.base, path, rate=rate, seconds=WINDOW_SECONDS, connections=16))
            rss.append(server.rss_kib())
            wal.append(wal_file.stat().st_size / 2**20 if wal_file.exists() else 0.0)
    head = max(1, len(windows) // 4)
    first_p99 = statistics.median(w.p99_ms for w in windows[:head])
    last_p99 = statistics.median(w.p99_ms for w in windows[-head:])
    growth = (rss[-1] - rss[0]) / rss[0] * 100 if rss[0] else 0.0
    errors = sum(w.errors for w in windows)
    sent = sum(w.requests for w in windows)
    p99s = [round(w.p99_ms) for w in windows]
    return [
        equals(check, "errors", errors, 0,
               note=f"{sent:,} events in {len(windows)} windows of {WINDOW_SECONDS:.0f} s"),
        at_most(check, "RSS growth, first window → last", growth, 10.0, " %",
                note=f"{rss[0] / 1024:.0f} → {rss[-1] / 1024:.0f} MiB"),
        at_most(check, "p99 drift, first quarter → last quarter", (last_p99 - first_p99) / first_p99 * 100,
                20.0, " %", note=f"p99 {first_p99:.1f} → {last_p99:.1f} ms; windows {p99s}", timing=True),
        at_most(check, "largest SQLite WAL", max(wal), WAL_LIMIT_MIB, " MiB",
                note=f"per window {[round(x, 1) for x in wal]}"),
    ]  # fmt: skip
