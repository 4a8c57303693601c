"""A local Grafana OnCall public API (``/api/v1/``) for tests: the far end of a live import.

What it follows, from Grafana OnCall's API reference (``oncall-api-reference/_index.md`` and the
page of each resource) and its engine's paginators:

- Every list is ``GET /api/v1/<resource>/`` — with the trailing slash; without it Django's
  ``APPEND_SLASH`` answers 301 to the slashed path (a client that does not follow redirects must
  ask for the documented path).
- Auth: ``Authorization: <api key>`` — the raw key, no ``Bearer``; a wrong or missing key is
  403 ``{"detail": "Invalid token."}`` (DRF's shape; 403, not 401: the public API's first
  authenticator, ``GrafanaServiceAccountAuthentication``, names no ``WWW-Authenticate`` scheme).
- A Grafana service-account token (``glsa_…``) in ``Authorization`` must come with
  ``X-Grafana-URL: <the Grafana stack's URL>`` (trailing slash ignored), as the API reference's
  "Authenticate using a service account token" says. Answered as Grafana Cloud IRM's engine
  (``apps/auth_token/auth.py``) answers: no header, or one that is not a URL, is 403
  ``{"detail": "Missing X-Grafana-Instance-ID"}``; the URL of a stack it does not know is 429
  ``{"detail": "Organization being synced, please retry."}`` (it asks that Grafana to sync, which
  never comes); then a wrong token is 403 ``Invalid token.``. ``personal_notification_rules``
  authenticates OnCall API keys only (``PersonalNotificationView``): a service-account token is
  403 ``Invalid token.`` there.
- Pagination: ``{"count", "next", "previous", "results", "current_page_number", "page_size",
  "total_pages"}``; ``page`` (1-based) and ``perpage`` (at most 100); default page size 100 for
  users, 50 for the others; ``next``/``previous`` are absolute URLs or null. A page past the last
  is 404 ``{"detail": "Invalid page."}``.
- Rate limit: 300 requests per 5 minutes per key, then 429 — with no documented Retry-After, so
  none is sent. ``fail(resource, 429, 500)`` scripts the next answers of a resource.
- An unknown resource is 404 ``{"detail": "Not found."}``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.standins.local_server import LocalServer

DEFAULT_PAGE = {"users": 100}
OTHER_PAGE = 50
MAX_PAGE = 100
RATE_LIMIT = 300


SERVICE_ACCOUNT_PREFIX = "glsa_"
API_KEY_ONLY = frozenset({"personal_notification_rules"})
"""Views whose only authentication is ``ApiTokenAuthentication`` (they need a user's context)."""


@dataclass
class GrafanaOnCallStandIn:
    token: str
    grafana_url: str = "https://your-stack.grafana.net"
    """the Grafana stack this OnCall belongs to: what a service-account token's X-Grafana-URL names"""
    resources: dict[str, list[Any]] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=dict)
    max_page: int = MAX_PAGE
    """the engine's max_page_size (100); a test lowers it to see many pages"""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    """(path with query, headers) of every request, in order"""
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: LocalServer = field(init=False)

    def __post_init__(self) -> None:
        self.local = LocalServer(self._on_get, keep_alive=True)

    @property
    def url(self) -> str:
        return self.local.url

    def fail(self, resource: str, *statuses: int) -> None:
        """The next requests for ``resource`` answer these statuses, one each, before it works again."""
        with self.lock:
            self.failures.setdefault(resource, []).extend(statuses)

    def close(self) -> None:
        self.local.close()

    def _on_get(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append((target, headers))
        parts = urlsplit(target)
        named = {name.lower(): value for name, value in headers.items()}
        return self.answer(parts.path, parts.query, named.get("authorization"), named.get("x-grafana-url"))

    def answer(
        self, path: str, query: str, authorization: str | None, grafana_url: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        """(status, extra headers, JSON body) for a GET."""
        if authorization and authorization.startswith(SERVICE_ACCOUNT_PREFIX):
            stack = urlsplit(grafana_url or "")
            if stack.scheme not in ("http", "https") or not stack.netloc:
                return 403, {}, {"detail": "Missing X-Grafana-Instance-ID"}
            if (grafana_url or "").rstrip("/") != self.grafana_url.rstrip("/"):
                return 429, {}, {"detail": "Organization being synced, please retry."}
        if authorization != self.token:
            return 403, {}, {"detail": "Invalid token."}
        with self.lock:
            if len(self.requests) > RATE_LIMIT:
                return 429, {}, {"detail": "Request was throttled."}
        if not path.startswith("/api/v1/"):
            return 404, {}, {"detail": "Not found."}
        if not path.endswith("/"):
            return 301, {"Location": f"{path}/" + (f"?{query}" if query else "")}, None
        resource = path.removeprefix("/api/v1/").strip("/")
        if resource in API_KEY_ONLY and self.token.startswith(SERVICE_ACCOUNT_PREFIX):
            return 403, {}, {"detail": "Invalid token."}
        with self.lock:
            scripted = self.failures.get(resource)
            if scripted:
                status = scripted.pop(0)
                return status, {}, {"detail": "Request was throttled." if status == 429 else "Server Error"}
        if resource not in self.resources:
            return 404, {}, {"detail": "Not found."}
        params = parse_qs(query)
        try:
            page = int(params.get("page", ["1"])[0])
            size = min(
                int(params.get("perpage", [str(DEFAULT_PAGE.get(resource, OTHER_PAGE))])[0]), self.max_page
            )
        except ValueError:
            return 404, {}, {"detail": "Invalid page."}
        found = self.resources[resource]
        pages = max(1, -(-len(found) // size))
        if page < 1 or page > pages:
            return 404, {}, {"detail": "Invalid page."}

        def link(number: int) -> str | None:
            if not 1 <= number <= pages:
                return None
            return f"{self.url}{path}?{urlencode({'page': number, 'perpage': size})}"

        return (
            200,
            {},
            {
                "count": len(found),
                "next": link(page + 1),
                "previous": link(page - 1),
                "results": found[(page - 1) * size : page * size],
                "current_page_number": page,
                "page_size": size,
                "total_pages": pages,
            },
        )


def start_grafana_oncall(
    token: str, resources: dict[str, list[Any]], *, grafana_url: str = "https://your-stack.grafana.net"
) -> GrafanaOnCallStandIn:
    """A running stand-in serving ``resources`` (resource name → its objects); ``close()`` it."""
    standin = GrafanaOnCallStandIn(token, grafana_url, dict(resources))
    standin.local.start()
    return standin
