"""The one shape every source adapter produces, whatever the wire format.

A source module (``sources/pagerduty.py``, ``sources/alertmanager.py`` …) parses and
validates the raw request and returns a list of :class:`NormalizedEvent`; the intake
service stores, deduplicates and routes them without knowing the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Action = Literal["trigger", "acknowledge", "resolve", "record"]
"""``record``: kept for the record, changes no alert state (e.g. CloudWatch INSUFFICIENT_DATA)."""


# Not frozen (treated as immutable all the same): a frozen dataclass costs several times more to
# build, and intake builds one event and a few links per alert.


@dataclass(slots=True)
class Link:
    href: str
    text: str = ""


@dataclass(slots=True)
class Subscription:
    """An SNS (un)subscription confirmation, kept apart from the redacted copies of the delivery.

    ``subscribe_url`` is the SubscribeURL *with its Token*: it is stored in ``sns_subscription``
    unredacted (an operator needs it whole to confirm) and shown only to admins; everywhere else
    (the raw body, the event summary, logs) the token is redacted.
    """

    topic_arn: str
    message_id: str
    state: Literal["pending", "confirmed", "unsubscribed"]
    subscribe_url: str | None = None
    subscription_arn: str | None = None


@dataclass(slots=True)
class Clamped:
    """A source's time the intake did not take as given (see :mod:`commandpost.alerts.timebounds`)."""

    field: Literal["starts_at", "ends_at"]
    source: datetime
    used: datetime
    why: Literal["too old", "in the future"]
    limit: timedelta
    """the bound it crossed: the maximum age, or the clock skew allowed"""


@dataclass(slots=True)
class NormalizedEvent:
    action: Action
    dedup_key: str
    summary: str = ""
    source_severity: str = ""
    alertname: str = ""
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    links: tuple[Link, ...] = ()
    group_key: str | None = None
    runbook_url: str | None = None
    idempotency_key: str | None = None
    """Set when the source names each delivery (SNS MessageId): a retried delivery changes nothing."""
    kind: Literal["alert", "change"] = "alert"
    raw: Any = None
    """The part of the body this event came from (one alert of a batch); stored redacted and size-capped.
    None: the pipeline stores the whole request body."""
    subscription: Subscription | None = None
    """SNS subscription confirmations only: what ``sns_subscription`` keeps for an operator."""
    clamped: tuple[Clamped, ...] = ()
    """Set by the pipeline, not by sources: the times it bounded (noted on the incident's timeline)."""


_new = object.__new__


def make_event(
    action: Action,
    dedup_key: str,
    *,
    summary: str = "",
    source_severity: str = "",
    alertname: str = "",
    source: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    links: tuple[Link, ...] = (),
    group_key: str | None = None,
    runbook_url: str | None = None,
    idempotency_key: str | None = None,
    kind: Literal["alert", "change"] = "alert",
    raw: Any = None,
    subscription: Subscription | None = None,
    clamped: tuple[Clamped, ...] = (),
) -> NormalizedEvent:
    """``NormalizedEvent(...)`` by keyword, for a source's hot path (None for a mapping: empty).

    Calling a class with keywords packs them into a dict for ``__init__`` (a function call with
    keywords does not): 14 keywords cost ~0.5 µs that way, more than the rest of building the event.
    A test holds this to the dataclass's fields and defaults."""
    event = _new(NormalizedEvent)
    event.action = action
    event.dedup_key = dedup_key
    event.summary = summary
    event.source_severity = source_severity
    event.alertname = alertname
    event.source = source
    event.labels = {} if labels is None else labels
    event.annotations = {} if annotations is None else annotations
    event.details = {} if details is None else details
    event.starts_at = starts_at
    event.ends_at = ends_at
    event.links = links
    event.group_key = group_key
    event.runbook_url = runbook_url
    event.idempotency_key = idempotency_key
    event.kind = kind
    event.raw = raw
    event.subscription = subscription
    event.clamped = clamped
    return event
