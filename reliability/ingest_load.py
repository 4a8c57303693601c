"""Ingest latency under a fixed rate, measured by the benchmark's own load generator (``bench.loadgen``,
open loop: latency counted from each request's scheduled time) run as its own process, so its CPU is
not the server's and a stall is not hidden."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from reliability.stack import REPO


@dataclass(frozen=True)
class Window:
    requests: int
    ok: int
    statuses: dict[str, int]
    p50_ms: float
    p99_ms: float

    @property
    def errors(self) -> int:
        return self.requests - self.ok


def pagerduty_bodies(folder: Path, routing_key: str, keys: int, prefix: str = "load") -> Path:
    """One PagerDuty trigger per line over ``keys`` dedup keys (no alert rule matches: SEV3, no page)."""
    path = folder / f"{prefix}-bodies.jsonl"
    lines = [
        orjson.dumps(
            {
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": f"{prefix}/{i}",
                "payload": {"summary": f"{prefix} event {i}", "source": f"host-{i % 7}", "severity": "info"},
            }
        )
        for i in range(keys)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def measure(base: str, bodies: Path, *, rate: float, seconds: float, connections: int = 8) -> Window:
    """POST the bodies round robin to ``/v2/enqueue`` at ``rate`` per second for ``seconds``."""
    args = [sys.executable, "-m", "bench.loadgen", "--url", f"{base}/v2/enqueue", "--bodies", str(bodies)]
    args += ["--rate", str(rate), "--seconds", str(seconds), "--connections", str(connections)]
    done = subprocess.run(
        args, cwd=REPO, capture_output=True, text=True, timeout=seconds * 4 + 60, check=True
    )
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return Window(data["requests"], data["ok"], data["statuses"], data["p50_ms"], data["p99_ms"])
