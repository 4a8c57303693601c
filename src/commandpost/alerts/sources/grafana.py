"""Grafana unified alerting webhook contact point
(``tests/fixtures/payloads/grafana_webhook_contact_point.jsonc``).

Like Alertmanager's webhook (Grafana's alerting is built on it), one request carries a group
of firing and resolved alerts; each alert becomes one event keyed by its fingerprint, and the
request's ``groupKey`` groups them. The per-alert ``status`` decides trigger or resolve; older
payloads without it fall back to the top-level ``status``, then the deprecated ``state``
(``alerting`` / ``ok``). Dashboard, panel, silence and rule ("generator") URLs are kept as
links — only http(s) ones, since they are shown as clickable links to responders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commandpost.alerts.intake.wire import Fields, parse_json, top_object, type_name
from commandpost.alerts.normalized import Link, NormalizedEvent
from commandpost.alerts.sources.alertmanager import fingerprint

if TYPE_CHECKING:
    from commandpost.alerts.sources.registry import SourceContext

MAX_SUMMARY = 1024
_STATE_STATUS = {"alerting": "firing", "ok": "resolved"}
_LINKS = (
    ("dashboardURL", "Grafana dashboard"),
    ("panelURL", "Grafana panel"),
    ("generatorURL", "Grafana alert rule"),
    ("silenceURL", "Silence in Grafana"),
    ("imageURL", "Alert image"),
)


def parse(body: bytes, ctx: SourceContext | None = None) -> list[NormalizedEvent]:
    """The intake registry's entry point."""
    return parse_grafana(body)


def parse_grafana(body: bytes) -> list[NormalizedEvent]:
    """One event per alert; raises BadRequest (400: not JSON, too deep) or ValidationFailed (422:
    every wrong field at once, each with its path, e.g. ``alerts[1].labels.team: expected a string``).
    """
    obj = top_object(parse_json(body), "Grafana webhook")
    f = Fields()
    if "alerts" not in obj:
        f.error(
            "alerts", "is required (a Grafana unified alerting webhook; legacy alerting is not supported)"
        )
    version = obj.get("version")
    if version is not None and version != "1":
        f.error("version", f"{version!r} is not supported; Grafana's webhook sends version '1'")
    alerts = f.array(obj, "alerts", "")
    if "alerts" in obj and isinstance(obj["alerts"], list) and not alerts:
        f.error("alerts", "is empty; a webhook carries at least one alert")
    state = f.string(obj, "state", choices=tuple(_STATE_STATUS))
    group_status = f.string(obj, "status", choices=("firing", "resolved")) or _STATE_STATUS.get(state, "")
    group_key = f.string(obj, "groupKey", max_length=1024) or None
    title = f.string(obj, "title")
    external_url = _http(f.string(obj, "externalURL"))
    shared: dict[str, Any] = {
        key: value
        for key, value in (
            ("receiver", f.string(obj, "receiver")),
            ("org_id", f.integer(obj, "orgId")),
            ("truncated_alerts", f.integer(obj, "truncatedAlerts")),
        )
        if value
    }
    f.done()

    events = []
    for i, item in enumerate(alerts):
        event = _alert(f, item, f"alerts[{i}]", group_status, group_key, title, shared, external_url)
        if event is not None:
            events.append(event)
    f.done()
    return events


def _alert(
    f: Fields,
    item: Any,
    path: str,
    group_status: str,
    group_key: str | None,
    title: str,
    shared: dict[str, Any],
    external_url: str,
) -> NormalizedEvent | None:
    alert = f.object(item, path)
    if alert is None:
        return None
    labels = f.string_map(alert, "labels", path)
    annotations = f.string_map(alert, "annotations", path)
    status = f.string(alert, "status", path, choices=("firing", "resolved")) or group_status
    starts = f.time(alert, "startsAt", path)
    ends = f.time(alert, "endsAt", path)
    fp = f.string(alert, "fingerprint", path, max_length=64)
    urls = [(f.string(alert, key, path), text) for key, text in _LINKS]
    values = alert.get("values")
    if values is not None and not isinstance(values, dict):
        f.error(f"{path}.values", f"expected an object of numbers, got {type_name(values)}")
    value_string = f.string(alert, "valueString", path)
    if not status:
        f.error(f"{path}.status", "is required (firing or resolved) when the webhook has no status or state")
        return None
    if not labels and not fp:
        f.error(f"{path}.labels", "is required (at least alertname) when there is no fingerprint")
        return None

    alertname = labels.get("alertname", "")
    summary = annotations.get("summary") or annotations.get("description") or alertname or title
    links = [Link(href, text) for href, text in ((_http(u), t) for u, t in urls) if href]
    if external_url:
        links.append(Link(external_url, "Grafana"))
    details = dict(shared)
    if values:
        details["values"] = values
    if value_string:
        details["value_string"] = value_string
    return NormalizedEvent(
        action="trigger" if status == "firing" else "resolve",
        dedup_key=fp or fingerprint(labels),
        summary=summary[:MAX_SUMMARY],
        source_severity=labels.get("severity", ""),
        alertname=alertname,
        source=labels.get("instance", "") or labels.get("job", ""),
        labels=labels,
        annotations=annotations,
        details=details,
        starts_at=starts,
        ends_at=ends if status == "resolved" else None,
        links=tuple(links),
        group_key=group_key,
        runbook_url=annotations.get("runbook_url") or None,
        raw=item,
    )


def _http(url: str) -> str:
    """``url`` if it is http(s); anything else (``javascript:``…) is not a link we show."""
    return url if url.startswith(("https://", "http://")) else ""
