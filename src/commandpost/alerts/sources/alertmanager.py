"""Prometheus Alertmanager webhook, payload version 4
(``tests/fixtures/payloads/alertmanager_webhook_v4.jsonc``).

One request carries a whole aggregation group: firing and resolved alerts together. Each alert
becomes one event whose dedup key is its fingerprint (computed the way Alertmanager does when an
older version omits it), so Alertmanager's re-sends of the group are harmless repeats. The
``groupKey`` is the group key for routing; ``truncatedAlerts`` (alerts dropped by ``max_alerts``)
is recorded in every event's details.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from commandpost.alerts.intake.wire import Fields, parse_json, parse_time, top_object
from commandpost.alerts.normalized import Link, NormalizedEvent, make_event

if TYPE_CHECKING:
    from commandpost.alerts.sources.registry import SourceContext

MAX_SUMMARY = 1024
MAX_FINGERPRINT = 64
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
            value = ((value ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


def parse(body: bytes, ctx: SourceContext | None = None) -> list[NormalizedEvent]:
    obj = top_object(parse_json(body), "Alertmanager webhook")
    f = Fields()
    version = obj.get("version")
    if version is not None and version != "4":
        f.error("version", f"{version!r} is not supported; Alertmanager webhooks send version '4'")
    if "alerts" not in obj:
        f.error("alerts", "is required")
    alerts = f.array(obj, "alerts", "")
    group_key = f.string(obj, "groupKey") or None
    group_status = f.string(obj, "status")
    receiver = f.string(obj, "receiver")
    external_url = f.string(obj, "externalURL")
    truncated = f.integer(obj, "truncatedAlerts")
    common_annotations = f.string_map(obj, "commonAnnotations")
    f.done()

    shared: dict[str, Any] = {"receiver": receiver} if receiver else {}
    if truncated:
        shared["truncated_alerts"] = truncated
    events = []
    for i, item in enumerate(alerts):
        read = _plain(item) or _checked(f, item, f"alerts[{i}]", ctx, group_status)
        if read is None:
            continue
        labels, annotations, status, starts, ends, generator, fp = read
        annotations = {**common_annotations, **annotations} if common_annotations else annotations
        alertname = labels.get("alertname", "")
        summary = annotations.get("summary") or annotations.get("description") or alertname
        links = (Link(generator, "Prometheus"),) if generator else ()
        if external_url:
            links = (*links, Link(external_url, "Alertmanager"))
        events.append(
            make_event(
                "trigger" if status == "firing" else "resolve",
                fp or fingerprint(labels),
                summary=summary[:MAX_SUMMARY],
                source_severity=labels.get("severity", ""),
                alertname=alertname,
                source=labels.get("instance", "") or labels.get("job", ""),
                labels=labels,
                annotations=annotations,
                details=shared,
                starts_at=starts,
                ends_at=ends,
                links=links,
                group_key=group_key,
                runbook_url=annotations.get("runbook_url") or annotations.get("runbook") or None,
                raw=item,
            )
        )
    f.done()
    return events


_Read = tuple[dict[str, str], dict[str, str], str, datetime | None, datetime | None, str, str]
_STRING = frozenset((str,))


def _plain(item: Any) -> _Read | None:
    """An alert's fields (labels … fingerprint), read directly when every one has the type it should
    — as in every alert Alertmanager sends — with a few C-speed checks instead of a call per field.
    None: something is off or missing, and :func:`_checked` finds what and where."""
    if item.__class__ is not dict:
        return None
    labels = item.get("labels")
    if labels.__class__ is not dict or not labels or not _STRING.issuperset(map(type, labels.values())):
        return None
    annotations = item.get("annotations")
    if annotations is None:
        annotations = {}
    elif annotations.__class__ is not dict or not _STRING.issuperset(map(type, annotations.values())):
        return None
    status = item.get("status")
    if status != "firing" and status != "resolved":
        return None
    generator = item.get("generatorURL")
    if generator is None:
        generator = ""
    elif generator.__class__ is not str:
        return None
    fp = item.get("fingerprint")
    if fp is None:
        fp = ""
    elif fp.__class__ is not str or len(fp) > MAX_FINGERPRINT:
        return None
    starts = item.get("startsAt")
    ends = item.get("endsAt")
    try:
        starts = None if starts is None or starts == "" else parse_time(starts)
        ends = None if ends is None or ends == "" else parse_time(ends)
    except (TypeError, ValueError):  # not a string (lru_cache or fromisoformat says so), or not a time
        return None
    return labels, annotations, status, starts, ends, generator, fp


def _checked(f: Fields, item: Any, path: str, ctx: SourceContext | None, group_status: str) -> _Read | None:
    """An alert's fields through :class:`Fields`, each problem recorded with its path. None: unusable."""
    alert = f.object(item, path)
    if alert is None:
        return None
    labels = f.string_map(alert, "labels", path)
    annotations = f.string_map(alert, "annotations", path)
    status = f.string(alert, "status", path, choices=("firing", "resolved"))
    starts = f.time(alert, "startsAt", path)
    ends = f.time(alert, "endsAt", path)
    generator = f.string(alert, "generatorURL", path)
    fp = f.string(alert, "fingerprint", path, max_length=MAX_FINGERPRINT)
    if not labels:
        f.error(f"{path}.labels", "is required (at least alertname)")
        return None
    if not status:  # Alertmanager before 0.16 sends no per-alert status: an end in the past resolves
        ended = ends is not None and ctx is not None and ctx.now is not None and ends <= ctx.now
        status = "resolved" if ended or (ends is not None and group_status == "resolved") else "firing"
    return labels, annotations, status, starts, ends, generator, fp
