"""The PagerDuty parser's quick path for common triggers gives exactly what the full check gives, and
never lets through a body the full check refuses (property-based: fields of every JSON type)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commandpost.alerts.sources import pagerduty
from commandpost.errors import CommandpostError

ANY_JSON = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.sampled_from(["", "x", "critical", "warning", "trigger", "resolve"]),
    st.text(max_size=5),
    st.just("s" * 1025),
    st.just("k" * 256),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.sampled_from(["href", "text", "alertname"]), st.text(max_size=3), max_size=2),
)
VALID = {
    "routing_key": "a" * 32,
    "event_action": "trigger",
    "dedup_key": "key-1",
    "payload": {
        "summary": "Queue deep",
        "source": "worker-1",
        "severity": "warning",
        "component": "queue",
        "custom_details": {"alertname": "Q", "runbook_url": "https://r/1"},
    },
}
TOP = ["routing_key", "event_action", "dedup_key", "payload", "links", "images", "client", "client_url"]
INNER = ["summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"]
MISSING = object()
CHANGE = st.one_of(
    st.just(MISSING),
    ANY_JSON,
    st.just("2026-06-24T03:00:00Z"),
    st.just([{"href": "https://runbooks/x", "text": "runbook"}]),
)


@st.composite
def bodies(draw):
    """A valid trigger with up to three fields removed or replaced by any JSON value."""
    obj = {**VALID, "payload": dict(VALID["payload"])}
    for name in draw(st.lists(st.sampled_from(TOP + INNER), max_size=3, unique=True)):
        where = obj["payload"] if name in INNER and isinstance(obj.get("payload"), dict) else obj
        value = draw(CHANGE)
        if value is MISSING:
            where.pop(name, None)
        else:
            where[name] = value
    return obj


def full_check(body: bytes):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(pagerduty, "_plain_trigger", lambda obj: None)
        return pagerduty.parse_event(body)


def same(a, b) -> dict:
    """Fields of an event, the generated dedup key (a random uuid) left out."""
    out = dataclasses.asdict(a)
    if out["dedup_key"] != b.dedup_key and len(out["dedup_key"]) == 32:
        out["dedup_key"] = b.dedup_key
    return out


@settings(max_examples=600, deadline=None)
@given(obj=bodies())
def test_the_quick_path_agrees_with_the_full_check(obj):
    body = orjson.dumps(obj)
    try:
        expected = full_check(body)
    except CommandpostError:
        assert pagerduty._plain_trigger(obj) is None  # refused by the full check: never taken
        return
    got = pagerduty.parse_event(body)
    assert got.routing_key == expected.routing_key
    assert same(got.event, expected.event) == dataclasses.asdict(expected.event)


def test_the_quick_path_takes_the_common_trigger():
    obj = {
        "routing_key": "a" * 32,
        "event_action": "trigger",
        "dedup_key": "worker-1/queue",
        "payload": {"summary": "Queue deep", "source": "worker-1", "severity": "warning", "group": "w"},
    }
    assert pagerduty._plain_trigger(obj) == (
        "a" * 32,
        "worker-1/queue",
        obj["payload"],
        {"source": "worker-1", "group": "w"},
    )
    event = pagerduty.parse_event(orjson.dumps(obj)).event
    assert event == full_check(orjson.dumps(obj)).event
    assert (event.group_key, event.labels, event.raw) == (
        "w",
        {"source": "worker-1", "group": "w"},
        {k: v for k, v in obj.items() if k != "routing_key"},
    )
