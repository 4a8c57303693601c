"""PagerDuty Events API v2: ``POST /v2/enqueue`` (trigger / acknowledge / resolve) and
``POST /v2/change/enqueue`` (change events), so any tool or library that speaks PagerDuty can send here.

Rules follow PagerDuty's documentation (``tests/fixtures/payloads/pagerduty_events_v2_enqueue.jsonc``):
``routing_key`` and ``event_action`` are required; ``dedup_key`` ≤ 255 characters, generated
when a trigger has none, required for acknowledge/resolve; a trigger needs ``payload`` with
``summary`` (≤ 1024), ``source`` and ``severity`` (critical, error, warning, info).

Rule matching sees ``alertname`` = ``custom_details.alertname`` when it is a string, else
``payload.class``; and the labels ``source``, ``component``, ``group``, ``class``. The group key
is ``payload.group``. A runbook comes from ``custom_details.runbook_url`` or a link whose text or
address mentions "runbook".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commandpost.alerts.intake.wire import Fields, parse_json, top_object
from commandpost.alerts.normalized import Link, NormalizedEvent, make_event

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
_LABEL_FIELDS = ("source", "component", "group", "class")
_OTHER_LABELS = _LABEL_FIELDS[1:]


@dataclass(slots=True)
class Enqueued:
    """One PagerDuty request: the integration it names and the event it carries (not frozen, like
    NormalizedEvent: a frozen one costs twice as much to build, once per request)."""

    routing_key: str
    event: NormalizedEvent


def parse_event(body: bytes) -> Enqueued:
    """A ``/v2/enqueue`` body → the routing key and one normalized event (422 with every problem)."""
    obj = top_object(parse_json(body))
    plain = _plain_trigger(obj)
    if plain is not None:
        routing_key, dedup_key, payload, labels = plain
        event = _trigger(obj, dedup_key, payload, labels, payload["summary"], payload["severity"])
        return Enqueued(routing_key, event)
    f = Fields()
    routing_key = f.string(obj, "routing_key", required=True)
    action = f.string(obj, "event_action", required=True, choices=ACTIONS)
    needs_key = action in ("acknowledge", "resolve")
    dedup_key = f.string(obj, "dedup_key", required=needs_key, max_length=MAX_DEDUP_KEY)
    if action != "trigger":
        f.done()
        return Enqueued(routing_key, make_event(action, dedup_key, raw=_raw(obj)))  # type: ignore[arg-type]

    payload, p = _payload(f, obj, "is required for event_action=trigger")
    summary = p.string(payload, "summary", "payload", required=True, max_length=MAX_SUMMARY)
    p.string(payload, "source", "payload", required=True)
    severity = p.string(payload, "severity", "payload", required=True, choices=SEVERITIES)
    started = p.time(payload, "timestamp", "payload")
    labels = {name: p.string(payload, name, "payload") for name in _LABEL_FIELDS}
    labels = {k: v for k, v in labels.items() if v}
    links = _links(f, obj)
    images = _images(f, obj)
    client = f.string(obj, "client")
    client_url = f.string(obj, "client_url")
    f.done()
    event = _trigger(
        obj, dedup_key, payload, labels, summary, severity, started, links, images, client, client_url
    )
    return Enqueued(routing_key, event)


def _plain_trigger(obj: dict[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, str]] | None:
    """The common trigger — every field of the right type and size; no timestamp, links, images or
    client — checked without collecting errors: (routing key, dedup key, payload, labels) as the full
    check would give them, or None for the full check (which also words the errors)."""
    routing_key = obj.get("routing_key")
    dedup_key = obj.get("dedup_key")
    payload = obj.get("payload")
    if (
        obj.get("event_action") != "trigger"
        or routing_key.__class__ is not str
        or not routing_key
        or not (dedup_key is None or (dedup_key.__class__ is str and len(dedup_key) <= MAX_DEDUP_KEY))
        or payload.__class__ is not dict
    ):
        return None
    # A body of the keys above alone (the usual one) has none of the optional ones to look for.
    if len(obj) > (3 if dedup_key is None else 4) and (
        obj.get("links") is not None
        or obj.get("images") is not None
        or obj.get("client") not in (None, "")
        or obj.get("client_url") not in (None, "")
    ):
        return None
    summary = payload.get("summary")
    source = payload.get("source")
    if (
        summary.__class__ is not str
        or not summary
        or len(summary) > MAX_SUMMARY
        or source.__class__ is not str
        or not source
        or payload.get("severity") not in SEVERITIES
        or payload.get("timestamp") not in (None, "")
    ):
        return None
    labels = {"source": source}
    for name in _OTHER_LABELS:
        value = payload.get(name)
        if value is None or value == "":
            continue
        if value.__class__ is not str:
            return None
        labels[name] = value
    return routing_key, dedup_key or "", payload, labels


def _trigger(
    obj: dict[str, Any],
    dedup_key: str,
    payload: dict[str, Any],
    labels: dict[str, str],
    summary: str,
    severity: str,
    started: datetime | None = None,
    links: tuple[Link, ...] = (),
    images: list[dict[str, str]] | None = None,
    client: str = "",
    client_url: str = "",
) -> NormalizedEvent:
    """The event of a checked trigger."""
    custom = payload.get("custom_details")
    custom_map = custom if isinstance(custom, dict) else {}
    alertname = custom_map.get("alertname")
    runbook_url = custom_map.get("runbook_url")
    if not isinstance(runbook_url, str) or not runbook_url:
        runbook_url = (
            next((link.href for link in links if "runbook" in (link.text + link.href).lower()), None)
            if links
            else None
        )
    if client_url:
        links = (*links, Link(client_url, client or "client"))
    details: dict[str, Any] = {}
    if custom is not None:
        details["custom_details"] = custom
    if images:
        details["images"] = images
    if client:
        details["client"] = client
    return make_event(
        "trigger",
        dedup_key or uuid.uuid4().hex,
        summary=summary,
        source_severity=severity,
        alertname=alertname if isinstance(alertname, str) else labels.get("class", ""),
        source=labels.get("source", ""),
        labels=labels,
        annotations={"runbook_url": runbook_url} if runbook_url else {},
        details=details,
        starts_at=started,
        links=links,
        group_key=labels.get("group"),
        runbook_url=runbook_url,
        raw=_raw(obj),
    )


def parse_change(body: bytes) -> Enqueued:
    """A ``/v2/change/enqueue`` body → the routing key and one change event (kind ``change``)."""
    obj = top_object(parse_json(body), "change event")
    f = Fields()
    routing_key = f.string(obj, "routing_key", required=True)
    payload, p = _payload(f, obj, "is required")
    summary = p.string(payload, "summary", "payload", required=True, max_length=MAX_SUMMARY)
    source = p.string(payload, "source", "payload")
    at = p.time(payload, "timestamp", "payload")
    links = _links(f, obj)
    images = _images(f, obj)
    f.done()
    details: dict[str, Any] = {}
    if payload.get("custom_details") is not None:
        details["custom_details"] = payload["custom_details"]
    if images:
        details["images"] = images
    event = make_event(
        "record",
        uuid.uuid4().hex,
        kind="change",
        summary=summary,
        source=source,
        details=details,
        starts_at=at,
        links=links,
        raw=_raw(obj),
    )
    return Enqueued(routing_key, event)


def _raw(obj: dict[str, Any]) -> dict[str, Any]:
    """The body as stored: without its routing key (a copy and a pop: a third of a comprehension's cost)."""
    raw = dict(obj)
    raw.pop("routing_key", None)
    return raw


def _payload(f: Fields, obj: dict[str, Any], missing: str) -> tuple[dict[str, Any], Fields]:
    """``payload`` and the Fields to check it with: a missing or non-object payload is one error,
    not one per field inside it (those go to a throwaway Fields)."""
    if "payload" not in obj:
        f.error("payload", missing)
        return {}, Fields()
    payload = f.object(obj["payload"], "payload")
    return (payload, f) if payload is not None else ({}, Fields())


def _links(f: Fields, obj: dict[str, Any]) -> tuple[Link, ...]:
    links = []
    for i, item in enumerate(f.array(obj, "links", "")):
        path = f"links[{i}]"
        link = f.object(item, path)
        if link is None:
            continue
        href = f.string(link, "href", path, required=True)
        text = f.string(link, "text", path)
        if href:
            links.append(Link(href, text))
    return tuple(links)


def _images(f: Fields, obj: dict[str, Any]) -> list[dict[str, str]]:
    images = []
    for i, item in enumerate(f.array(obj, "images", "")):
        path = f"images[{i}]"
        image = f.object(item, path)
        if image is None:
            continue
        src = f.string(image, "src", path, required=True)
        href = f.string(image, "href", path)
        alt = f.string(image, "alt", path)
        if src:
            images.append({k: v for k, v in (("src", src), ("href", href), ("alt", alt)) if v})
    return images
