"""On-call health (guide §6-1) per person and per rotation over a period.

A *page* is one (person, incident, due instant) among the ``page/…`` messages of the outbox —
one page however many channels carried it. Who was on call comes from the schedules (the oncall
service: rotations, restrictions, overrides), cut into 12-hour blocks from the start of each
stretch on call. The counting is SQL over the outbox; the local-time windows it counts against
(22:00–07:00 and business hours in each person's own timezone, each day placed by that day's UTC
offset so DST is exact, and the 12-hour blocks) are computed here and bound as one JSON array.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from commandpost.db.base import UTCDateTime
from commandpost.metrics import ack_methods, rules
from commandpost.metrics.dialect import Dialect
from commandpost.oncall import service as oncall_service
from commandpost.policy.opsfiles import WEEKDAYS, Layer, OpsConfig, Schedule


@dataclass
class Block:
    start: int
    end: int
    pages: int

    def to_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end), "pages": self.pages}


@dataclass
class PersonHealth:
    person: str
    timezone: str
    on_call_seconds: int = 0
    share: Fraction = Fraction(0)
    pages: int = 0
    incidents: int = 0
    sleep_pages: int = 0
    off_hours_pages: int = 0
    pages_off_call: int = 0
    blocks: list[Block] = field(default_factory=list)
    acks: dict[str, ack_methods.MethodStats] = field(default_factory=dict)

    def to_dict(self, hours_per_incident: float) -> dict[str, Any]:
        flagged = [b for b in self.blocks if b.pages > rules.PAGES_PER_BLOCK]
        return {
            "person": self.person,
            "timezone": self.timezone,
            "on_call_hours": round(self.on_call_seconds / 3600, 2),
            "on_call_share": round(float(self.share), 4),
            "on_call_share_over_25_percent": self.share > rules.ONCALL_SHARE_LIMIT,
            "pages": self.pages,
            "sleep_hours_pages": self.sleep_pages,
            "off_hours_pages": self.off_hours_pages,
            "pages_while_not_on_call": self.pages_off_call,
            "incidents": self.incidents,
            "incident_hours": round(self.incidents * hours_per_incident, 2),
            "shift_blocks": len(self.blocks),
            "max_pages_per_12h": max((b.pages for b in self.blocks), default=0),
            "blocks_over_2_pages": [b.to_dict() for b in flagged],
            "acknowledged_via": {method: stats.to_dict() for method, stats in sorted(self.acks.items())},
        }


@dataclass
class RotationHealth:
    schedule: str
    layer: str
    members: int
    around_the_clock: bool
    blocks: list[Block] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "layer": self.layer,
            "members": self.members,
            "around_the_clock": self.around_the_clock,
            "below_8_person_minimum": self.around_the_clock and self.members < rules.ROTATION_MINIMUM,
            "pages": sum(b.pages for b in self.blocks),
            "max_pages_per_12h": max((b.pages for b in self.blocks), default=0),
            "blocks_over_2_pages": [b.to_dict() for b in self.blocks if b.pages > rules.PAGES_PER_BLOCK],
        }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def health(
    session: Session,
    *,
    config: OpsConfig,
    start: datetime,
    end: datetime,
    hours_per_incident: float = rules.HOURS_PER_INCIDENT,
) -> dict[str, Any]:
    """Pages per 12-hour block (flag > 2), sleep- and off-hours pages, share of time on call (flag
    > 25 %), incident-hours, and each rotation's size against the 8-person rule."""
    oncall_service.check_range(start, end)
    lo, hi = rules.epoch(start), rules.epoch(end)
    stretches, rotations = _on_call(session, config, start, end, lo, hi)
    windows: list[dict[str, Any]] = []
    people: dict[str, PersonHealth] = {}
    for handle in sorted(set(stretches) | {p.handle for p in config.people}):
        person = config.person(handle)
        zone = person.timezone if person else "UTC"
        health = people[handle] = PersonHealth(handle, zone)
        merged = [(max(a, lo), min(b, hi)) for a, b in rules.merge(stretches.get(handle, []))]
        health.on_call_seconds = sum(b - a for a, b in merged if b > a)
        health.share = Fraction(health.on_call_seconds, hi - lo)
        windows += _person_windows(config, handle, zone, start, end, stretches.get(handle, []), lo, hi)
    for r, (_schedule, _layer, shifts) in enumerate(rotations):
        for person, a, b in shifts:
            for s, e in rules.blocks([(a, b)], lo, hi):
                windows.append({"k": "rblock", "r": str(r), "p": person, "s": s, "e": e})
    d = Dialect.of(session)
    params = {"w": json.dumps(windows), "start": start, "end": end}
    _count_pages(session, d, params, people)
    rotation_out = [
        RotationHealth(schedule.name, layer.name, *_size(schedule, layer))
        for schedule, layer, _shifts in rotations
    ]
    for kind, r, person, s, e, pages in _count_blocks(session, d, params):
        block = Block(int(s), int(e), int(pages))
        if kind == "block" and person in people:
            people[person].blocks.append(block)
        elif kind == "rblock":
            rotation_out[int(r)].blocks.append(block)
    for blocks in [*(p.blocks for p in people.values()), *(r.blocks for r in rotation_out)]:
        blocks.sort(key=lambda b: b.start)
    acks = ack_methods.by_person(session, start=start, end=end)
    for handle, methods in acks.items():
        if handle in people:
            people[handle].acks = dict(methods)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "hours_per_incident": hours_per_incident,
        "limits": {
            "pages_per_12h_block": rules.PAGES_PER_BLOCK,
            "on_call_share": float(rules.ONCALL_SHARE_LIMIT),
            "rotation_minimum_single_site": rules.ROTATION_MINIMUM,
            "sleep_hours": f"{rules.SLEEP_START:%H:%M}–{rules.SLEEP_END:%H:%M} in the person's timezone",
        },
        "acknowledged_via": ack_methods.summary(acks),
        "people": [p.to_dict(hours_per_incident) for p in people.values()],
        "rotations": [r.to_dict() for r in rotation_out],
    }


