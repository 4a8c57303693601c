"""Generic JSON: a small documented schema for anything that can POST JSON (scripts, cron jobs, CI).

The body is one event object, or an array of up to :data:`MAX_EVENTS` of them::

    {
      "dedup_key": "disk-full/db-1",        required, ≤ 255 characters
      "status": "firing",                   firing | acknowledged | resolved   (default firing)
      "summary": "Disk 95% full on db-1",  required when firing, ≤ 1024 characters
      "severity": "critical",               the source's own severity word (rules may match it)
      "alertname": "DiskFull",              optional, for alert rules
      "source": "db-1",                     optional: the affected system
      "labels": {"team": "payments"},       optional, strings only
      "annotations": {"runbook_url": "…"},  optional, strings only
      "details": {…},                       optional, any JSON (≤ 32 levels deep)
      "links": [{"href": "…", "text": "…"}],
      "runbook_url": "https://…/slug",      optional (also read from annotations.runbook_url)
      "group": "payments-db",               optional group key: alerts with one group share an incident
      "starts_at": "2026-06-24T03:00:00Z",  optional RFC 3339 (impact start), also ends_at
      "idempotency_key": "delivery-7781"    optional: a retried delivery with this key changes nothing
    }

Unknown fields are refused, so a typo (``"sumary"``) is an error rather than a silent loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commandpost.alerts.intake.wire import Fields, parse_json, type_name
from commandpost.alerts.normalized import Link, NormalizedEvent
from commandpost.errors import ValidationFailed

if TYPE_CHECKING:
    from commandpost.alerts.sources.registry import SourceContext

MAX_EVENTS = 1000
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
STATUSES = {"firing": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
FIELDS = frozenset(
    {
        "dedup_key",
        "status",
        "summary",
        "severity",
        "alertname",
        "source",
        "labels",
        "annotations",
        "details",
        "links",
        "runbook_url",
        "group",
        "starts_at",
        "ends_at",
        "idempotency_key",
    }
)


def parse(body: bytes, ctx: SourceContext | None = None) -> list[NormalizedEvent]:
    doc = parse_json(body)
    if isinstance(doc, dict):
        items, prefix = [doc], ""
    elif isinstance(doc, list):
        if not doc:
            raise ValidationFailed("invalid event: the array is empty", details=["expected 1 or more events"])
        if len(doc) > MAX_EVENTS:
            raise ValidationFailed(
                f"invalid event: {len(doc)} events in one request; the limit is {MAX_EVENTS}",
                details=[f"send at most {MAX_EVENTS} events per request"],
            )
        items, prefix = doc, "[]"
    else:
        raise ValidationFailed(
            f"invalid event: the body must be an object or an array of objects, got {type_name(doc)}",
            details=[f"expected an object, got {type_name(doc)}"],
        )
    f = Fields()
    events = [_event(f, item, f"[{i}]" if prefix else "") for i, item in enumerate(items)]
    f.done()
    return [e for e in events if e is not None]


def _event(f: Fields, item: Any, path: str) -> NormalizedEvent | None:
    obj = f.object(item, path or "body")
    if obj is None:
        return None
    for key in obj:
        if key not in FIELDS:
            f.error(f.join(path, key), f"unknown field; the fields are {', '.join(sorted(FIELDS))}")
    dedup_key = f.string(obj, "dedup_key", path, required=True, max_length=MAX_DEDUP_KEY)
    status = f.string(obj, "status", path, choices=tuple(STATUSES)) or "firing"
    summary = f.string(obj, "summary", path, required=status == "firing", max_length=MAX_SUMMARY)
    annotations = f.string_map(obj, "annotations", path)
    runbook_url = f.string(obj, "runbook_url", path) or annotations.get("runbook_url") or None
    details = obj.get("details")
    if details is not None and not isinstance(details, dict):
        f.error(f.join(path, "details"), f"expected an object, got {type_name(details)}")
    links = []
    for i, entry in enumerate(f.array(obj, "links", path)):
        where = f"{f.join(path, 'links')}[{i}]"
        link = f.object(entry, where)
        if link is not None:
            href = f.string(link, "href", where, required=True)
            links.append(Link(href, f.string(link, "text", where)))
    return NormalizedEvent(
        action=STATUSES[status],  # type: ignore[arg-type]
        dedup_key=dedup_key,
        summary=summary,
        source_severity=f.string(obj, "severity", path, max_length=50),
        alertname=f.string(obj, "alertname", path, max_length=200),
        source=f.string(obj, "source", path, max_length=200),
        labels=f.string_map(obj, "labels", path),
        annotations=annotations,
        details=details if isinstance(details, dict) else {},
        starts_at=f.time(obj, "starts_at", path),
        ends_at=f.time(obj, "ends_at", path),
        links=tuple(links),
        group_key=f.string(obj, "group", path, max_length=300) or None,
        runbook_url=runbook_url,
        idempotency_key=f.string(obj, "idempotency_key", path, max_length=255) or None,
        raw=obj,
    )
