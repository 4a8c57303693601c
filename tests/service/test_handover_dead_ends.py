"""Handover has no dead ends (issue 14, item 17): an offer goes only to someone who can accept it, the
IC can withdraw an offer nobody will answer, and the offerer is told when an offer is declined or
expires. On both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.errors import Conflict, Forbidden, ValidationFailed
from commandpost.incidents import notices as incident_notices
from commandpost.incidents import roles, timeline
from commandpost.incidents.models import RoleOffer
from commandpost.notify.models import OutgoingMessage
from commandpost.security import service as security_service
from commandpost.security import users
from tests.factories import make_incident


@pytest.fixture
def incident(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        users.set_password(
            s, config=applied_ops, handle="mei", password="a long password", role="read", now=clock.now()
        )
        security_service.create_token(s, person="ken", scope="responder", now=clock.now(), people={"ken"})
        return make_incident(s, now=clock.now())  # IC @yuta


def _offer(sessions, clock, config, person, actor="yuta", is_admin=False):
    with transaction(sessions) as s:
        return roles.offer(
            s, incident=timeline.incident(s, number=1, for_update=True), role="ic", person=person,
            actor=actor, is_admin=is_admin, config=config, now=clock.now(),
        )  # fmt: skip


def _notices(session, kind):
    session.rollback()
    return session.scalars(select(OutgoingMessage).where(OutgoingMessage.key.like(f"{kind}/%"))).all()


def test_no_offer_to_a_read_only_person(sessions, session, incident, clock, applied_ops):
    with pytest.raises(ValidationFailed, match=r"@mei cannot accept IC on INC-1.*read-only"):
        _offer(sessions, clock, applied_ops, "mei")
    session.rollback()
    assert session.scalars(select(RoleOffer)).all() == []
    assert _offer(sessions, clock, applied_ops, "ken").to_person == "ken"  # a responder token: fine


def test_the_ic_withdraws_an_offer_and_may_offer_again_at_once(
    sessions, session, incident, clock, applied_ops
):
    _offer(sessions, clock, applied_ops, "hana")
    with pytest.raises(Conflict, match="already has a pending offer"):
        _offer(sessions, clock, applied_ops, "ken")
    with transaction(sessions) as s, pytest.raises(Forbidden, match="only @yuta"):
        roles.withdraw(
            s,
            incident=timeline.incident(s, number=1),
            role="ic",
            actor="ken",
            is_admin=False,
            now=clock.now(),
        )
    with transaction(sessions) as s:
        withdrawn = roles.withdraw(
            s,
            incident=timeline.incident(s, number=1),
            role="ic",
            actor="yuta",
            is_admin=False,
            now=clock.now(),
        )
    assert withdrawn.state == "withdrawn"
    with transaction(sessions) as s:
        texts = [e.text for e in timeline.all_entries(s, incident=timeline.incident(s, number=1))]
    assert "INC-1: offer of IC to @hana withdrawn by @yuta; IC stays with @yuta" in texts
    assert _offer(sessions, clock, applied_ops, "ken").to_person == "ken"
    with transaction(sessions) as s, pytest.raises(Conflict, match="no pending offer"):
        roles.withdraw(
            s,
            incident=timeline.incident(s, number=1),
            role="ops",
            actor="yuta",
            is_admin=False,
            now=clock.now(),
        )


def test_the_offerer_is_told_when_an_offer_is_declined(sessions, session, incident, clock, applied_ops):
    _offer(sessions, clock, applied_ops, "hana")
    with transaction(sessions) as s:
        roles.decline(
            s,
            incident=timeline.incident(s, number=1, for_update=True),
            role="ic",
            actor="hana",
            now=clock.now(),
        )
    told = _notices(session, incident_notices.OFFER_CLOSED)
    assert told and {m.person for m in told} == {"yuta"}
    assert "to @hana declined; IC stays with @yuta" in told[0].body


def test_the_offerer_is_told_when_an_offer_expires(sessions, session, incident, clock, applied_ops):
    _offer(sessions, clock, applied_ops, "hana")
    clock.advance(applied_ops.settings.handover_offer_ttl + timedelta(seconds=1))
    with transaction(sessions) as s:
        assert roles.expire_due(s, now=clock.now()) == 1
    told = _notices(session, incident_notices.OFFER_CLOSED)
    assert told and {m.person for m in told} == {"yuta"} and "expired unanswered" in told[0].body


def test_withdraw_over_the_api(client, incident, auth, session):
    r = client.post(
        "/api/v1/incidents/INC-1/roles/ic/offer", json={"person": "hana"}, headers=auth(person="yuta")
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/incidents/INC-1/roles/ic/withdraw", headers=auth("responder", person="ken"))
    assert r.status_code == 403
    r = client.post("/api/v1/incidents/INC-1/roles/ic/withdraw", headers=auth("responder", person="yuta"))
    assert r.status_code == 200 and r.json()["state"] == "withdrawn", r.text
    r = client.post(
        "/api/v1/incidents/INC-1/roles/ic/offer", json={"person": "mei"}, headers=auth(person="yuta")
    )
    assert r.status_code == 422 and "read-only" in r.json()["error"]["message"]
