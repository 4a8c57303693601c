"""Reaching phones: page decided → first delivery per channel, and page → ack through each path.

The far ends are the local stand-ins the tests use (``tests/standins``: ntfy's JSON publish API,
Twilio's Messages/Calls API driven by the official ``twilio`` client) and an aiosmtpd server; the
sender is the real engine processor with the real channels, on SQLite, with the system clock.

* **decided → delivered**: INCIDENTS pages, each to one person whose rules send push, SMS, a call
  and an email at once; per channel, the time from the page's row being committed (``created_at``)
  to its delivery being recorded (``sent_at``), p50/p99.
* **page → ack**: for each way back — the one-tap link, an SMS reply, a voice keypress, the push
  notification's http action — the time from the page being decided to the incident being
  acknowledged when the person acts the moment the message arrives: what commandpost adds to a
  person's reaction time.

    .venv/bin/python -m bench.reach
"""

from __future__ import annotations

import io
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.alert_support import free_port
from tests.standins import twilio as twilio_standin
from tests.standins.ntfy import start_ntfy

from commandpost.app import create_app
from commandpost.clock import SystemClock
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.incidents import service as incidents_service
from commandpost.incidents.models import Incident
from commandpost.notify.channels import Channels
from commandpost.notify.sender import NotificationSender
from commandpost.paging.processors import EscalationsDue
from commandpost.policy import service as policy_service
from commandpost.settings import Settings
from commandpost.wiring import wire

REPO = Path(__file__).resolve().parent.parent
INCIDENTS = 40
ACK_ROUNDS = 10
TARGET_P99_SECONDS = 2.0  # a page on a phone within 2 s of the decision (the engine wakes on commit)
PHONE, OURS = "+819012345678", "+15017122661"
Row = tuple[str, str, str, bool]
NOTES = """
**reach**: one process runs the engine's escalation and sender passes back to back with the system
clock (as `serve`'s engine does when woken); the far ends are the tests' ntfy and Twilio stand-ins
(threads in the same process, so their time is counted too) and an aiosmtpd server. "page → ack"
acts the instant the message reaches the stand-in: it is commandpost's share of a person's time to
acknowledge, not the person's.
"""


class _Sink:
    """An SMTP server's mailbox that notes when each message arrived."""

    def __init__(self) -> None:
        self.at: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.at.append(time.perf_counter())
        return "250 OK"


def _arrived(ntfy: Any, twilio: Any, smtp: _Sink) -> dict[str, list[float]]:
    """When each message reached its far end, per channel, in arrival order."""
    return {
        "push": [r.at for r in list(ntfy.received) if r.method == "POST"],
        "sms": [r.at for r in twilio.to("Messages")],
        "voice": [r.at for r in twilio.to("Calls")],
        "email": list(smtp.at),
    }


