"""Check 10, SSRF: a real server's sender is handed webhooks to addresses it must refuse — 127.0.0.1 (not
allowlisted), the cloud metadata address 169.254.169.254, 10.0.0.1, ``file://`` — and webhooks to an
allowlisted sink that redirects to each of them.

The messages are queued in the outbox exactly as paging queues them; the server's engine sends.
The allowlisted sink listens on 127.0.0.2 (allowlist ``127.0.0.2``), so 127.0.0.1 is "loopback, not
allowlisted". Every refused message must be a dead letter after one attempt, the sinks must see
nothing but the first hop of each redirect, and the guard the server runs under
(:mod:`reliability.guarded`) must have seen no attempt to connect to or resolve anything off
loopback. A message to the allowlisted sink is the control.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from tests.integration.notify_sink import Sink, _Handler, stop_sink

from commandpost.db.engine import transaction
from commandpost.notify import service as notify_service
from commandpost.notify.models import DEAD, DELIVERED, OutgoingMessage
from reliability.figures import Figure, equals
from reliability.stack import engine_of, quiet_errors, sessions_of, stack, wait_until

FORBIDDEN = {
    "loopback-not-allowlisted": "http://127.0.0.1:{port}/direct",
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "private": "http://10.0.0.1/hook",
    "file": "file:///etc/passwd",
}


def start_sink_on(host: str) -> Sink:
    """:func:`tests.integration.notify_sink.start_sink` on another loopback address."""
    handler = type("Handler", (_Handler,), {})
    sink = Sink(ThreadingHTTPServer((host, 0), handler))
    sink.server.daemon_threads = True
    handler.sink = sink  # type: ignore[attr-defined]
    sink.server.handle_error = quiet_errors  # type: ignore[method-assign]
    threading.Thread(target=sink.server.serve_forever, name="ssrf-sink", daemon=True).start()
    return sink


def run(backend: str = "sqlite") -> list[Figure]:
    check = f"10 SSRF ({backend})"
    allowed = start_sink_on("127.0.0.2")
    allowed_url = f"http://127.0.0.2:{allowed.server.server_address[1]}"
    try:
        with stack(backend) as env:
            port = env.sink.server.server_address[1]
            targets = {name: url.format(port=port) for name, url in FORBIDDEN.items()}
            for name, url in list(targets.items()):
                allowed.script(f"/redirect/{name}", (302, {"Location": url}))
                targets[f"redirect-to-{name}"] = f"{allowed_url}/redirect/{name}"
            targets["control"] = f"{allowed_url}/control"
            with sessions_of(env.url) as sessions, transaction(sessions) as s:
                for name, url in targets.items():
                    notify_service.enqueue(
                        s, key=f"ssrf/{name}", channel="webhook", destination=url, subject=f"ssrf {name}",
                        body="must not leave", severity="SEV1", incident_id=None, person="yuta",
                        now=datetime.now(UTC),
                    )  # fmt: skip
            server = env.server("ssrf", env={"COMMANDPOST_OUTBOUND_ALLOWLIST": "127.0.0.2"})
            with engine_of(env.url) as engine:

                def settled() -> list[Any]:
                    with engine.connect() as conn:
                        return list(
                            conn.execute(select(OutgoingMessage).where(OutgoingMessage.key.like("ssrf/%")))
                        )

                wait_until(lambda: all(m.status in (DEAD, DELIVERED) for m in settled()), 60)
                rows = {m.key.removeprefix("ssrf/"): m for m in settled()}
            attempts = server.outbound_attempts()
            direct_hits = len(env.sink.received)
    finally:
        stop_sink(allowed)
    refused = [n for n in targets if n != "control" and rows[n].status == DEAD and rows[n].attempts == 1]
    hops = {r.path for r in allowed.received}
    unexpected_hops = sorted(hops - {f"/redirect/{n}" for n in FORBIDDEN} - {"/control"})
    reasons = "; ".join(f"{n}: {(rows[n].last_error or '')[:90]}" for n in sorted(targets) if n != "control")
    return [
        equals(check, "forbidden webhooks refused (dead after 1 attempt)", len(refused), len(targets) - 1,
               note=reasons),
        equals(check, "requests reaching 127.0.0.1 (not allowlisted)", direct_hits, 0),
        equals(check, "requests past a redirect", len(unexpected_hops), 0, note=", ".join(unexpected_hops)),
        equals(check, "connections or lookups attempted off loopback", len(attempts), 0,
               note="; ".join(attempts[:5])),
        equals(check, "allowlisted webhook delivered (control)", rows["control"].status, DELIVERED),
    ]  # fmt: skip
