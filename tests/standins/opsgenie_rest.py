"""A local Opsgenie REST API on 127.0.0.1 for tests: the far end of ``commandpost import opsgenie --token``.

It serves an account held as saved responses (a folder in the layout docs/migrate.md describes) the
way Opsgenie's documented API does:

- ``Authorization: GenieKey <key>`` on every request; anything else → 401 with Opsgenie's error
  body ``{"message": "…", "took": …, "requestId": …}``.
- ``/v2/…`` for everything but the Service API's ``/v1/services``; a path with no object → 404.
- Every answer is the ``data`` envelope with ``took`` and ``requestId``. Lists (users, services)
  paginate with ``offset``/``limit`` (default 20, at most :attr:`max_limit`), and ``paging.next``
  is the next page's absolute URL on this host, absent on the last page.
- ``/v2/schedules`` carries rotations only with ``expand=rotation``; ``teams/ID`` and
  ``schedules/ID/overrides`` honour ``identifierType`` / ``scheduleIdentifierType`` (``id`` only).
- Scripted faults: :meth:`throttle` answers the next requests 429 with ``X-RateLimit-State:
  THROTTLED`` and ``X-RateLimit-Period-In-Sec``; :meth:`fail` answers them 500.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.standins.local_server import LocalServer

PAGINATED = ("users", "services")


class OpsgenieStandIn:
    def __init__(self, account: Path, *, api_key: str, max_limit: int = 100) -> None:
        self.account, self.api_key, self.max_limit = account, api_key, max_limit
        self.requests: list[tuple[str, str]] = []  # (path with query, Authorization header)
        self._faults: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._local = LocalServer(self._on_get).start()
        self.url = self._local.url

    def _on_get(self, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append((target, headers.get("Authorization", "")))
        return self.answer(target, headers.get("Authorization", ""))

    def close(self) -> None:
        self._local.close()

    def throttle(self, times: int = 1, period: int = 1) -> None:
        headers = {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Period-In-Sec": str(period)}
        self._faults += [(429, headers)] * times

    def fail(self, times: int = 1) -> None:
        self._faults += [(500, {})] * times

    @staticmethod
    def _envelope(data: Any, **extra: Any) -> dict[str, Any]:
        return {"data": data, **extra, "took": 0.004, "requestId": str(uuid.uuid4())}

    def answer(self, target: str, authorization: str) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if authorization != f"GenieKey {self.api_key}":
            return 401, {}, {"message": "Could not authenticate", "took": 0.0, "requestId": str(uuid.uuid4())}
        with self._lock:
            if self._faults:
                status, headers = self._faults.pop(0)
                return (
                    status,
                    headers,
                    {"message": "Too many requests" if status == 429 else "Internal error"},
                )
        version, _, endpoint = parts.path.lstrip("/").partition("/")
        if (version == "v1") != (endpoint == "services") or version not in ("v1", "v2"):
            return (
                404,
                {},
                {"message": f"No API at {parts.path}", "took": 0.0, "requestId": str(uuid.uuid4())},
            )
        if query.get("identifierType", "id") != "id" or query.get("scheduleIdentifierType", "id") != "id":
            return 422, {}, {"message": "this stand-in serves identifiers by id only"}
        data = self._read(endpoint)
        if data is None:
            return 404, {}, {"message": f"{endpoint} not found", "took": 0.0, "requestId": str(uuid.uuid4())}
        if endpoint == "schedules" and query.get("expand") != "rotation":
            data = [{k: v for k, v in s.items() if k != "rotations"} for s in data]
        if endpoint in PAGINATED:
            return 200, {}, self._page(parts.path, data, query)
        return 200, {}, self._envelope(data)

    def _read(self, endpoint: str) -> Any:
        """All of an endpoint's saved pages as one ``data`` (lists joined), or None when not saved."""
        first = self.account / f"{endpoint}.json"
        if ".." in endpoint or not first.is_file():
            return None
        data: Any = json.loads(first.read_text())["data"]
        page = 2
        while (more := self.account / f"{endpoint}.{page}.json").is_file():
            data += json.loads(more.read_text())["data"]
            page += 1
        return data

    def _page(self, path: str, data: list[Any], query: dict[str, str]) -> dict[str, Any]:
        offset = int(query.get("offset", "0"))
        limit = min(int(query.get("limit", "20")), self.max_limit)
        paging: dict[str, str] = {
            "first": f"{self.url}{path}?{urlencode({**query, 'offset': 0, 'limit': limit})}"
        }
        if offset + limit < len(data):
            paging["next"] = (
                f"{self.url}{path}?{urlencode({**query, 'offset': offset + limit, 'limit': limit})}"
            )
        return self._envelope(data[offset : offset + limit], paging=paging, totalCount=len(data))
