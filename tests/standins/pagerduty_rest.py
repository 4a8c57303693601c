"""A local PagerDuty REST API v2 on 127.0.0.1 for tests: the far end of ``import pagerduty --token``.

What it follows (PagerDuty's OpenAPI document and go-pagerduty's client, as docs/migrate.md cites):

- Every request needs ``Authorization: Token token=<key>``; anything else is 401 with PagerDuty's
  error body ``{"error": {"code": 2006, "message": "Invalid Credentials"}}``. The ``Accept`` header
  each request sent is recorded (PagerDuty asks for ``application/vnd.pagerduty+json;version=2``).
- List endpoints (``/users``, ``/teams``, ``/teams/{id}/members``, ``/schedules``,
  ``/schedules/{id}/overrides``, ``/escalation_policies``, ``/services``) page by ``offset`` and
  ``limit`` (default 25, at most 100) and answer ``{<key>: [...], "limit", "offset", "more",
  "total": null}``.
- ``/users`` gives contact methods and notification rules as references unless asked for with
  ``include[]=contact_methods`` / ``include[]=notification_rules``; ``/services`` gives its
  integrations as references unless ``include[]=integrations``.
- Detail endpoints ``/schedules/{id}`` and ``/services/{id}/integrations/{iid}`` answer
  ``{"schedule": …}`` / ``{"integration": …}``; an unknown id is 404 ``{"error": {"code": 2100,
  "message": "Not Found"}}``.
- Rate limit: a path listed in ``throttle`` answers 429 once with ``ratelimit-reset`` (seconds) and
  the ``ratelimit-limit`` / ``ratelimit-remaining`` headers; a path in ``fail_once`` answers 503 once.

The data is an account given as saved responses (the test fixture folder): the same JSON a real
account would serve, so the saved and the live import can be compared.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins.local_server import LocalServer

LISTS = {
    "users": "users",
    "teams": "teams",
    "schedules": "schedules",
    "escalation_policies": "escalation_policies",
    "services": "services",
}


def _reference(item: Any) -> Any:
    if not isinstance(item, dict) or str(item.get("type", "")).endswith("_reference"):
        return item
    return {"id": item.get("id"), "type": f"{item.get('type')}_reference", "summary": item.get("summary")}


@dataclass
class PagerDutyAccount:
    """The account: list endpoint → objects; detail and sub-list endpoints → their bodies."""

    lists: dict[str, list[Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_saved(cls, folder: Path) -> PagerDutyAccount:
        account = cls()

        def page(path: Path) -> tuple[str, int]:  # users.json, users.2.json …: pages in order
            endpoint, _, number = path.relative_to(folder).as_posix().removesuffix(".json").partition(".")
            return endpoint, int(number or 1)

        for path in sorted(folder.rglob("*.json"), key=page):
            endpoint = page(path)[0]
            body = json.loads(path.read_text())
            key = LISTS.get(endpoint) or next((k for k in ("members", "overrides") if k in body), None)
            if key is not None:
                account.lists.setdefault(endpoint, []).extend(body[key])
            else:
                account.details[endpoint] = body
        return account


class PagerDutyStandIn:
    def __init__(self, account: PagerDutyAccount, *, token: str, tls: ssl.SSLContext | None = None) -> None:
        self.account = account
        self.token = token
        self.throttle: dict[str, int] = {}  # path → ratelimit-reset seconds, once
        self.fail_once: set[str] = set()
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.server = LocalServer(self.answer, tls=tls)
        self.url = self.server.url

    def answer(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        path, query = parts.path.strip("/"), parse_qs(parts.query)
        self.requests.append((path, query, headers))
        if headers.get("Authorization") != f"Token token={self.token}":
            return 401, {}, {"error": {"code": 2006, "message": "Invalid Credentials"}}
        if path in self.throttle:
            wait = self.throttle.pop(path)
            return (
                429,
                {"ratelimit-reset": str(wait), "ratelimit-limit": "960", "ratelimit-remaining": "0"},
                {"error": {"code": 2020, "message": "Rate Limit Exceeded"}},
            )
        if path in self.fail_once:
            self.fail_once.discard(path)
            return 503, {}, {"error": {"code": 2000, "message": "Internal Server Error"}}
        if path in self.account.details:
            return 200, {}, self.account.details[path]
        if path not in self.account.lists:
            return 404, {}, {"error": {"code": 2100, "message": "Not Found"}}
        include = set(query.get("include[]", []))
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", ["25"])[0]), 100)
        items = [self._shaped(path, item, include) for item in self.account.lists[path]]
        key = LISTS.get(path) or path.rsplit("/", 1)[-1]
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return 200, {}, {key: page, "limit": limit, "offset": offset, "more": more, "total": None}

    @staticmethod
    def _shaped(path: str, item: Any, include: set[str]) -> Any:
        """An object as the list returns it: included parts in full, the others as references."""
        if not isinstance(item, dict):
            return item
        parts = {"users": ("contact_methods", "notification_rules"), "services": ("integrations",)}
        shaped = dict(item)
        for name in parts.get(path, ()):
            if name not in include and isinstance(shaped.get(name), list):
                shaped[name] = [_reference(x) for x in shaped[name]]
        return shaped


@contextmanager
def running(
    account: PagerDutyAccount, *, token: str, tls: ssl.SSLContext | None = None
) -> Iterator[PagerDutyStandIn]:
    standin = PagerDutyStandIn(account, token=token, tls=tls)
    standin.server.start()
    try:
        yield standin
    finally:
        standin.server.close()
