"""Bounding a source's times: the bounded event is a copy, whole but for the bounded time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from commandpost.alerts import timebounds
from commandpost.alerts.normalized import Link, NormalizedEvent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _event(**changes: object) -> NormalizedEvent:
    every = NormalizedEvent(
        action="trigger",
        dedup_key="k",
        summary="s",
        source_severity="critical",
        alertname="A",
        source="api-1",
        labels={"alertname": "A"},
        annotations={"summary": "s"},
        details={"receiver": "r"},
        starts_at=NOW - timedelta(days=400),
        ends_at=NOW + timedelta(hours=1),
        links=(Link("http://g", "Prometheus"),),
        group_key="g",
        runbook_url="http://rb",
        idempotency_key="i",
        raw={"a": 1},
    )
    return dataclasses.replace(every, **changes)  # type: ignore[arg-type]


def test_a_bounded_event_is_a_whole_copy_and_the_original_is_untouched():
    old = _event()
    (bounded,) = timebounds.clamp_all([old], NOW)
    assert bounded is not old and old.starts_at == NOW - timedelta(days=400) and old.clamped == ()
    assert bounded.starts_at == NOW - timebounds.DEFAULT_MAX_AGE
    (clamped,) = bounded.clamped
    assert (clamped.field, clamped.source, clamped.why) == ("starts_at", old.starts_at, "too old")
    assert dataclasses.replace(bounded, starts_at=old.starts_at, clamped=()) == old


def test_a_resolve_has_its_end_bounded_and_events_within_bounds_are_returned_as_they_are():
    events = [_event(starts_at=NOW), _event(action="resolve", ends_at=NOW + timedelta(days=1))]
    first, resolved = timebounds.clamp_all(events, NOW)
    assert first is events[0] and resolved.ends_at == NOW and resolved.clamped[0].why == "in the future"
    kept = [_event(starts_at=NOW)]
    assert timebounds.clamp_all(kept, NOW) is kept
