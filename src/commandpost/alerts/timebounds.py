"""Bounds on the times a source gives, before an alert's start becomes an incident's impact start.

A source's clock, or its example payload, is not to be trusted with the metrics: PagerDuty's
documentation example carries ``timestamp: 2015-07-17``, and taken as given it opened an incident
whose impact began in 2015 (MTTD = detected − impact start: eleven years). So every event's time
is held to a window around its receipt, ``now``:

- older than ``now − max_age`` (``COMMANDPOST_ALERT_START_MAX_AGE_SECONDS``, default 24 h): taken as
  ``now − max_age``. For a new alert ``now`` is its first receipt; a repeat's start is never read.
- later than ``now + skew`` (``COMMANDPOST_ALERT_CLOCK_SKEW_SECONDS``, default 5 min): taken as ``now``.
  Within the skew the source's time is kept (the impact start is never later than detection anyway).

The times bounded are a trigger's ``starts_at`` and a resolve's ``ends_at`` (the alert's end). A
firing alert's ``ends_at`` is the source's forecast and is kept; change events keep their time (an
old deploy is simply not a recent change). Each bounded time is recorded on the event
(:attr:`NormalizedEvent.clamped`) and the pipeline says so on the incident's timeline. Pure logic:
no I/O, and nothing is copied when every time is within bounds (the common case, per event).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from commandpost.alerts.normalized import Clamped, NormalizedEvent

if TYPE_CHECKING:
    from commandpost.settings import Settings

DEFAULT_MAX_AGE = timedelta(hours=24)
DEFAULT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TimeBounds:
    max_age: timedelta = DEFAULT_MAX_AGE
    skew: timedelta = DEFAULT_SKEW

    @classmethod
    def of(cls, settings: Settings) -> TimeBounds:
        return cls(
            max_age=timedelta(seconds=settings.alert_start_max_age_seconds),
            skew=timedelta(seconds=settings.alert_clock_skew_seconds),
        )


DEFAULT = TimeBounds()


def clamp_all(
    events: Sequence[NormalizedEvent], now: datetime, bounds: TimeBounds = DEFAULT
) -> Sequence[NormalizedEvent]:
    """``events`` as given when every time is within bounds, else a list with the bounded copies."""
    oldest, latest = now - bounds.max_age, now + bounds.skew
    out: list[NormalizedEvent] | None = None
    for i, event in enumerate(events):
        bounded = _clamp(event, now, oldest, latest, bounds)
        if bounded is not event:
            if out is None:
                out = list(events)
            out[i] = bounded
    return events if out is None else out


def clamp(event: NormalizedEvent, now: datetime, bounds: TimeBounds = DEFAULT) -> NormalizedEvent:
    """``event`` as given when its time is within bounds, else a copy with that time bounded."""
    return _clamp(event, now, now - bounds.max_age, now + bounds.skew, bounds)


def _clamp(
    event: NormalizedEvent, now: datetime, oldest: datetime, latest: datetime, bounds: TimeBounds
) -> NormalizedEvent:
    if event.kind != "alert":
        return event
    if event.action == "trigger":
        name, value = "starts_at", event.starts_at
    elif event.action == "resolve":
        name, value = "ends_at", event.ends_at
    else:
        return event
    if value is None or oldest <= value <= latest:
        return event
    if value < oldest:
        used, why, limit = oldest, "too old", bounds.max_age
    else:
        used, why, limit = now, "in the future", bounds.skew
    bounded = _copy(event)
    setattr(bounded, name, used)
    bounded.clamped = (*event.clamped, Clamped(name, value, used, why, limit))  # type: ignore[arg-type]
    return bounded


_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(NormalizedEvent)))


def _copy(event: NormalizedEvent) -> NormalizedEvent:
    """A shallow copy of ``event``: every field is an ``__init__`` argument, in order. A tenth of the
    CPU of ``dataclasses.replace``, which mattered: a long-firing alert's every repeat is bounded."""
    return NormalizedEvent(*_FIELDS(event))


def note(event: NormalizedEvent) -> tuple[str, dict[str, Any]] | None:
    """The timeline's words and data for the times bounded on ``event`` (None: none were)."""
    if not event.clamped:
        return None
    parts = []
    for c in event.clamped:
        what = "start" if c.field == "starts_at" else "end"
        if c.why == "too old":
            parts.append(
                f"the source gave the alert's {what} as {_utc(c.source)}, more than {span(c.limit)} "
                f"before it arrived: taken as {_utc(c.used)} (COMMANDPOST_ALERT_START_MAX_AGE_SECONDS)"
            )
        else:
            parts.append(
                f"the source gave the alert's {what} as {_utc(c.source)}, in the future (more than "
                f"{span(c.limit)} after it arrived): taken as its arrival, {_utc(c.used)} "
                "(COMMANDPOST_ALERT_CLOCK_SKEW_SECONDS)"
            )
    data = {
        "clamped": [
            {"field": c.field, "source": c.source.isoformat(), "used": c.used.isoformat(), "why": c.why}
            for c in event.clamped
        ]
    }
    return "; ".join(parts), data


def span(delta: timedelta) -> str:
    """``24h``, ``90m``, ``300s``: the bound as a person configured it, in its largest whole unit."""
    seconds = int(delta.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
