"""On-call health on a crafted week, both databases: three pages in one 12-hour block are flagged,
sleep-hours pages are counted in the person's own timezone across the US switch to daylight time
(Sunday 2026-03-08 02:00 EST), and a page sent over two channels is one page.

Week: Monday 2026-03-02 10:00 JST (01:00 UTC) to the next Monday. @yuta (moved to America/New_York
for this test) is primary, @hana (Asia/Tokyo) secondary; @sato is paged once as a manager.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident
from commandpost.metrics import alert_quality, oncall_health, response
from commandpost.notify import service as notify_service
from commandpost.notify.rules import message_key
from commandpost.policy.opsfiles import OpsConfig
from tests.factories import make_alert_incident, make_incident
from tests.paging_support import apply, ops_variant

START, END = datetime(2026, 3, 2, 1, 0, tzinfo=UTC), datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def _new_york(data: dict[str, Any]) -> None:
    for person in data["people"]:
        if person["handle"] == "yuta":
            person["timezone"] = "America/New_York"


def _page(s: Session, incident: int, person: str, due: datetime, repeat: int = 0) -> None:
    """One page over two channels: two outgoing messages, one page."""
    for channel in ("slack", "email"):
        notify_service.enqueue(
            s,
            key=message_key(
                "page", incident=incident, chain=0, level=0, repeat=repeat, to=person, channel=channel
            ),
            channel=channel,  # type: ignore[arg-type]
            destination=f"{person}@example.com" if channel == "email" else "https://hooks.slack.example/x",
            subject="page",
            body="page",
            severity="SEV2",
            incident_id=incident,
            person=person,
            now=due,
            not_before=due,
        )


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def week(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path) -> OpsConfig:
    clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    config = apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": _new_york}))
    with transaction(sessions) as s:
        one = make_alert_incident(s, now=utc(2, 2)).id  # from an alert: it has its runbook
        two, three, four, five = (make_incident(s, now=utc(2, 2), title=f"incident {i}").id for i in range(4))
        for n, at in ((one, utc(4, 14)), (two, utc(4, 15)), (three, utc(4, 16))):  # Wed 09–11 EST
            _page(s, n, "yuta", at)
        _page(s, four, "yuta", utc(7, 11, 30))  # Sat 06:30 EST: asleep
        _page(s, four, "yuta", utc(8, 3, 30), repeat=1)  # Sat 22:30 EST: asleep
        _page(s, five, "yuta", utc(8, 11, 30))  # Sun 07:30 EDT: awake (06:30 by last week's offset)
        _page(s, five, "yuta", utc(6, 2, 30), repeat=1)  # Thu 21:30 EST: evening, off hours
        _page(s, one, "hana", utc(4, 16, 5))  # 01:05 JST
        _page(s, one, "sato", utc(4, 16, 10))  # the manager: not on call
        _page(s, one, "yuta", utc(9, 1, 0), repeat=2)  # the week is over (END is exclusive)
    return config


def test_the_crafted_week(sessions, session, week: OpsConfig) -> None:
    got = oncall_health.health(session, config=week, start=START, end=END)
    people = {p["person"]: p for p in got["people"]}
    assert list(people) == ["hana", "ken", "mei", "sato", "yuta"]
    assert people["yuta"] == {
        "person": "yuta",
        "timezone": "America/New_York",
        "on_call_hours": 168.0,
        "on_call_share": 1.0,
        "on_call_share_over_25_percent": True,
        "pages": 7,
        "sleep_hours_pages": 2,
        "off_hours_pages": 4,
        "pages_while_not_on_call": 0,
        "incidents": 5,
        "incident_hours": 30.0,
        "shift_blocks": 14,
        "max_pages_per_12h": 3,
        "blocks_over_2_pages": [
            {"start": "2026-03-04T13:00:00+00:00", "end": "2026-03-05T01:00:00+00:00", "pages": 3}
        ],
        "acknowledged_via": {},  # the crafted week's pages are rows of the outbox only: nobody acked
    }
    hana, sato = people["hana"], people["sato"]
    assert (hana["pages"], hana["sleep_hours_pages"], hana["off_hours_pages"], hana["max_pages_per_12h"]) == (
        1,
        1,
        1,
        1,
    )
    assert hana["blocks_over_2_pages"] == [] and hana["on_call_share"] == 1.0
    assert (sato["pages"], sato["pages_while_not_on_call"], sato["on_call_hours"], sato["shift_blocks"]) == (
        1,
        1,
        0,
        0,
    )
    assert sato["on_call_share_over_25_percent"] is False
    assert people["ken"]["pages"] == 0 and people["ken"]["on_call_hours"] == 0
    primary, secondary = got["rotations"]
    assert primary == {
        "schedule": "payment-platform",
        "layer": "primary",
        "members": 4,
        "around_the_clock": True,
        "below_8_person_minimum": True,
        "pages": 7,
        "max_pages_per_12h": 3,
        "blocks_over_2_pages": [
            {"start": "2026-03-04T13:00:00+00:00", "end": "2026-03-05T01:00:00+00:00", "pages": 3}
        ],
    }
    assert (secondary["layer"], secondary["pages"], secondary["blocks_over_2_pages"]) == ("secondary", 1, [])


def test_a_fixed_offset_would_have_counted_the_sunday_page_as_asleep(session, week: OpsConfig) -> None:
    """The same week in UTC−5 all along (Bogotá, no DST): Sunday 11:30 UTC is 06:30, asleep."""
    fixed = week.model_copy(
        update={
            "people": [
                p.model_copy(update={"timezone": "America/Bogota"}) if p.handle == "yuta" else p
                for p in week.people
            ]
        }
    )
    got = oncall_health.health(session, config=fixed, start=START, end=END)
    yuta = next(p for p in got["people"] if p["person"] == "yuta")
    assert yuta["sleep_hours_pages"] == 3


def test_share_of_time_and_incident_hours_over_four_weeks(session, week: OpsConfig) -> None:
    got = oncall_health.health(
        session, config=week, start=START, end=START + timedelta(weeks=4), hours_per_incident=4
    )
    yuta = next(p for p in got["people"] if p["person"] == "yuta")
    # Primary in week 1, secondary in week 4 (the secondary rotation is one person behind).
    assert (yuta["on_call_hours"], yuta["on_call_share"], yuta["on_call_share_over_25_percent"]) == (
        336.0,
        0.5,
        True,
    )
    assert (yuta["pages"], yuta["incident_hours"]) == (8, 20.0)  # the page at 01:00 on 9 March now counts


def test_pages_without_a_runbook_count_once_per_page(session, week: OpsConfig) -> None:
    got = alert_quality.alert_quality(session, start=START, end=END)
    # Declared incidents of a service without a default runbook page without one: 6 of the 9 pages.
    assert (got["pages"], got["pages_without_runbook"]) == (9, 6)


def test_drill_pages_still_count_as_load(sessions, session, week: OpsConfig) -> None:
    """docs/metrics.md, Drills: a drill leaves response times, not on-call health or alert quality —
    its pages woke people all the same."""
    before = oncall_health.health(session, config=week, start=START, end=END)
    assert [r.incidents for r in response.response_times(session, start=START, end=END).rows] == [5]
    with transaction(sessions) as s:
        for incident in s.scalars(select(Incident)):
            incident.labels = {"drill": "true"}
    session.rollback()
    assert response.response_times(session, start=START, end=END).rows == []
    after = oncall_health.health(session, config=week, start=START, end=END)
    assert after == before
    yuta = next(p for p in after["people"] if p["person"] == "yuta")
    assert (yuta["pages"], yuta["sleep_hours_pages"], yuta["max_pages_per_12h"]) == (7, 2, 3)
    got = alert_quality.alert_quality(session, start=START, end=END)
    assert (got["pages"], got["pages_without_runbook"]) == (9, 6)
