"""Check 9, secrets: one sample of every redaction kind (the corpus of ``tests/unit/test_redact.py``) is sent
through a real server in every free-text place — alert payloads (summary, details, labels; generic JSON
and PagerDuty), timeline notes, comms, runbook step notes, postmortem sections and action items — and
then searched for, raw, in a dump of every table, in the server's log, and in every notification the
sink received (webhook bodies; the console channel writes to the log).

The control: the ``[REDACTED:`` marker must appear in the dump, or nothing was stored to search.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from tests.unit.test_redact import CORPUS

from commandpost.db.base import Base
from reliability.figures import Figure, at_least, equals
from reliability.stack import engine_of, stack, wait_until


def _secrets() -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f"{kind}-{i}", text, raw) for i, (kind, text, raw) in enumerate(CORPUS)]


def _ok(answer: httpx.Response, where: str, failures: list[str]) -> Any:
    if answer.status_code >= 300:
        failures.append(f"{where}: {answer.status_code} {answer.text[:400]}")
        return None
    return answer.json()


def _place(client: httpx.Client, keys: dict[str, str], failures: list[str]) -> int:
    """Every sample in every place; returns how many requests carried one."""
    placed = 0
    samples = _secrets()
    generic = f"/api/v1/intake/generic/{keys['generic']}"
    for name, text, _raw in samples:
        event = {
            "dedup_key": f"secret/{name}",
            "alertname": "DBConnectionsExhausted",
            "summary": f"secret sample {name}: {text}",
            "labels": {"sample": name, "log": text},  # grouped by sample: each is paged on its own incident
            "details": {"log": text, "nested": {"line": text}},
        }
        _ok(client.post(generic, json=event), f"generic alert {name}", failures)
        pd = {
            "routing_key": keys["pagerduty"],
            "event_action": "trigger",
            "dedup_key": f"pd-secret/{name}",
            "payload": {"summary": f"pd sample {name}: {text}", "source": "db-1", "severity": "warning",
                        "custom_details": {"log": text}},
        }  # fmt: skip
        _ok(client.post("/v2/enqueue", json=pd), f"pagerduty alert {name}", failures)
        placed += 2
    declared = _ok(
        client.post(
            "/api/v1/incidents",
            json={"title": "secrets drill", "severity": "SEV2", "service": "payment-platform"},
        ),
        "declare",
        failures,
    )
    if declared is None:
        return placed
    number = declared["number"]
    base = f"/api/v1/incidents/{number}"
    _ok(
        client.post(f"{base}/runbooks", json={"slug": "db-connection-exhaustion"}), "attach runbook", failures
    )
    steps = [
        step["id"]
        for attachment in client.get(f"{base}/runbooks").json()
        for section in attachment.get("sections", [])
        for step in section.get("steps", [])
    ]
    for i, (name, text, _raw) in enumerate(samples):
        _ok(
            client.post(f"{base}/timeline", json={"kind": "note", "text": f"{name}: {text}"}),
            f"note {name}",
            failures,
        )
        _ok(
            client.post(f"{base}/comms", json={"kind": "update", "body": f"{name}: {text}"}),
            f"comms {name}",
            failures,
        )
        placed += 2
        if steps:
            step = steps[i % len(steps)]
            mark = {"state": "skipped", "note": f"{name}: {text}"}
            answer = client.post(f"{base}/runbooks/db-connection-exhaustion/steps/{step}", json=mark)
            if answer.status_code == 200:
                placed += 1
    _ok(client.post(f"{base}/status", json={"status": "resolved"}), "resolve", failures)
    pm = _ok(client.post(f"/api/v1/postmortems/{number}"), "start postmortem", failures)
    if pm is not None:
        names = list(pm.get("sections", {}))
        sections = {names[i % len(names)]: "" for i in range(len(samples))} if names else {}
        for i, (name, text, _raw) in enumerate(samples):
            if names:
                sections[names[i % len(names)]] += f"\n\n{name}: {text}"
        _ok(
            client.patch(f"/api/v1/postmortems/{number}", json={"sections": sections}),
            "postmortem sections",
            failures,
        )
        due = (date.today() + timedelta(days=30)).isoformat()
        for name, text, _raw in samples:
            item = {
                "title": f"rotate {name}: {text}",
                "type": "process",
                "owner": "yuta",
                "due": due,
                "ticket": "OPS-1",
            }
            _ok(
                client.post(f"/api/v1/postmortems/{number}/action-items", json=item),
                f"action item {name}",
                failures,
            )
        placed += 2 * len(samples)
    return placed


def _dump(url: str) -> str:
    """Every row of every table as text."""
    parts: list[str] = []
    with engine_of(url) as engine, engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def _found(text: str) -> list[str]:
    return [name for name, _text, raw in _secrets() if any(r in text for r in raw)]


def _group_by_sample(service: dict[str, Any]) -> None:
    for rule in service["alert_rules"]:
        rule["group_by"] = ["sample"]


def run(backend: str = "sqlite") -> list[Figure]:
    check = f"9 secrets ({backend})"
    failures: list[str] = []
    with stack(backend, edits={"services/payment-platform.yaml": _group_by_sample}) as env:
        server = env.server("secrets", env={"COMMANDPOST_LOG_LEVEL": "INFO"})
        headers = {"Authorization": f"Bearer {env.token('admin')}"}
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
            placed = _place(client, env.keys(), failures)
        wait_until(lambda: sum("/hook/" in r.path for r in env.sink.received) >= len(CORPUS), 60)
        server.stop()  # flush its log
        dump = _dump(env.url)
        log = server.log_text()
        with env.sink.lock:
            sent = "\n".join(r.body.decode(errors="replace") + str(r.headers) for r in env.sink.received)
            notifications = len(env.sink.received)
    in_db, in_log, in_sent = _found(dump), _found(log), _found(sent)
    return [
        at_least(
            check, "samples placed through the API", placed, 5 * len(CORPUS), note=f"{len(CORPUS)} kinds"
        ),
        equals(check, "requests refused while placing", len(failures), 0, note="; ".join(failures[:5])),
        at_least(check, "redaction markers in the dump (control)", dump.count("[REDACTED:"), len(CORPUS)),
        equals(check, "raw secrets in the database dump", len(in_db), 0, note=", ".join(in_db[:8])),
        equals(check, "raw secrets in the server log", len(in_log), 0, note=", ".join(in_log[:8])),
        at_least(check, "notifications captured", notifications, len(CORPUS)),
        equals(check, "raw secrets in notifications", len(in_sent), 0, note=", ".join(in_sent[:8])),
    ]