def _size(schedule: Schedule, layer: Layer) -> tuple[int, bool]:
    """A layer's distinct members and whether it covers the clock: a stack's are its layers' together
    (around the clock when one of them is)."""
    layers = schedule.stacked_layers(layer) if layer.rotation is None else [layer]
    members = {m for x in layers if x.rotation for m in x.rotation.members}
    return len(members), any(not x.restrictions for x in layers)


def _on_call(
    session: Session, config: OpsConfig, start: datetime, end: datetime, lo: int, hi: int
) -> tuple[dict[str, list[tuple[int, int]]], list[Any]]:
    """Each person's on-call stretches (whole shifts) and each layer's shifts.

    A rotation counts from its ``start`` (the rules give no shift before it) and from the apply that
    introduced its layer (``oncall.service.layers_applied_since``): a rotation that started in January
    and was first applied today puts nobody on call last month. Overrides count as recorded.

    A layer that a stack stacks counts toward its people's time only through the stack: where a
    higher layer covers it, its person is not who the stack pages. A stacked shift counts from when
    the layer it came from was applied. A person's stretches are merged, so no hour counts twice."""
    stretches: dict[str, list[tuple[int, int]]] = defaultdict(list)
    rotations = []
    applied = oncall_service.layers_applied_since(session)
    for schedule in config.schedules:
        beneath = schedule.in_stacks()
        for layer in schedule.layers:
            shifts = []
            for shift in oncall_service.schedule_shifts(
                session, config=config, schedule=schedule.name, start=start, end=end, layer=layer.name
            ):
                a, b = rules.epoch(shift.start), rules.epoch(shift.end)
                since = [
                    t for name in shift.via or (layer.name,) if (t := applied.get((schedule.name, name)))
                ]
                if since and not shift.by_override:
                    a = max(a, *(rules.epoch(t) for t in since))
                if b > lo and a < hi and b > a:
                    if layer.name not in beneath:
                        stretches[shift.person].append((a, b))
                    shifts.append((shift.person, a, b))
            rotations.append((schedule, layer, shifts))
    return stretches, rotations


def _person_windows(
    config: OpsConfig,
    handle: str,
    zone: str,
    start: datetime,
    end: datetime,
    stretches: list[tuple[int, int]],
    lo: int,
    hi: int,
) -> list[dict[str, Any]]:
    hours = config.settings.business_hours
    days = [WEEKDAYS.index(day) for day in hours.days]
    out = [
        {"k": "sleep", "r": "", "p": handle, "s": s, "e": e}
        for s, e in rules.local_windows(zone, start, end, rules.SLEEP_START, rules.SLEEP_END)
    ]
    out += [
        {"k": "work", "r": "", "p": handle, "s": s, "e": e}
        for s, e in rules.local_windows(zone, start, end, hours.start, hours.end, days)
    ]
    out += [{"k": "block", "r": "", "p": handle, "s": s, "e": e} for s, e in rules.blocks(stretches, lo, hi)]
    return out


_COLUMNS = {"k": "text", "r": "text", "p": "text", "s": "bigint", "e": "bigint"}


def _pages_cte(d: Dialect) -> str:
    return (
        f"WITH w AS (SELECT * FROM {d.json_rows('w', _COLUMNS)} AS x), "
        f"pages AS (SELECT DISTINCT person AS p, incident_id AS inc, {d.epoch('due_at')} AS t "
        "FROM outgoing_message WHERE key LIKE 'page/%' AND person IS NOT NULL "
        "AND due_at >= :start AND due_at < :end) "
    )


def _typed(sql: str) -> Any:
    return text(sql).bindparams(
        bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())
    )


def _inside(kind: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM w WHERE w.k = '{kind}' AND w.p = pages.p "
        "AND pages.t >= w.s AND pages.t < w.e)"
    )


def _count_pages(
    session: Session, d: Dialect, params: dict[str, Any], people: dict[str, PersonHealth]
) -> None:
    sql = _typed(
        _pages_cte(d) + "SELECT p, COUNT(*), COUNT(DISTINCT inc), "
        f"SUM(CASE WHEN {_inside('sleep')} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {_inside('work')} THEN 0 ELSE 1 END), "
        f"SUM(CASE WHEN {_inside('block')} THEN 0 ELSE 1 END) "
        "FROM pages GROUP BY p"
    )
    for person, pages, incidents, sleep, off_hours, off_call in session.execute(sql, params):
        found = people.get(person) or people.setdefault(person, PersonHealth(person, "UTC"))
        found.pages, found.incidents = int(pages), int(incidents)
        found.sleep_pages, found.off_hours_pages, found.pages_off_call = (
            int(sleep),
            int(off_hours),
            int(off_call),
        )


def _count_blocks(session: Session, d: Dialect, params: dict[str, Any]) -> list[Any]:
    sql = _typed(
        _pages_cte(d) + "SELECT w.k, w.r, w.p, w.s, w.e, COUNT(pages.t) FROM w "
        "LEFT JOIN pages ON pages.p = w.p AND pages.t >= w.s AND pages.t < w.e "
        "WHERE w.k IN ('block', 'rblock') GROUP BY w.k, w.r, w.p, w.s, w.e"
    )
    return list(session.execute(sql, params))
