"""``/a/<token>``: GET asks and changes nothing (link scanners), POST acts once, a second use says
who, forged/altered/expired tokens get 403 and change nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.notify.models import CANCELLED, OutgoingMessage
from commandpost.security import links
from commandpost.security.links import LinkSigner
from commandpost.security.models import AuditLog
from tests.paging_support import act, apply, open_alert, ops_variant, processor, run_until


@pytest.fixture
def paged(sessions, clock, applied_ops, settings):  # type: ignore[no-untyped-def]
    """INC-1 (SEV2) paged to yuta; returns a function making a link token for one of yuta's messages."""
    now = clock.now()
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Webhook backlog", now=now, group="a"))
    run_until(sessions, clock, now, processor())

    def make(
        channel: str = "email", action: str = "ack", ttl: timedelta = timedelta(hours=1), **over: object
    ) -> str:
        with transaction(sessions) as s:
            message = s.scalars(
                select(OutgoingMessage).where(
                    OutgoingMessage.channel == channel, OutgoingMessage.person == "yuta"
                )
            ).one()
            signer = LinkSigner(links.key(s, settings))
            values = {
                "action": action,
                "message_id": message.id,
                "person": "yuta",
                "incident_id": message.incident_id,
                "expires_at": clock.now() + ttl,
                **over,
            }
            return signer.token(**values)  # type: ignore[arg-type]

    return make


def state(sessions):  # type: ignore[no-untyped-def]
    with sessions() as s:
        incident = s.scalars(select(Incident)).one()
        entries = s.scalar(select(func.count()).select_from(TimelineEntry))
        audits = s.scalar(select(func.count()).select_from(AuditLog))
        return incident.acknowledged_at, incident.acknowledged_by, incident.acknowledged_via, entries, audits


def test_get_asks_post_acts_once_and_a_second_use_says_who(client, sessions, paged, clock):
    token = paged("email")
    before = state(sessions)
    page = client.get(f"/a/{token}")
    assert page.status_code == 200
    assert "Acknowledge INC-1 as @yuta?" in page.text and '<form method="post"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert client.get(f"/a/{token}").status_code == 200
    assert state(sessions) == before  # a link scanner opened it twice: nothing happened

    clock.advance(timedelta(minutes=2))
    done = client.post(f"/a/{token}")
    assert done.status_code == 200
    assert "INC-1 acknowledged by @yuta." in done.text
    at, by, via, entries, audits = state(sessions)
    assert (at, by, via) == (clock.now(), "yuta", "email")
    assert (entries, audits) == (before[3] + 2, before[4] + 1)  # the ack, yuta becomes IC; one audit row
    with sessions() as s:
        texts = [e.text for e in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
        assert "INC-1 acknowledged by @yuta via email" in texts
        audit = s.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert (audit.actor, audit.action, audit.target, audit.details) == (
            "yuta",
            "page.ack",
            "incident:INC-1",
            {"via": "email"},
        )
        assert (
            s.scalars(select(OutgoingMessage.acted).where(OutgoingMessage.channel == "email")).one() == "ack"
        )

    clock.advance(timedelta(minutes=1))
    again = client.post(f"/a/{token}", headers={"Accept": "application/json"})
    assert again.status_code == 200
    assert again.json()["done"] is False and again.json()["by"] == "yuta"
    assert "already acknowledged by @yuta at 12:02 JST" in again.json()["message"]
    assert state(sessions)[3:] == (entries, audits)
    shown = client.get(f"/a/{token}")
    assert "already acknowledged by @yuta" in shown.text and "<form" not in shown.text


def test_times_read_in_the_paged_persons_zone_with_the_incidents_in_brackets(
    client, sessions, paged, clock, tmp_path
):
    """yuta moved to Berlin (people.yaml); the org, and so the incident, stays in Tokyo."""

    def move(data):  # type: ignore[no-untyped-def]
        next(p for p in data["people"] if p["handle"] == "yuta")["timezone"] = "Europe/Berlin"

    def text(path: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).text))

    token = paged("email")  # made at 03:00 UTC, valid an hour
    page = text(f"/a/{token}")
    assert "Opened 12:00 JST on 24 Jun" in page and "until 13:00 JST on 24 Jun" in page  # both in Tokyo
    assert "JST on 24 Jun [" not in page
    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": move}))
    page = text(f"/a/{token}")
    assert "Opened 05:00 CEST on 24 Jun [12:00 JST on 24 Jun]" in page
    assert "until 06:00 CEST on 24 Jun [13:00 JST on 24 Jun]" in page
    clock.advance(timedelta(minutes=2))
    assert "INC-1 acknowledged by @yuta." in client.post(f"/a/{token}").text
    again = client.post(f"/a/{token}", headers={"Accept": "application/json"}).json()["message"]
    assert again == "INC-1 was already acknowledged by @yuta at 05:02 CEST on 24 Jun [12:02 JST on 24 Jun]."
    shown = text(f"/a/{token}")
    assert "already acknowledged by @yuta at 05:02 CEST on 24 Jun [12:02 JST on 24 Jun]" in shown


