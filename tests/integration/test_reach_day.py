"""A day (24 hours) of pages reaching phones (issue 16): two people with different rules and timezones, the
real sender and channels against local ntfy and Twilio stand-ins (driven by the official ``twilio``
client), a frozen clock moved to every due time. The exact list of messages until each ack —
including the fall-through when a number is unsubscribed — and acks by SMS reply, push action,
voice keypress and link, each said on the timeline with how it came. Both databases."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from commandpost.app import create_app
from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.metrics import oncall_health
from commandpost.notify.channels import Channels
from commandpost.notify.models import OutgoingMessage
from commandpost.notify.sender import NotificationSender
from commandpost.policy import service as policy_service
from commandpost.settings import Settings
from tests.paging_support import act, apply, open_alert, ops_variant, processor
from tests.standins import twilio as twilio_standin
from tests.standins.ntfy import start_ntfy

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 28, 12, 0, tzinfo=UTC)  # Sunday 21:00 JST: yuta primary, hana secondary
M = timedelta(minutes=1)
YUTA, HANA, OURS = "+819012345678", "+819087654321", "+15017122661"
PUBLIC = "http://testserver"


def people(data: dict[str, Any]) -> None:
    by = {p["handle"]: p for p in data["people"]}
    for person in data["people"]:
        person["contact"] = {}
        person.pop("notify", None)
    by["yuta"].update(
        timezone="Europe/Berlin",
        contact={"ntfy_topic": "cp-yuta-7f3k", "phone": YUTA},
        notification_rules={
            "high": [
                {"after": "0m", "methods": ["push"]},
                {"after": "2m", "methods": ["sms"]},
                {"after": "5m", "methods": ["voice"]},
            ]
        },
    )
    by["hana"].update(
        contact={"phone": HANA},
        notification_rules={"high": [{"methods": ["sms"]}, {"after": "3m", "methods": ["voice"]}]},
    )


@pytest.fixture
def world(db_url, sessions, clock, engine, tmp_path):  # type: ignore[no-untyped-def]
    twilio = twilio_standin.start()
    ntfy = start_ntfy()
    settings = Settings(
        database_url=db_url,
        engine_enabled=False,
        public_url=PUBLIC,
        link_secret=SecretStr("a-day-of-pages"),
        ntfy_url=ntfy.url,
        outbound_allowlist=["127.0.0.1"],
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=SecretStr(twilio.auth_token),
        twilio_from=OURS,
        twilio_api_url=twilio.url,
        sms_providers=["twilio"],
        notify_backoff_base_seconds=5.0,
    )
    clock.set(T0 - timedelta(hours=1))
    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": people}))
    sender = NotificationSender(
        settings, channels=Channels(settings, console_stream=io.StringIO()), owner="s"
    )
    app = create_app(settings, clock=clock, engine=engine, run_engine=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield {"twilio": twilio, "ntfy": ntfy, "sender": sender, "client": client}
    sender.close()
    twilio_standin.stop(twilio)
    ntfy.close()


def run(sessions, clock, sender, until: datetime) -> None:  # type: ignore[no-untyped-def]
    """The engine's passes (escalation, then the sender) at every due time up to ``until``."""
    esc = processor()
    while True:
        with transaction(sessions) as s:
            esc.run(s, clock.now())
            sender.run(s, clock.now())
        sender.drain()
        with sessions() as s:
            dues = [d for d in (esc.next_due(s, clock.now()), sender.next_due(s, clock.now())) if d]
        nxt = min(dues) if dues else None
        if nxt is None or nxt > until:
            break
        clock.set(max(nxt, clock.now() + timedelta(milliseconds=1)))
    clock.set(until)


def outbox(session, number: int) -> list[tuple[timedelta, str, str, str]]:  # type: ignore[no-untyped-def]
    """(due after the incident opened, person, method, status) of an incident's pages."""
    session.rollback()
    incident = session.scalars(select(Incident).where(Incident.number == number)).one()
    rows = session.scalars(
        select(OutgoingMessage)
        .where(OutgoingMessage.incident_id == incident.id, OutgoingMessage.channel != "console")
        .order_by(OutgoingMessage.due_at, OutgoingMessage.id)
    )
    return [(m.due_at - incident.detected_at, m.person or "", m.channel, m.status) for m in rows]


def acks(session) -> list[str]:  # type: ignore[no-untyped-def]
    session.rollback()
    return [
        e.text
        for e in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))
        if " acknowledged by " in e.text
    ]