def _ops(folder: Path) -> Path:
    ops = folder / "ops"
    shutil.copytree(REPO / "examples" / "ops", ops)
    people = yaml.safe_load((ops / "people.yaml").read_text())
    for person in people["people"]:
        person["contact"] = {
            "ntfy_topic": f"cp-{person['handle']}-bench",
            "phone": PHONE,
            "email": f"{person['handle']}@example.com",
        }
        person.pop("notify", None)
        person["notification_rules"] = {"high": [{"methods": ["push", "sms", "voice", "email"]}]}
    (ops / "people.yaml").write_text(yaml.safe_dump(people, sort_keys=False))
    return ops


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> list[Row]:
    wire(Settings())
    rows: list[Row] = []
    ntfy, twilio = start_ntfy(), twilio_standin.start()
    smtp_port = free_port()
    smtp_box = _Sink()
    smtp = Controller(smtp_box, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        settings = Settings(
            database_url=url,
            engine_enabled=False,
            public_url="http://testserver",
            link_secret=SecretStr("bench"),
            ntfy_url=ntfy.url,
            outbound_allowlist=["127.0.0.1"],
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=SecretStr(twilio.auth_token),
            twilio_from=OURS,
            twilio_api_url=twilio.url,
            sms_providers=["twilio"],
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
        )
        sessions = make_session_factory(engine)
        clock = SystemClock()
        with transaction(sessions) as s:
            policy_service.apply_folder(s, path=_ops(Path(tmp)), now=clock.now(), actor="bench")
        sender = NotificationSender(
            settings, channels=Channels(settings, console_stream=io.StringIO()), owner="b"
        )
        esc = EscalationsDue(settings)

        def engine_pass() -> None:
            with transaction(sessions) as s:
                esc.run(s, clock.now())
                sender.run(s, clock.now())

        def page(n: int) -> int:
            with transaction(sessions) as s:
                incident, _ = incidents_service.open_or_attach(
                    s, service="payment-platform", severity="SEV2", title=f"bench {n}", group_key=f"b{n}",
                    impact_started_at=None, detected_at=None, runbook=None, no_runbook=True,
                    source_summary="bench", now=clock.now(),
                )  # fmt: skip
                return incident.id

        try:
            arrivals: dict[str, list[float]] = {c: [] for c in ("push", "sms", "voice", "email")}
            for n in range(INCIDENTS):
                page(n)
                with transaction(sessions) as s:  # the page is decided: its rows are committed
                    esc.run(s, clock.now())
                decided = time.perf_counter()
                seen = {c: len(v) for c, v in _arrived(ntfy, twilio, smtp_box).items()}
                with transaction(sessions) as s:
                    sender.run(s, clock.now())
                sender.drain()
                for channel, times in _arrived(ntfy, twilio, smtp_box).items():
                    arrivals[channel] += [t - decided for t in times[seen[channel] :]]
            for channel, times in arrivals.items():
                ok = len(times) == INCIDENTS and _pct(times, 0.99) <= TARGET_P99_SECONDS
                rows.append(
                    (
                        f"page decided → at the far end, {channel} ({len(times)}/{INCIDENTS})",
                        f"p99 ≤ {TARGET_P99_SECONDS:g} s",
                        f"p50 {_pct(times, 0.5) * 1000:.1f} ms, p99 {_pct(times, 0.99) * 1000:.1f} ms"
                        if times
                        else "none",
                        ok,
                    )
                )
            app = create_app(settings, clock=clock, engine=engine, run_engine=False)
            with TestClient(app, raise_server_exceptions=False) as client:
                rows += _acks(client, sessions, page, engine_pass, sender, ntfy, twilio)
        finally:
            sender.close()
            engine.dispose()
    smtp.stop()
    ntfy.close()
    twilio_standin.stop(twilio)
    return rows


def _acks(  # type: ignore[no-untyped-def]
    client: TestClient, sessions, page: Callable[[int], int], engine_pass, sender, ntfy, twilio
) -> list[Row]:
    """Page, act at once through one path, until acknowledged: the seconds from decision to ack."""

    def link(n: int) -> None:
        body = twilio.to("Messages")[-1].get("Body") or ""
        client.post(re.search(r"(http://testserver/a/\S+)", body).group(1))  # type: ignore[union-attr]

    def sms(n: int) -> None:
        body = twilio.to("Messages")[-1].get("Body") or ""
        code = re.search(r"Reply (\d{4})", body).group(1)  # type: ignore[union-attr]
        twilio.inbound_sms(
            "http://testserver/hooks/twilio/sms", sender=PHONE, to=OURS, body=code, send=client.post
        )

    def voice(n: int) -> None:
        call = twilio.to("Calls")[-1]
        action = re.search(r'action="([^"]+)"', call.get("Twiml") or "").group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        sid = next(sid for sid, r in twilio.created.items() if r is call)
        twilio.gather(action, sid, "1", send=client.post)

    def push(n: int) -> None:
        messages = [m for h in ("yuta", "hana", "ken", "mei") for m in ntfy.poll(f"cp-{h}-bench", None)]
        mine = next(m for m in messages if m.get("title", "").endswith(f"bench {n}"))
        client.post(next(a["url"] for a in mine["actions"] if a["label"] == "Acknowledge"))

    rows: list[Row] = []
    start = 10_000
    for name, act in (("link", link), ("SMS reply", sms), ("voice keypress", voice), ("push action", push)):
        took: list[float] = []
        for _ in range(ACK_ROUNDS):
            began = time.perf_counter()
            incident_id = page(start)
            engine_pass()
            sender.drain()
            act(start)
            start += 1
            took.append(time.perf_counter() - began)
            with sessions() as s:
                assert s.get(Incident, incident_id).acknowledged_at is not None, f"{name}: not acknowledged"  # type: ignore[union-attr]
        rows.append(
            (
                f"page → ack via {name} (acting at once, {ACK_ROUNDS}×)",
                f"p50 ≤ {TARGET_P99_SECONDS:g} s",
                f"p50 {statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms",
                statistics.median(took) <= TARGET_P99_SECONDS,
            )
        )
    return rows


def main() -> None:
    for row in run():
        print(" | ".join(str(c) for c in row))


if __name__ == "__main__":
    main()
