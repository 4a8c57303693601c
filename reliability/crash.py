"""Check 1, crash durability: events at a steady rate while the server is SIGKILLed and restarted at random
points; the client retries each event until it gets a 2xx.

Events are generic-JSON alerts, each with its own ``idempotency_key`` (a retry of a delivery that
did commit changes nothing), over a fixed set of dedup keys and three alert names: two page (SEV1,
SEV2 by the example rules, grouped by alert name) and one does not (SEV3). So the database must end
with: every 2xx delivery stored once, alert counts adding up to exactly the stored deliveries, one
open alert per dedup key, and two incidents holding exactly the paging alerts.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import orjson
from sqlalchemy import func, select

from commandpost.alerts.models import Alert, AlertEvent
from commandpost.incidents.models import Incident
from reliability.client import Outcome, send_steadily
from reliability.figures import Figure, at_most, equals
from reliability.stack import BACKENDS, engine_of, stack

ALERTNAMES = ("DBConnectionsExhausted", "WebhookBacklogHigh", "QueueLagHigh")  # SEV1, SEV2, SEV3 (default)
PAGING = frozenset(ALERTNAMES[:2])


def events(count: int, keys: int) -> list[dict[str, object]]:
    return [
        {
            "dedup_key": f"crash-{i % keys}",
            "alertname": ALERTNAMES[(i % keys) % 3],
            "summary": f"crash durability event {i}",
            "idempotency_key": f"event-{i}",
        }
        for i in range(count)
    ]


def run(
    backends: tuple[str, ...] = BACKENDS,
    count: int = 10_000,
    kills: int = 5,
    rate: float = 250.0,
    keys: int = 300,
    seed: int | None = None,
) -> list[Figure]:
    figures: list[Figure] = []
    for backend in backends:
        figures += _one(backend, count, kills, rate, keys, random.Random(seed))
    return figures


def _one(backend: str, count: int, kills: int, rate: float, keys: int, rand: random.Random) -> list[Figure]:
    check = f"1 crash durability ({backend})"
    sent = events(count, keys)
    with stack(backend) as env:
        server = env.server()
        path = f"/api/v1/intake/generic/{env.keys()['generic']}"
        items = [(path, orjson.dumps(e)) for e in sent]
        outcomes: list[Outcome] = []
        sender = threading.Thread(
            target=lambda: outcomes.extend(send_steadily(server.base, items, rate=rate, max_seconds=900))
        )
        duration = count / rate
        points = sorted(rand.uniform(0.1, 0.9) * duration for _ in range(kills))
        started = time.monotonic()
        sender.start()
        restarts: list[float] = []
        for point in points:
            time.sleep(max(0.0, started + point - time.monotonic()))
            server.kill()
            time.sleep(rand.uniform(0.0, 0.5))
            restarts.append(server.start())
        sender.join()
        with engine_of(env.url) as engine, engine.connect() as conn:
            stored = set(conn.scalars(select(AlertEvent.idempotency_key)))
            alerts = conn.execute(
                select(
                    Alert.dedup_key,
                    Alert.alertname,
                    Alert.status,
                    Alert.count.label("n"),
                    Alert.incident_number,
                )
            ).all()
            incidents = int(conn.scalar(select(func.count()).select_from(Incident)) or 0)
        answered = {e["idempotency_key"] for e, o in zip(sent, outcomes, strict=True) if o.ok}
        retried = sum(1 for o in outcomes if o.attempts > 1)
        open_keys = Counter(a.dedup_key for a in alerts if a.status == "triggered")
        misrouted = sum(1 for a in alerts if (a.alertname in PAGING) != (a.incident_number is not None))
    statuses = Counter(s for o in outcomes for s in o.statuses)
    note = f"{kills} SIGKILLs, restarts took {', '.join(f'{s:.1f}' for s in restarts)} s"
    return [
        equals(check, "events answered 2xx", len(answered), count, note=note),
        equals(check, "2xx events not stored", len(answered - stored), 0, note=f"{retried} events retried"),
        equals(check, "alert counts − stored deliveries", sum(a.n for a in alerts) - len(stored), 0),
        equals(check, "open alerts", len(open_keys), keys, note="one per distinct dedup key"),
        at_most(check, "dedup keys with >1 open alert", sum(1 for n in open_keys.values() if n > 1), 0),
        equals(check, "incidents", incidents, 2, note="SEV1 + SEV2 groups; SEV3 pages nobody"),
        equals(check, "alerts routed against the rules", misrouted, 0),
        Figure(check, "answers seen", dict(sorted(statuses.items())), "2xx, or retried", True),
    ]
