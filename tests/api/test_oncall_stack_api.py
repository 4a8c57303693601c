"""Stacked layers through the API on both databases: schedules say ``stack`` instead of a rotation,
shifts and who is on call come from the stack, an override of the stack wins, and iCal feeds."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar

from commandpost.oncall import service as oncall_service
from commandpost.policy import service as policy_service
from commandpost.security import users
from tests.api.test_web_auth import PASSWORD, csrf_of, login
from tests.service.test_oncall_stack_service import S, ny, stacked_folder

SHIFTS = f"/api/v1/schedules/{S}/shifts"


def _apply(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        policy_service.apply_folder(s, path=stacked_folder(tmp_path), now=ny(2026, 6, 1), actor="test")
        s.commit()


def test_schedules_say_stack_instead_of_a_rotation(client, sessions, auth, tmp_path):
    _apply(sessions, tmp_path)
    r = client.get(f"/api/v1/schedules/{S}", headers=auth("read"))
    assert r.status_code == 200, r.text
    layers = {x["name"]: x for x in r.json()["layers"]}
    assert layers["primary"] == {
        "name": "primary",
        "members": None,
        "length": None,
        "start": None,
        "handoff": None,
        "restrictions": [],
        "stack": ["weekdays", "nights"],
    }
    assert layers["nights"]["members"] == ["ken", "mei"] and layers["nights"]["stack"] is None
    assert layers["nights"]["restrictions"][0]["start"] == "18:00:00"


def test_oncall_shifts_and_an_override_of_the_stack(client, sessions, auth, tmp_path):
    _apply(sessions, tmp_path)
    headers = auth("responder", person="hana")
    at = {"at": ny(2026, 6, 24, 20).isoformat(), "schedule": S}
    now = {
        (x["layer"], x["person"])
        for x in client.get("/api/v1/oncall", params=at, headers=headers).json()["oncall"]
    }
    assert ("primary", "ken") in now and ("weekdays", "yuta") in now

    params = {
        "from": ny(2026, 6, 24, 10).isoformat(),
        "to": ny(2026, 6, 24, 20).isoformat(),
        "layer": "primary",
    }
    shifts = client.get(SHIFTS, params=params, headers=headers).json()["shifts"]
    assert [(s["person"], s["via"], datetime.fromisoformat(s["start"])) for s in shifts] == [
        ("yuta", ["weekdays"], ny(2026, 6, 24, 9)),
        ("ken", ["nights"], ny(2026, 6, 24, 18)),
    ]

    body = {"schedule": S, "layer": "primary", "person": "@hana"}
    body |= {"start": ny(2026, 6, 24, 19).isoformat(), "end": ny(2026, 6, 24, 21).isoformat()}
    r = client.post("/api/v1/overrides", json=body, headers=headers)
    assert r.status_code == 201, r.text
    now = client.get("/api/v1/oncall", params=at, headers=headers).json()["oncall"]
    primary = next(x for x in now if x["layer"] == "primary")
    assert (primary["person"], primary["override_id"]) == ("hana", r.json()["id"])
    nights = next(x for x in now if x["layer"] == "nights")
    assert nights["person"] == "ken"

    bad = client.post("/api/v1/overrides", json=body | {"layer": "final\x00"}, headers=headers)
    assert bad.status_code == 422
    assert "layers: primary, secondary, weekdays, nights" in bad.json()["error"]["message"]


def test_a_persons_feed_shows_the_stack_not_the_layers_beneath(client, sessions, auth, tmp_path):
    _apply(sessions, tmp_path)
    feed = client.post("/api/v1/feeds", json={"person": "@ken"}, headers=auth("responder")).json()
    events = list(Calendar.from_ical(client.get(f"/ical/{feed['token']}.ics").text).walk("VEVENT"))
    assert events
    assert {str(e["summary"]) for e in events} == {f"On call: {S} primary"}
    assert all("from nights" in str(e["description"]) for e in events)
    schedule = client.post("/api/v1/feeds", json={"schedule": S}, headers=auth("responder")).json()
    summaries = {
        str(e["summary"]).split(" (")[0]
        for e in Calendar.from_ical(client.get(f"/ical/{schedule['token']}.ics").text).walk("VEVENT")
    }
    assert summaries == {f"On call: {S} {layer}" for layer in ("primary", "secondary", "weekdays", "nights")}


def test_the_web_oncall_page_shows_the_stack_and_takes_an_override_of_it(client, sessions, clock, tmp_path):
    _apply(sessions, tmp_path)
    with sessions() as s:
        config = policy_service.current_config(s)
        users.set_password(s, config=config, handle="hana", password=PASSWORD, role="admin", now=clock.now())
        s.commit()
    login(client, "hana")
    page = client.get("/oncall", params={"start": "2026-06-22"})
    assert page.status_code == 200, page.text
    assert f"{S}/primary" in page.text and "@mei" in page.text
    data = {"layer": f"{S}/primary", "person": "ken", "start": "2026-06-24T13:00", "end": "2026-06-24T14:00"}
    r = client.post(
        "/oncall/overrides", data=data | {"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    with sessions() as s:
        assert [(o.layer, o.person) for o in oncall_service.list_overrides(s, now=clock.now())] == [
            ("primary", "ken")
        ]
