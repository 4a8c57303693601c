"""Shifts as an iCalendar (RFC 5545) document: one VEVENT per shift, times in UTC, UIDs stable per shift."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from commandpost.oncall.rules import Shift
from commandpost.policy.opsfiles import OpsConfig

PRODID = "-//commandpost//on-call//EN"


def summary(shift: Shift, *, with_person: bool) -> str:
    text = f"On call: {shift.schedule} {shift.layer}"
    return f"{text} (@{shift.person})" if with_person else text


def render(
    shifts: Sequence[Shift], *, name: str, config: OpsConfig, now: datetime, with_person: bool
) -> bytes:
    """The calendar; ``with_person`` puts the handle in each summary (a schedule's feed shows many people)."""
    from icalendar import Calendar, Event  # only feeds need it: kept out of every process's start-up

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for shift in shifts:
        person = config.person(shift.person)
        who = f"{person.name} (@{shift.person})" if person else f"@{shift.person}"
        how = "by override" if shift.by_override else "by rotation"
        if shift.via:
            how += f", from {', '.join(shift.via)}"
        event = Event()
        event.add("uid", f"{shift.uid}@commandpost")
        event.add("dtstamp", now)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", summary(shift, with_person=with_person))
        event.add("description", f"{who} is on call for {shift.schedule} / {shift.layer} ({how}).")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
