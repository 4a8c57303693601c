"""``make_event`` (the keyword-dict-free way to build an event) is ``NormalizedEvent(...)``: the same
parameters in the same order with the same defaults, and the same event from any keywords."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from commandpost.alerts.normalized import Clamped, Link, NormalizedEvent, Subscription, make_event

AT = datetime(2026, 6, 24, 3, tzinfo=UTC)
VALUES = {
    "summary": st.text(max_size=3),
    "source_severity": st.sampled_from(["critical", "warning"]),
    "alertname": st.text(max_size=3),
    "source": st.text(max_size=3),
    "labels": st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2),
    "annotations": st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2),
    "details": st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    "starts_at": st.sampled_from([None, AT]),
    "ends_at": st.sampled_from([None, AT + timedelta(hours=1)]),
    "links": st.sampled_from([(), (Link("https://r/1", "runbook"),)]),
    "group_key": st.sampled_from([None, "g"]),
    "runbook_url": st.sampled_from([None, "https://r/1"]),
    "idempotency_key": st.sampled_from([None, "m-1"]),
    "kind": st.sampled_from(["alert", "change"]),
    "raw": st.sampled_from([None, {"a": 1}]),
    "subscription": st.sampled_from([None, Subscription("arn:t", "m-1", "pending")]),
    "clamped": st.sampled_from([(), (Clamped("starts_at", AT, AT, "too old", timedelta(days=1)),)]),
}


def test_it_takes_the_fields_in_order_with_their_defaults():
    fields = dataclasses.fields(NormalizedEvent)
    params = list(inspect.signature(make_event).parameters.values())
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default_factory is not dataclasses.MISSING:
            assert (p.default, f.default_factory()) == (None, {})  # None stands for the empty mapping
        else:
            assert p.default == (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(["trigger", "acknowledge", "resolve", "record"]),
    given_fields=st.fixed_dictionaries({}, optional=VALUES),
)
def test_it_builds_what_the_class_builds(action, given_fields):
    built = make_event(action, "key-1", **given_fields)
    expected = NormalizedEvent(action, "key-1", **given_fields)
    assert built == expected
    assert repr(built) == repr(expected)
    for name in ("labels", "annotations", "details"):  # a fresh mapping each, never one shared
        if name not in given_fields:
            assert getattr(built, name) is not getattr(make_event(action, "key-1"), name)
