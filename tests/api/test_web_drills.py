"""The web side of drills and praise (docs/drills.md): "Start a drill" on a past incident's page, the
☆ button of a Final postmortem, the postmortems of the month — on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from commandpost.drills.models import Drill
from tests.api.test_postmortem_stars import _postmortem
from tests.api.test_web_pages import hana  # noqa: F401  (the fixture: hana logged in, her CSRF token)
from tests.drill_support import past_incident
from tests.paging_support import act


def _past(sessions, clock, status="final"):
    """A day old, so the signed-in session (on the same clock) stays fresh."""
    act(sessions, lambda s: _postmortem(s, past_incident(s, clock.now() - timedelta(days=1)), status))


def test_a_past_incident_offers_a_drill_and_the_form_starts_one(client, hana, sessions, clock):  # noqa: F811
    _past(sessions, clock)
    page = client.get("/incidents/INC-1")
    assert 'action="/incidents/INC-1/drill"' in page.text and "Start a drill" in page.text
    r = client.post(
        "/incidents/INC-1/drill",
        data={"csrf_token": hana, "trainee": "ken", "speed": "5"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/incidents/INC-2"
    drill = client.get("/incidents/INC-2")
    assert "drill=true" in drill.text and "Start a drill" not in drill.text  # no drill of a drill
    bad = client.post("/incidents/INC-1/drill", data={"csrf_token": hana, "trainee": "ken", "speed": "fast"})
    assert bad.status_code == 422 and "speed" in bad.text
    with sessions() as s:
        assert s.scalar(select(func.count(Drill.id))) == 1


def test_a_final_postmortem_is_starred_and_heads_the_month(client, hana, sessions, clock):  # noqa: F811
    _past(sessions, clock)
    page = client.get("/postmortems/INC-1")
    assert 'action="/postmortems/INC-1/star"' in page.text and "☆ Star · 0" in page.text
    r = client.post("/postmortems/INC-1/star", data={"csrf_token": hana}, follow_redirects=False)
    assert r.status_code == 303
    assert "★ Star · 1" in client.get("/postmortems/INC-1").text
    listing = client.get("/postmortems").text
    assert "Postmortems of the month" in listing and "1 ★" in listing
    client.post("/postmortems/INC-1/star", data={"csrf_token": hana, "remove": "1"})
    assert "Postmortems of the month" not in client.get("/postmortems").text
