"""A tracker's webhook, verified before it is believed, then read as "this ticket is now in this state".

Each tracker proves a delivery its own documented way: GitHub ``X-Hub-Signature-256`` and Jira's
admin webhooks ``X-Hub-Signature`` (``sha256=`` + hex HMAC-SHA256 of the raw body), Linear
``Linear-Signature`` (hex HMAC-SHA256 of the raw body, and a ``webhookTimestamp`` no older than a
minute), GitLab ``X-Gitlab-Token`` (the shared secret itself). Comparisons are constant-time. No
secret configured, no header, a wrong one: :class:`~commandpost.errors.Unauthorized` (401), before
the body is parsed. A delivery about something else (a comment, a ping) is :data:`None`: answered
200 and ignored.

A signature proves who sent a body, not that it is new: a captured delivery stays valid forever
(Linear's excepted, for a minute). :func:`delivery_id` reads the id each tracker gives a delivery
(the same on its retries), which ``tickets.remember`` keeps so that a replay changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commandpost.errors import BadRequest, Unauthorized
from commandpost.postmortems import trackers

SECRET_VARS = {
    "github": "COMMANDPOST_GITHUB_WEBHOOK_SECRET",
    "gitlab": "COMMANDPOST_GITLAB_WEBHOOK_TOKEN",
    "jira": "COMMANDPOST_JIRA_WEBHOOK_SECRET",
    "linear": "COMMANDPOST_LINEAR_WEBHOOK_SECRET",
}
LINEAR_MAX_AGE_MS = 60_000
DELIVERY_HEADERS = {
    "github": ("x-github-delivery",),
    "gitlab": ("idempotency-key", "x-gitlab-event-uuid"),  # the first since GitLab 17.4, same on retries
    "jira": ("x-atlassian-webhook-identifier",),
    "linear": ("linear-delivery",),
}
DELIVERY_ID_MAX = 100


@dataclass(frozen=True, slots=True)
class Change:
    tracker: str
    external_id: str
    state: str
    status: trackers.Status


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def verify(tracker: str, *, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """401 unless the delivery carries ``tracker``'s proof made with ``secret``."""
    label = trackers.LABELS[tracker]
    if not secret:
        raise Unauthorized(
            f"{label} webhooks are off: set {SECRET_VARS[tracker]} and the same secret at {label}"
        )
    if tracker == "gitlab":
        given, expected = headers.get("x-gitlab-token", ""), secret
    elif tracker == "linear":
        given, expected = headers.get("linear-signature", "").strip().lower(), _hmac_hex(secret, body)
    else:
        name = "x-hub-signature-256" if tracker == "github" else "x-hub-signature"
        given, expected = headers.get(name, "").strip().lower(), "sha256=" + _hmac_hex(secret, body)
    if not given:
        raise Unauthorized(f"{label} webhook without its signature header: refused")
    if not _same(given, expected):
        raise Unauthorized(f"{label} webhook signature does not match: refused")


def delivery_id(tracker: str, *, headers: Mapping[str, str]) -> str | None:
    """The tracker's id of this delivery (None: the header is missing, too long or not printable —
    the delivery is still applied, only not remembered)."""
    for name in DELIVERY_HEADERS[tracker]:
        value = headers.get(name, "").strip()
        if value:
            return value if len(value) <= DELIVERY_ID_MAX and value.isprintable() else None
    return None


def _doc(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the webhook body is not JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest("the webhook body is not a JSON object")
    return doc


def _obj(doc: Any, name: str) -> dict[str, Any]:
    value = doc.get(name) if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else {}


def parse(tracker: str, *, headers: Mapping[str, str], body: bytes, now: datetime) -> Change | None:
    """The state change a verified delivery tells, or None when it is about something else."""
    doc = _doc(body)
    if tracker == "github":
        if headers.get("x-github-event") != "issues":
            return None
        issue, repo = _obj(doc, "issue"), _obj(doc, "repository")
        number, name = issue.get("number"), repo.get("full_name")
        if not isinstance(number, int) or not isinstance(name, str):
            return None
        state = str(issue.get("state") or "open")
        return Change(
            tracker,
            f"{name.lower()}#{number}",
            state,
            trackers.github_status(state, issue.get("state_reason")),
        )
    if tracker == "gitlab":
        if doc.get("object_kind") != "issue":
            return None
        attributes, project = _obj(doc, "object_attributes"), _obj(doc, "project")
        iid, project_id = attributes.get("iid"), project.get("id")
        if not isinstance(iid, int) or not isinstance(project_id, int):
            return None
        state = str(attributes.get("state") or "opened")
        return Change(tracker, f"{project_id}#{iid}", state, "done" if state == "closed" else "open")
    if tracker == "jira":
        if doc.get("webhookEvent") != "jira:issue_updated":
            return None
        issue = _obj(doc, "issue")
        key = issue.get("key")
        if not isinstance(key, str):
            return None
        ticket = trackers.jira_ticket("", key, _obj(_obj(issue, "fields"), "status"))
        return Change(tracker, key, ticket.state, ticket.status)
    stamp = doc.get("webhookTimestamp")
    if not isinstance(stamp, int) or abs(now.timestamp() * 1000 - stamp) > LINEAR_MAX_AGE_MS:
        raise Unauthorized("Linear webhook older than a minute (webhookTimestamp): refused as a replay")
    if doc.get("type") != "Issue" or doc.get("action") != "update":
        return None
    data = _obj(doc, "data")
    if not isinstance(data.get("id"), str):
        return None
    where = _obj(data, "state")
    kind = str(where.get("type") or "")
    return Change(tracker, data["id"], str(where.get("name") or kind), trackers.linear_status(kind))
