"""Check 2, dedup race: one dedup key × N PagerDuty events over 50 connections against two ``serve``
replicas (engines on) sharing one database: one alert with count N, one incident, one page.

The first triggers really race across processes; only the unique constraint on the open dedup key
keeps them to one alert, and the idempotency key of the page keeps two engines to one page.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import orjson
from sqlalchemy import select
from tests.integration.notify_sink import Sink

from commandpost.alerts.models import Alert
from commandpost.incidents.models import Incident
from commandpost.notify.models import DELIVERED, OutgoingMessage
from reliability.client import Outcome, send_steadily
from reliability.figures import Figure, equals
from reliability.stack import engine_of, stack, wait_until

CONNECTIONS = 50


def run(backends: tuple[str, ...] = ("postgresql",), count: int = 1000) -> list[Figure]:
    figures: list[Figure] = []
    for backend in backends:
        figures += _one(backend, count)
    return figures


def _page_receipts(sink: Sink) -> Counter[str]:
    with sink.lock:
        return Counter(
            r.headers.get("Commandpost-Idempotency-Key", "")
            for r in sink.received
            if r.headers.get("Commandpost-Idempotency-Key", "").startswith("page/")
        )


def _one(backend: str, count: int) -> list[Figure]:
    check = f"2 dedup race ({backend}, 2 replicas)"
    with stack(backend) as env:
        replicas = [env.server("replica-a"), env.server("replica-b")]
        body = orjson.dumps(
            {
                "routing_key": env.keys()["pagerduty"],
                "event_action": "trigger",
                "dedup_key": "payments-db/connections",
                "payload": {
                    "summary": "DB connections exhausted",
                    "source": "payments-db-1",
                    "severity": "critical",
                    "custom_details": {"alertname": "DBConnectionsExhausted"},
                },
            }
        )
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def send(base: str, n: int) -> None:
            got = send_steadily(base, [("/v2/enqueue", body)] * n, rate=1e9, connections=CONNECTIONS // 2)
            with lock:
                outcomes.extend(got)

        threads = [
            threading.Thread(target=send, args=(r.base, count // 2 + (count % 2) * (i == 0)))
            for i, r in enumerate(replicas)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine_of(env.url) as engine:

            def pages() -> list[Any]:
                query = select(OutgoingMessage).where(OutgoingMessage.key.like("page/%"))
                with engine.connect() as conn:
                    return list(conn.execute(query))

            wait_until(lambda: bool(pages()) and all(m.status == DELIVERED for m in pages()), 60)
            wait_until(lambda: len(_page_receipts(env.sink)) >= 1, 10)
            with engine.connect() as conn:
                alerts = conn.execute(select(Alert.count.label("n"), Alert.status)).all()
                incidents = conn.execute(select(Incident.number)).all()
            queued = pages()
        received = _page_receipts(env.sink)
        attempts = Counter(o.attempts for o in outcomes)
    answered = sum(1 for o in outcomes if o.ok)
    webhook_pages = sorted({m.key for m in queued if m.channel == "webhook"})
    return [
        equals(check, "events answered 2xx", answered, count, note=f"tries per event {dict(attempts)}"),
        equals(check, "alerts", len(alerts), 1),
        equals(check, "alert count", alerts[0].n if alerts else 0, count),
        equals(check, "incidents", len(incidents), 1),
        equals(check, "pages queued (webhook)", len(webhook_pages), 1, note=f"{len(queued)} with console"),
        equals(check, "pages received by the sink", sum(received.values()), 1),
    ]
