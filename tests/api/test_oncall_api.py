"""On-call API on both databases: auth, who is on call, schedules and shifts, overrides, iCal feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from commandpost.oncall.models import IcalFeed
from commandpost.security.models import AuditLog

WEEK_START = datetime(2026, 6, 22, 1, 0, tzinfo=UTC)  # Monday 10:00 JST; clock fixture: Wed 24th 03:00 UTC
SHIFTS = "/api/v1/schedules/payment-platform/shifts"


def iso(value: datetime) -> str:
    return value.isoformat()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/oncall"),
        ("GET", "/api/v1/schedules"),
        ("GET", "/api/v1/schedules/payment-platform"),
        ("GET", SHIFTS),
        ("GET", "/api/v1/overrides"),
        ("POST", "/api/v1/overrides"),
        ("DELETE", "/api/v1/overrides/1"),
        ("GET", "/api/v1/feeds"),
        ("POST", "/api/v1/feeds"),
        ("POST", "/api/v1/feeds/1/rotate"),
        ("DELETE", "/api/v1/feeds/1"),
    ],
)
def test_every_route_needs_a_token(client, applied_ops, method, path):
    r = client.request(method, path, json={})
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"


def test_writes_need_responder_scope(client, applied_ops, auth):
    body = {"schedule": "payment-platform", "layer": "primary", "person": "ken"}
    body |= {"start": iso(WEEK_START), "end": iso(WEEK_START + timedelta(hours=1))}
    r = client.post("/api/v1/overrides", json=body, headers=auth("read"))
    assert r.status_code == 403 and "responder" in r.json()["error"]["message"]
    assert client.post("/api/v1/feeds", json={"person": "ken"}, headers=auth("read")).status_code == 403


def test_oncall_now_and_at_an_instant(client, applied_ops, auth):
    headers = auth("read")
    r = client.get("/api/v1/oncall", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["at"]) == datetime(2026, 6, 24, 3, tzinfo=UTC)
    assert [(x["layer"], x["person"], x["by_override"]) for x in body["oncall"]] == [
        ("primary", "yuta", False),
        ("secondary", "hana", False),
    ]
    assert datetime.fromisoformat(body["oncall"][0]["end"]) == WEEK_START + timedelta(weeks=1)
    later = client.get("/api/v1/oncall", params={"at": "2026-06-29T10:00:00+09:00"}, headers=headers).json()
    assert [x["person"] for x in later["oncall"]] == ["hana", "ken"]
    r = client.get("/api/v1/oncall", params={"at": "2026-06-29T10:00:00"}, headers=headers)
    assert r.status_code == 422 and "timezone" in r.json()["error"]["message"]
    r = client.get("/api/v1/oncall", params={"schedule": "nope"}, headers=headers)
    assert r.status_code == 404 and "payment-platform" in r.json()["error"]["message"]


def test_schedules_and_shifts(client, applied_ops, auth):
    headers = auth("read")
    listed = client.get("/api/v1/schedules", headers=headers).json()
    assert [s["name"] for s in listed] == ["payment-platform"]
    primary = listed[0]["layers"][0]
    assert primary["members"] == ["yuta", "hana", "ken", "mei"]
    assert primary["handoff"] == {"weekday": "monday", "time": "10:00:00", "timezone": "Asia/Tokyo"}
    assert client.get("/api/v1/schedules/nope", headers=headers).status_code == 404

    params = {"from": iso(WEEK_START), "to": iso(WEEK_START + timedelta(weeks=2)), "layer": "primary"}
    r = client.get(SHIFTS, params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["from"]) == WEEK_START
    assert [(s["person"], datetime.fromisoformat(s["start"])) for s in body["shifts"]] == [
        ("yuta", WEEK_START),
        ("hana", WEEK_START + timedelta(weeks=1)),
    ]
    too_long = {"from": iso(WEEK_START), "to": iso(WEEK_START + timedelta(days=367))}
    r = client.get(SHIFTS, params=too_long, headers=headers)
    assert r.status_code == 422 and "at most 366 days" in r.json()["error"]["message"]
    backwards = {"from": iso(WEEK_START), "to": iso(WEEK_START - timedelta(days=1))}
    assert client.get(SHIFTS, params=backwards, headers=headers).status_code == 422
    r = client.get(SHIFTS, params={"layer": "tertiary"}, headers=headers)
    assert r.status_code == 404 and "layers: primary, secondary" in r.json()["error"]["message"]


def test_override_add_list_remove(client, applied_ops, auth, session):
    headers = auth("responder", person="hana")
    start = datetime(2026, 6, 24, 4, tzinfo=UTC)
    body = {"schedule": "payment-platform", "layer": "primary", "person": "@ken", "note": "swap"}
    body |= {"start": iso(start), "end": iso(start + timedelta(hours=8))}
    r = client.post("/api/v1/overrides", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["person"], created["created_by"]) == ("ken", "hana")
    assert datetime.fromisoformat(created["start"]) == start

    at = client.get("/api/v1/oncall", params={"at": iso(start + timedelta(hours=1))}, headers=headers).json()
    assert (at["oncall"][0]["person"], at["oncall"][0]["override_id"]) == ("ken", created["id"])
    params = {
        "from": iso(start - timedelta(hours=1)),
        "to": iso(start + timedelta(hours=9)),
        "layer": "primary",
    }
    pieces = client.get(SHIFTS, params=params, headers=headers).json()["shifts"]
    assert [(p["person"], p["by_override"]) for p in pieces] == [
        ("yuta", False),
        ("ken", True),
        ("yuta", False),
    ]

    listed = client.get("/api/v1/overrides", params={"person": "ken"}, headers=headers).json()
    assert [o["id"] for o in listed] == [created["id"]]
    audit = session.scalars(select(AuditLog).where(AuditLog.target == f"override:{created['id']}")).all()
    assert [a.action for a in audit] == ["POST /api/v1/overrides"]

    r = client.delete(f"/api/v1/overrides/{created['id']}", headers=headers)
    assert r.status_code == 200 and r.json()["id"] == created["id"]
    assert client.get("/api/v1/overrides", headers=headers).json() == []
    assert client.delete(f"/api/v1/overrides/{created['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"person": "nobody"}, "unknown person 'nobody' (people: yuta, hana, ken, mei, sato)"),
        ({"schedule": "nope"}, "unknown schedule 'nope' (schedules: payment-platform)"),
        (
            {"layer": "tertiary"},
            "schedule 'payment-platform' has no layer 'tertiary' (layers: primary, secondary)",
        ),
        ({"end": "2026-06-24T03:00:00Z"}, "is not after 'start'"),
        ({"end": "2026-06-24T09:00:00"}, "timezone"),
    ],
)
def test_override_validation_is_422_naming_valid_values(client, applied_ops, auth, changes, message):
    headers = auth("responder")
    body = {"schedule": "payment-platform", "layer": "primary", "person": "ken"}
    body |= {"start": "2026-06-24T04:00:00Z", "end": "2026-06-24T09:00:00Z"} | changes
    r = client.post("/api/v1/overrides", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]["message"]
    assert client.get("/api/v1/overrides", params={"include_past": True}, headers=headers).json() == []


def _events(text: str) -> list:  # type: ignore[type-arg]
    return list(Calendar.from_ical(text).walk("VEVENT"))


def test_schedule_feed_parses_back_with_the_right_events(client, applied_ops, auth, session):
    r = client.post("/api/v1/feeds", json={"schedule": "payment-platform"}, headers=auth("responder"))
    assert r.status_code == 201, r.text
    feed = r.json()
    assert feed["url"].endswith(".ics") and "/ical/" in feed["url"]
    token = feed["token"]
    stored = session.scalars(select(IcalFeed)).one()
    assert stored.token_hash != token and token not in stored.token_hash

    r = client.get(f"/ical/{token}.ics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    events = _events(r.text)
    primary = [e for e in events if str(e["summary"]).startswith("On call: payment-platform primary")]
    secondary = [e for e in events if str(e["summary"]).startswith("On call: payment-platform secondary")]
    # 30 days back to 90 days ahead of Wed 2026-06-24: the weeks from Mon 2026-05-25 to Mon 2026-09-21
    assert len(primary) == len(secondary) == 18
    assert len(events) == 36
    first = primary[0]
    assert first.decoded("dtstart") == datetime(2026, 5, 25, 1, tzinfo=UTC)
    assert first.decoded("dtend") == datetime(2026, 6, 1, 1, tzinfo=UTC)
    assert str(first["summary"]) == "On call: payment-platform primary (@yuta)"  # 4 weeks before yuta's week
    assert "DTSTART:20260525T010000Z" in r.text
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == 36
    assert [str(e["uid"]) for e in _events(client.get(f"/ical/{token}.ics").text)] == uids


def test_person_feed_has_only_their_shifts(client, applied_ops, auth):
    feed = client.post("/api/v1/feeds", json={"person": "@yuta"}, headers=auth("responder")).json()
    events = _events(client.get(f"/ical/{feed['token']}.ics").text)
    assert events and all("Yuta Tomoda (@yuta)" in str(e["description"]) for e in events)
    summaries = {str(e["summary"]) for e in events}
    assert summaries == {"On call: payment-platform primary", "On call: payment-platform secondary"}
    starts = sorted(e.decoded("dtstart") for e in events if str(e["summary"]).endswith("primary"))
    assert WEEK_START in starts and all((s - WEEK_START) % timedelta(weeks=4) == timedelta(0) for s in starts)


def test_feed_token_is_not_an_api_token_and_rotation_revokes_it(client, applied_ops, auth):
    headers = auth("responder")
    feed = client.post("/api/v1/feeds", json={"schedule": "payment-platform"}, headers=headers).json()
    old = feed["token"]
    as_bearer = {"Authorization": f"Bearer {old}"}
    assert client.get("/api/v1/oncall", headers=as_bearer).status_code == 401
    assert client.get("/api/v1/feeds", headers=as_bearer).status_code == 401
    assert client.post(f"/api/v1/feeds/{feed['id']}/rotate", headers=as_bearer).status_code == 401

    listed = client.get("/api/v1/feeds", headers=headers).json()
    assert [(f["kind"], f["target"]) for f in listed] == [("schedule", "payment-platform")]
    assert "token" not in listed[0] and "url" not in listed[0]

    rotated = client.post(f"/api/v1/feeds/{feed['id']}/rotate", headers=headers).json()
    assert rotated["token"] != old and rotated["rotated_at"]
    r = client.get(f"/ical/{old}.ics")
    assert r.status_code == 404 and "rotated" in r.json()["error"]["message"]
    assert client.get(f"/ical/{rotated['token']}.ics").status_code == 200

    assert client.delete(f"/api/v1/feeds/{feed['id']}", headers=headers).status_code == 200
    assert client.get(f"/ical/{rotated['token']}.ics").status_code == 404


def test_feed_validation(client, applied_ops, auth):
    headers = auth("responder")
    r = client.post("/api/v1/feeds", json={}, headers=headers)
    assert r.status_code == 422 and "exactly one of" in r.json()["error"]["message"]
    r = client.post("/api/v1/feeds", json={"schedule": "payment-platform", "person": "ken"}, headers=headers)
    assert r.status_code == 422
    r = client.post("/api/v1/feeds", json={"person": "nobody"}, headers=headers)
    assert r.status_code == 422 and "people: yuta" in r.json()["error"]["message"]
    assert client.post("/api/v1/feeds/999/rotate", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/v1/overrides?schedule=pay%00ment", "/api/v1/metrics/response?service=pay%00ment"],
)
def test_a_nul_byte_in_a_query_is_never_a_500(client, applied_ops, auth, path, db_url):
    """Found by schemathesis: PostgreSQL refuses NUL in text, which surfaced as a 500. A NUL now reads as
    U+FFFD on both databases (docs/security.md, "NUL characters"): the same answer on both, nothing found."""
    r = client.get(path, headers=auth("read"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/oncall?at=-40648",
        "/api/v1/schedules/payment-platform/shifts?from=1700000000",
        "/api/v1/metrics/response?from=-4.69e-156",
        "/api/v1/metrics/response?to=2026",
    ],
)
def test_a_bare_number_is_no_date_time(client, applied_ops, auth, path):
    """Found by schemathesis: pydantic read a bare number as a Unix timestamp, so a typo meant 1970."""
    r = client.get(path, headers=auth("read"))
    assert r.status_code == 422, r.text
    assert "ISO 8601" in r.json()["error"]["message"], r.text


def test_an_iso_date_time_query_still_works(client, applied_ops, auth):
    r = client.get("/api/v1/oncall?at=2026-11-27T09:00:00%2B09:00", headers=auth("read"))
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/metrics/response?from=2026-01-01&to=2026-11-27T00:00:00Z", headers=auth("read"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/oncall?at=9999-12-31T23:59:59Z",
        "/api/v1/oncall?at=0001-01-01T00:00:00Z",
        "/api/v1/schedules/payment-platform/shifts?from=9999-12-30T00:00:00Z",
        "/api/v1/metrics/oncall-health?to=9999-12-31T23:59:59Z",
    ],
)
def test_an_instant_outside_1970_to_2999_is_a_422_not_a_500(client, applied_ops, auth, path):
    """Shifts and windows add days to the instant: year 1 or 9999 overflowed Python's datetime (500)."""
    r = client.get(path, headers=auth("read"))
    assert r.status_code == 422 and "must be from 1970 to 2999" in r.json()["error"]["message"], r.text


def test_an_override_outside_1970_to_2999_is_refused_and_nothing_stored(client, applied_ops, auth):
    body = {"schedule": "payment-platform", "layer": "primary", "person": "ken"}
    r = client.post(
        "/api/v1/overrides",
        json={**body, "start": "0001-01-01T00:00:00Z", "end": "9999-12-31T23:00:00Z"},
        headers=auth("responder"),
    )
    assert r.status_code == 422 and "must be from 1970 to 2999" in r.json()["error"]["message"], r.text
    assert client.get("/api/v1/overrides?include_past=true", headers=auth("read")).json() == []
