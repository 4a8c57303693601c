"""Stars on Final postmortems and the postmortems of the month (issue 21, guide §5), over the API and
in the use cases, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.errors import Conflict, NotFound
from commandpost.postmortems import praise
from commandpost.postmortems.models import Postmortem
from commandpost.postmortems.stars import PostmortemStar
from tests.drill_support import past_incident
from tests.paging_support import act


def _postmortem(s, incident, status):
    at = incident.resolved_at or incident.declared_at
    s.add(
        Postmortem(
            incident_id=incident.id,
            status=status,
            title=f"Postmortem: {incident.title}",
            required=True,
            criteria={},
            evaluated_at=at,
            evaluated_for=at,
            sections={},
            created_at=at,
            created_by="yuta",
            updated_at=at,
        )
    )
    s.flush()


@pytest.fixture
def postmortems(sessions, clock, applied_ops):
    """INC-1 and INC-2 with Final postmortems, INC-3 with a draft; the clock on 2026-06-24."""

    def build(s):
        for status in ("final", "final", "draft"):
            _postmortem(s, past_incident(s, clock.now()), status)

    act(sessions, build)


def _stars(sessions):
    with sessions() as s:
        return s.scalar(select(func.count(PostmortemStar.id)))


def test_star_twice_is_one_star_and_unstar_takes_it_back(client, auth, postmortems, sessions):
    ken = auth("responder", person="ken")
    first = client.post("/api/v1/postmortems/INC-1/star", headers=ken)
    assert first.status_code == 200, first.text
    assert first.json() == {"number": "INC-1", "stars": 1, "mine": True}
    assert client.post("/api/v1/postmortems/INC-1/star", headers=ken).json()["stars"] == 1
    assert client.get("/api/v1/postmortems/INC-1/star", headers=auth("read", person="mei")).json() == {
        "number": "INC-1",
        "stars": 1,
        "mine": False,
    }
    gone = client.delete("/api/v1/postmortems/INC-1/star", headers=ken)
    assert gone.json() == {"number": "INC-1", "stars": 0, "mine": False}
    assert _stars(sessions) == 0


def test_the_month_most_starred_come_first(client, auth, postmortems, clock):
    for person in ("ken", "mei"):
        client.post("/api/v1/postmortems/INC-2/star", headers=auth("responder", person=person))
    client.post("/api/v1/postmortems/INC-1/star", headers=auth("responder", person="hana"))
    month = client.get("/api/v1/postmortems-of-the-month", headers=auth("read"))
    assert [(p["number"], p["stars"]) for p in month.json()] == [("INC-2", 2), ("INC-1", 1)]
    clock.advance(timedelta(days=10))  # July: June's stars no longer count
    assert client.get("/api/v1/postmortems-of-the-month", headers=auth("read")).json() == []


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("POST", "/api/v1/postmortems/INC-3/star", 409, "only a Final postmortem can be starred"),
        ("POST", "/api/v1/postmortems/INC-99/star", 404, "no incident INC-99"),
        ("POST", "/api/v1/postmortems/%00/star", 422, ""),
        ("POST", "/api/v1/postmortems/" + "9" * 5000 + "/star", 422, ""),
        ("DELETE", "/api/v1/postmortems/INC-3/star", 200, "INC-3"),
    ],
)
def test_bad_stars_are_4xx_and_store_nothing(
    client, auth, postmortems, sessions, method, path, status, words
):
    r = client.request(method, path, headers=auth("responder", person="ken"))
    assert r.status_code == status, r.text
    assert words in r.text
    assert _stars(sessions) == 0


def test_reading_cannot_star_and_nobody_anonymous_can(client, auth, postmortems, sessions):
    assert client.post("/api/v1/postmortems/INC-1/star").status_code == 401
    assert client.post("/api/v1/postmortems/INC-1/star", headers=auth("read")).status_code == 403
    assert _stars(sessions) == 0


def test_the_use_cases_refuse_a_draft_and_a_missing_postmortem(sessions, clock, postmortems):
    act(sessions, lambda s: past_incident(s, clock.now()))  # INC-4: no postmortem
    with sessions() as s:
        with pytest.raises(Conflict, match="INC-3 is draft"):
            praise.star(s, number=3, person="ken", now=clock.now())
        with pytest.raises(NotFound, match="no postmortem for INC-4"):
            praise.star(s, number=4, person="ken", now=clock.now())