def test_an_escalate_link_passes_the_page_on(client, sessions, paged, clock):
    token = paged("slack", action="escalate")
    page = client.get(f"/a/{token}")
    assert "Pass INC-1 on to the next level, as @yuta?" in page.text
    done = client.post(f"/a/{token}")
    assert done.status_code == 200 and "INC-1 passed on" in done.text
    with sessions() as s:
        texts = [e.text for e in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
        assert "INC-1: @yuta cannot take it (via Slack) — paging the next level" in texts
        assert any(t.startswith("INC-1: escalated by @yuta") and "@hana" in t for t in texts)
        incident = s.scalars(select(Incident)).one()
        assert incident.acknowledged_at is None  # passing on is not acknowledging


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.replace(".yuta.", ".hana.", 1),
        lambda t: t.replace("a.", "e.", 1),
        lambda t: "x" * 5000,
        lambda t: t + "%00",
        lambda t: t.replace("~", "%0A"),
    ],
)
def test_forged_or_altered_tokens_get_403_and_change_nothing(client, sessions, paged, spoil):
    token = spoil(paged("email"))
    before = state(sessions)
    for method in (client.get, client.post):
        answer = method(f"/a/{token}")
        assert answer.status_code == 403, answer.text
        assert "not valid" in answer.text
    assert state(sessions) == before


def test_an_expired_token_gets_403(client, sessions, paged, clock):
    token = paged("email", ttl=timedelta(minutes=10))
    clock.advance(timedelta(minutes=10))
    before = state(sessions)
    answer = client.post(f"/a/{token}")
    assert answer.status_code == 403 and "expired" in answer.text
    assert state(sessions) == before


def test_a_token_for_another_persons_message_gets_403(client, sessions, paged):
    with sessions() as s:
        other = s.scalars(select(OutgoingMessage).where(OutgoingMessage.channel == "email")).one()
    token = paged("email", message_id=other.id + 1000)
    assert client.post(f"/a/{token}").status_code == 404
    token = paged("email", incident_id=99)
    assert client.post(f"/a/{token}").status_code == 403


def test_an_ack_stops_everyones_later_steps(client, sessions, paged, clock):
    # a later step waiting for yuta (as notification rules queue them)
    from commandpost.notify import service as notify_service

    with transaction(sessions) as s:
        incident = s.scalars(select(Incident)).one()
        notify_service.enqueue(
            s,
            key="page/incident=INC-1/chain=0/level=0/repeat=0/to=yuta/after=5m/channel=webhook",
            channel="webhook",
            destination="https://alerts.example.com/hooks/yuta",
            subject="s",
            body="b",
            severity="SEV2",
            incident_id=incident.id,
            person="yuta",
            now=clock.now(),
            not_before=clock.now() + timedelta(minutes=5),
        )
    assert client.post(f"/a/{paged('email')}").status_code == 200
    with sessions() as s:
        assert (
            s.scalars(select(OutgoingMessage.status).where(OutgoingMessage.channel == "webhook")).one()
            == CANCELLED
        )
