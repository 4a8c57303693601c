"""Declaring a paging severity on a service pages that service's on-call (issue 14, item 11).

A human declaring SEV1 on payment-platform used to page nobody: the declarer was taken as the
acknowledgement. At the frozen clock (Wednesday 2026-06-24, 12:00 JST) @yuta is primary and @hana
secondary. On both databases.
"""

from __future__ import annotations

from datetime import timedelta

from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from tests.paging_support import ack, act, apply, outbox, processor, run_until


def _declare(sessions, clock, actor, **kw):
    values = {"title": "Checkout failing", "severity": "SEV1", "service": "payment-platform", **kw}
    return act(sessions, lambda s: incidents_service.declare(s, actor=actor, now=clock.now(), **values))


def _paged(session):
    return sorted({to for _due, _inc, kind, _level, to, _channel in outbox(session) if kind == "page"})


def _texts(sessions):
    return act(
        sessions, lambda s: [e.text for e in timeline.all_entries(s, incident=timeline.incident(s, number=1))]
    )


def test_a_declared_sev1_pages_the_on_call_and_waits_for_their_ack(sessions, session, clock):
    apply(sessions, clock)
    incident = _declare(sessions, clock, "hana")
    assert incident.acknowledged_at is None
    esc = processor()
    run_until(sessions, clock, clock.now(), esc)
    assert _paged(session) == ["yuta"]  # the primary; the declarer @hana is IC
    act(sessions, ack(1, "yuta", clock.now() + timedelta(minutes=2)))
    run_until(sessions, clock, clock.now() + timedelta(hours=1), esc)
    assert _paged(session) == ["yuta"]  # acknowledged: the escalation stopped before level 2
    inc = act(sessions, lambda s: timeline.incident(s, number=1))
    assert inc.acknowledged_at == clock.now() - timedelta(hours=1) + timedelta(minutes=2)


def test_the_declarer_on_call_is_not_paged_and_nobody_else_is(sessions, session, clock):
    apply(sessions, clock)
    _declare(sessions, clock, "yuta")
    run_until(sessions, clock, clock.now() + timedelta(hours=1), processor())
    assert _paged(session) == []
    assert any("@yuta is on call" in t and "nobody else is paged" in t for t in _texts(sessions))
    inc = act(sessions, lambda s: timeline.incident(s, number=1))
    assert inc.acknowledged_at == inc.declared_at


def test_the_declarer_is_skipped_at_a_later_level(sessions, session, clock):
    apply(sessions, clock)
    _declare(sessions, clock, "hana")  # @hana is the secondary: level 2 pages the team lead @yuta only
    esc = processor()
    run_until(sessions, clock, clock.now() + timedelta(minutes=30), esc)
    assert "hana" not in _paged(session)


def test_no_page_opts_out_and_says_so(sessions, session, clock):
    apply(sessions, clock)
    incident = _declare(sessions, clock, "hana", page=False)
    run_until(sessions, clock, clock.now() + timedelta(hours=1), processor())
    assert _paged(session) == [] and incident.acknowledged_at == incident.declared_at
    assert "INC-1: nobody is paged: declared without paging" in _texts(sessions)


def test_no_service_pages_nobody_and_says_so_in_the_response_and_the_timeline(client, applied_ops, auth):
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Something is off", "severity": "SEV1"},
        headers=auth(person="hana"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["paging"].startswith("nobody is paged: the incident has no service")
    texts = [
        e["text"] for e in client.get("/api/v1/incidents/INC-1/timeline", headers=auth()).json()["entries"]
    ]
    assert any("nobody is paged: the incident has no service" in t for t in texts)
    on = client.post(
        "/api/v1/incidents",
        json={"title": "Checkout failing", "severity": "SEV1", "service": "payment-platform"},
        headers=auth(person="hana"),
    )
    assert on.json()["paging"].startswith("paging the on-call of payment-platform")


def test_the_declare_form_says_nobody_is_paged_without_a_service(client, applied_ops, sessions, clock):
    from commandpost.security import users

    with sessions() as s:
        users.set_password(
            s,
            config=applied_ops,
            handle="hana",
            password="a long password",
            role="responder",
            now=clock.now(),
        )
        s.commit()
    import re

    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post("/login", data={"handle": "hana", "password": "a long password", "csrf_token": token})
    page = client.get("/declare").text
    assert "With no service, nobody is paged." in page and 'name="page" value="yes" checked' in page
