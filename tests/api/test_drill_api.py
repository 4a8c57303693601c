"""``/api/v1/drills``: start (the caller is the game master), list, scorecard — auth, bad and hostile
input answered 4xx with nothing stored, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.drills.models import Drill
from commandpost.incidents.models import Incident
from tests.drill_support import past_incident
from tests.paging_support import act

BASE = "/api/v1/drills"


@pytest.fixture
def past(sessions, clock, applied_ops):
    act(sessions, lambda s: past_incident(s, clock.now()))
    clock.advance(timedelta(days=1))


def _counts(sessions):
    with sessions() as s:
        return s.scalar(select(func.count(Drill.id))), s.scalar(select(func.count(Incident.id)))


def test_start_list_and_score_a_drill(client, auth, past, clock):
    mei = auth("responder", person="mei")
    r = client.post(BASE, json={"source": "INC-1", "trainee": "@ken", "speed": 3}, headers=mei)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["number"], out["of"], out["game_master"], out["trainee"], out["speed"]) == (
        "INC-2",
        "INC-1",
        "mei",
        "ken",
        3,
    )
    assert out["delivered"] == 1 and out["prompts"] > out["delivered"]  # the alert at T+0 only
    listed = client.get(BASE, headers=auth("read"))
    assert [d["number"] for d in listed.json()] == ["INC-2"]
    card = client.get(f"{BASE}/INC-2/scorecard", headers=auth("read"))
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["complete"] is False
    assert [line["measure"] for line in body["lines"]] == [
        "time to ack",
        "time to the runbook's first move",
        "time to mitigation",
        "handover done explicitly",
        "comms on cadence",
    ]
    assert body["lines"][0] == {
        "measure": "time to ack",
        "drill": None,
        "original": 240,
        "target": 80,
        "verdict": "not reached",
        "note": None,
    }
    assert body["facts"]["original"]["time_to_mitigation_seconds"] == 1200


def test_auth_is_required_and_reading_is_not_starting(client, auth, past, sessions):
    assert client.post(BASE, json={"source": "INC-1"}).status_code == 401
    assert client.get(BASE).status_code == 401
    assert client.post(BASE, json={"source": "INC-1"}, headers=auth("read")).status_code == 403
    assert _counts(sessions) == (0, 1)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"source": "INC-99"}, 404, "no incident INC-99"),
        ({"source": "INC-1", "speed": 0}, 422, "speed"),
        ({"source": "INC-1", "speed": -5}, 422, "speed"),
        ({"source": "INC-1", "speed": 10**12}, 422, "speed"),
        ({"source": "INC-1", "speed": "2"}, 422, "speed"),
        ({"source": "INC-1", "speed": 2.5}, 422, "speed"),
        ({"source": "INC-1", "trainee": "nobody"}, 422, "unknown person @nobody"),
        ({"source": "INC-1", "trainee": "ke\x00n"}, 422, "person"),
        ({"source": "INC-\x001"}, 422, ""),
        ({"source": "x" * 10_000}, 422, "source"),
        ({"source": "INC-1", "game_master": "yuta"}, 422, "game_master"),
        ({}, 422, "source"),
    ],
)
def test_bad_and_hostile_starts_are_4xx_and_store_nothing(client, auth, past, sessions, body, status, words):
    r = client.post(BASE, json=body, headers=auth("responder", person="mei"))
    assert r.status_code == status, r.text
    assert words in r.text
    assert _counts(sessions) == (0, 1)


def test_a_drill_of_a_drill_is_refused_and_unknown_scorecards_are_404(client, auth, past, sessions):
    mei = auth("responder", person="mei")
    assert client.post(BASE, json={"source": "INC-1"}, headers=mei).status_code == 201
    again = client.post(BASE, json={"source": "INC-2"}, headers=mei)
    assert again.status_code == 409 and "INC-2 is itself a drill" in again.text
    assert client.get(f"{BASE}/INC-1/scorecard", headers=auth("read")).status_code == 404
    assert client.get(f"{BASE}/INC-77/scorecard", headers=auth("read")).status_code == 404
    assert client.get(f"{BASE}/%00/scorecard", headers=auth("read")).status_code in (404, 422)
    assert _counts(sessions) == (1, 2)


def test_the_drill_incident_cannot_be_escalated_to_the_on_call(client, auth, past):
    mei = auth("responder", person="mei")
    assert client.post(BASE, json={"source": "INC-1", "trainee": "ken"}, headers=mei).status_code == 201
    r = client.post("/api/v1/incidents/INC-2/escalate", headers=mei)
    assert r.status_code == 409 and "never pages the on-call" in r.text


def test_the_scorecard_says_when_no_first_move_is_named(client, auth, past):
    mei = auth("responder", person="mei")
    assert client.post(BASE, json={"source": "INC-1", "trainee": "ken"}, headers=mei).status_code == 201
    body = client.get(f"{BASE}/INC-2/scorecard", headers=auth("read")).json()
    line = next(x for x in body["lines"] if x["measure"] == "time to the runbook's first move")
    assert (line["drill"], line["original"], line["verdict"]) == (None, None, "neither")
    assert line["note"] == (
        "drill: no first move named: no runbook on this incident; "
        "original: no first move named: no runbook on this incident"
    )
    assert body["lines"][0]["note"] is None
    original = body["facts"]["original"]
    assert original["first_move"] is None and original["time_to_first_step_seconds"] is None
    assert original["first_move_note"] == "no first move named: no runbook on this incident"