def test_a_day_of_pages_to_phones(world, sessions, session, clock):  # type: ignore[no-untyped-def]
    twilio, ntfy, sender, client = world["twilio"], world["ntfy"], world["sender"], world["client"]

    def open_at(when: datetime, n: int) -> None:
        run(sessions, clock, sender, when)
        act(
            sessions,
            lambda s: open_alert(s, severity="SEV2", title=f"Webhook backlog {n}", now=when, group=f"g{n}"),
        )

    # INC-1: the push at 21:00 JST goes unanswered; the SMS at +2m is answered "ack <code>" at +3m.
    open_at(T0, 1)
    run(sessions, clock, sender, T0 + 2 * M)
    sms = twilio.to("Messages")
    assert [r.get("To") for r in sms] == [YUTA]
    text = sms[0].get("Body") or ""
    code = re.search(r"\b(\d{4})\b", text.split("Reply")[-1]).group(1)  # type: ignore[union-attr]
    assert (
        text.startswith("SEV2 INC-1 payment-platform: Webhook backlog 1")
        and f"Reply {code} to ack" in text
        and f"{PUBLIC}/a/a." in text
    )
    clock.set(T0 + 3 * M)
    answer = twilio.inbound_sms(
        f"{PUBLIC}/hooks/twilio/sms", sender=YUTA, to=OURS, body=f"ACK {code}", send=client.post
    )
    assert answer.status_code == 200 and "INC-1 acknowledged by @yuta" in answer.text
    run(sessions, clock, sender, T0 + 30 * M)
    assert outbox(session, 1) == [
        (0 * M, "yuta", "push", "delivered"),
        (2 * M, "yuta", "sms", "delivered"),
        (5 * M, "yuta", "voice", "cancelled"),  # acknowledged before the call was due
    ]
    push = ntfy.poll("cp-yuta-7f3k", None)
    assert [p["priority"] for p in push] == [5]
    assert "Next: secondary_oncall at 14:15 CEST [21:15 JST] unless acknowledged" in push[0]["message"]

    # INC-2: yuta taps Acknowledge on the push notification (ntfy's http action POSTs the link) at +1m.
    open_at(T0 + 1 * 60 * M, 2)
    run(sessions, clock, sender, T0 + 61 * M)
    action = next(a for a in ntfy.poll("cp-yuta-7f3k", None)[-1]["actions"] if a["label"] == "Acknowledge")
    assert action["action"] == "http" and action["method"] == "POST"
    assert client.post(action["url"]).status_code == 200
    run(sessions, clock, sender, T0 + 90 * M)
    assert outbox(session, 2) == [
        (0 * M, "yuta", "push", "delivered"),
        (2 * M, "yuta", "sms", "cancelled"),
        (5 * M, "yuta", "voice", "cancelled"),
    ]

    # INC-3: yuta answers nothing, not even the call; at +15m hana's SMS is refused (she replied STOP to
    # our number once): her call falls through to +15m instead of +18m; she presses 1.
    twilio.script("Messages", "ok", 21610)  # yuta's SMS goes out, hana's is refused
    open_at(T0 + 2 * 60 * M, 3)
    run(sessions, clock, sender, T0 + 135 * M + timedelta(seconds=1))
    calls = twilio.to("Calls")
    assert [c.get("To") for c in calls] == [YUTA, HANA]
    gather = re.search(r'action="([^"]+)"', calls[-1].get("Twiml") or "").group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    sid = next(sid for sid, r in twilio.created.items() if r is calls[-1])
    clock.set(T0 + 136 * M)
    said = twilio.gather(gather, sid, "1", send=client.post)
    assert said.status_code == 200 and "acknowledged" in said.text.lower()
    run(sessions, clock, sender, T0 + 170 * M)
    assert outbox(session, 3) == [
        (0 * M, "yuta", "push", "delivered"),
        (2 * M, "yuta", "sms", "delivered"),
        (5 * M, "yuta", "voice", "delivered"),
        (15 * M, "hana", "sms", "dead"),
        (15 * M, "hana", "voice", "delivered"),  # fell through from +18m
    ]
    with sessions() as s:
        dead = s.scalars(select(OutgoingMessage).where(OutgoingMessage.status == "dead")).one()
        assert "21610" in (dead.last_error or "")

    # INC-4: the link in yuta's SMS, opened (GET: a link scanner, nothing happens), then confirmed.
    open_at(T0 + 4 * 60 * M, 4)
    run(sessions, clock, sender, T0 + 242 * M)
    link = re.search(rf"({re.escape(PUBLIC)}/a/\S+)", twilio.to("Messages")[-1].get("Body") or "").group(1)  # type: ignore[union-attr]
    assert client.get(link).status_code == 200
    assert acks(session)[-1].startswith("INC-3")
    clock.set(T0 + 243 * M)
    assert client.post(link).status_code == 200
    assert "already acknowledged by @yuta" in client.post(link).text

    # The rest of the day: nothing more about any of them (the Monday 10:00 JST handoff notices are
    # not pages, and the acknowledged incidents page nobody again).
    run(sessions, clock, sender, T0 + timedelta(hours=24))
    assert outbox(session, 4) == [
        (0 * M, "yuta", "push", "delivered"),
        (2 * M, "yuta", "sms", "delivered"),
        (5 * M, "yuta", "voice", "cancelled"),
    ]
    with sessions() as s:
        pages = s.scalars(select(OutgoingMessage).where(OutgoingMessage.key.like("page/%"))).all()
        assert len([m for m in pages if m.channel != "console"]) == 3 + 3 + 5 + 3
        assert {m.status for m in pages} == {"delivered", "cancelled", "dead"}
    assert acks(session) == [
        "INC-1 acknowledged by @yuta via SMS",
        "INC-2 acknowledged by @yuta via push",
        "INC-3 acknowledged by @hana via voice",
        "INC-4 acknowledged by @yuta via SMS",
    ]

    # On-call health says through which method each page was acknowledged, and how fast.
    with sessions() as s:
        config = policy_service.current_config(s)
        health = oncall_health.health(
            s, config=config, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=6)
        )
    by = {p["person"]: p["acknowledged_via"] for p in health["people"]}
    assert by["yuta"] == {
        "SMS": {"acknowledged": 2, "median_seconds_to_ack": 180.0, "timed": 2},
        "push": {"acknowledged": 1, "median_seconds_to_ack": 60.0, "timed": 1},
    }
    assert by["hana"] == {"voice": {"acknowledged": 1, "median_seconds_to_ack": 60.0, "timed": 1}}
    assert health["acknowledged_via"]["SMS"]["acknowledged"] == 2
