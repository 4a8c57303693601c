"""Where a vendor's API responses come from: JSON files saved with curl, or the live REST API.

Both give the same thing — the decoded body of each page of an endpoint — so a vendor module reads
``source.pages("schedules")`` without knowing which. Saved files are named after the endpoint:
``users.json``, then ``users.2.json``, ``users.3.json`` … for further pages, and a detail endpoint's
slashes become folders (``schedules/PABC123.json``). The live reader follows the vendor's own
pagination (a :data:`Paginator`), honours 429 answers' wait headers, retries 5xx with backoff, and
never shows the token: it is sent in a header and appears in no error, URL or log line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from commandpost.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized, Unavailable

MAX_BYTES = 32 * 1024 * 1024
"""One saved file or one response: far above any real page (100 objects), far below a memory problem."""
MAX_PAGES = 10_000
_ENDPOINT = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.:@-]+)*/?$")
"""A trailing slash is allowed: some APIs (Grafana OnCall's) document every path with one."""
_WAIT_HEADERS = ("retry-after", "ratelimit-reset", "x-ratelimit-period-in-sec")

Params = Mapping[str, Any]
"""A request's query: str values, or a list of str that repeats its key (PagerDuty's
``include[]=a&include[]=b``). ``Any`` so that a source typed ``Mapping[str, str]`` still fits."""


class Source(Protocol):
    def pages(self, endpoint: str, params: Params | None = None) -> Iterator[Any]:
        """Each page of ``endpoint`` as decoded JSON, in order."""
        ...


def _checked_endpoint(endpoint: str) -> str:
    if not _ENDPOINT.match(endpoint) or ".." in endpoint:
        raise BadRequest(f"not an API endpoint name: {endpoint[:80]!r}")
    return endpoint


def decode(raw: bytes, where: str) -> Any:
    """A JSON body, or a BadRequest naming the file or URL and what is wrong with it."""
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"{where}: {len(raw)} bytes, more than the {MAX_BYTES} an API page can be")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{where}: not JSON ({exc})") from None


class SavedResponses:
    """A folder of saved API responses (docs/migrate.md says how to save each with curl)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise NotFound(f"{root}: not a folder of saved API responses")
        self.root = root

    def _file(self, endpoint: str, page: int) -> Path:
        suffix = ".json" if page == 1 else f".{page}.json"
        return self.root / f"{_checked_endpoint(endpoint)}{suffix}"

    def has(self, endpoint: str) -> bool:
        return self._file(endpoint, 1).is_file()

    def pages(self, endpoint: str, params: Params | None = None) -> Iterator[Any]:
        first = self._file(endpoint, 1)
        if not first.is_file():
            raise NotFound(f"{first}: missing (save the API's /{endpoint} response there; docs/migrate.md)")
        page = 1
        while (path := self._file(endpoint, page)).is_file():
            if path.stat().st_size > MAX_BYTES:
                raise PayloadTooLarge(f"{path}: more than {MAX_BYTES} bytes, not an API page")
            yield decode(path.read_bytes(), str(path))
            page += 1


Paginator = Callable[[Any, Params], tuple[str | None, Params] | None]
"""Given a page's body and the params that fetched it: the next request as (absolute URL or None for
the same path, params), or None when that was the last page."""


def offset_pages(key: str = "more", limit: int = 100) -> Paginator:
    """Classic offset pagination (PagerDuty): ``offset += limit`` while the body's ``more`` is true."""

    def following(body: Any, params: Params) -> tuple[str | None, Params] | None:
        if not isinstance(body, dict) or body.get(key) is not True:
            return None
        size = str(params.get("limit", str(limit)))
        return None, {**params, "offset": str(int(str(params.get("offset", "0"))) + int(size)), "limit": size}

    return following


def next_link(*path: str) -> Paginator:
    """Link pagination: the body holds the next page's absolute URL at ``path`` (Opsgenie's
    ``paging.next``, Grafana OnCall's ``next``); absent or null ends it."""

    def following(body: Any, params: Params) -> tuple[str | None, Params] | None:
        node = body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return (node, {}) if isinstance(node, str) and node else None

    return following


def single_page(body: Any, params: Params) -> None:
    """For endpoints that do not paginate."""
    return None


class LiveAPI:
    """A vendor's REST API read with a token, page by page, patient with its rate limits."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        paginate: Paginator,
        first_params: Params | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise BadRequest(f"{base_url}: the API URL must be https (a token is sent to it)")
        self.base_url = base_url.rstrip("/")
        self._host = parts.netloc
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._headers = dict(headers)
        self._paginate = paginate
        self._first_params = dict(first_params or {})
        self._sleep = sleep
        self._max_retries = max_retries

    def pages(self, endpoint: str, params: Params | None = None) -> Iterator[Any]:
        url = f"{self.base_url}/{_checked_endpoint(endpoint)}"
        query: Params = {**self._first_params, **(params or {})}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._get(url, query)
            yield body
            following = self._paginate(body, query)
            if following is None:
                return
            next_url, query = following
            if next_url is not None:
                if urlsplit(next_url).netloc != self._host:
                    raise BadRequest(f"/{endpoint}: the next page points to another host; not followed")
                url = next_url
            marker = f"{url}?{sorted(query.items())}"
            if marker in seen:
                raise BadRequest(f"/{endpoint}: the API returned the same next page twice; stopped")
            seen.add(marker)
        raise BadRequest(f"/{endpoint}: more than {MAX_PAGES} pages; stopped")

    def _get(self, url: str, params: Params) -> Any:
        shown = urlsplit(url).path
        for attempt in range(self._max_retries + 1):
            try:
                # No params for a next link: httpx would replace the query the link carries with none.
                response = self._client.get(url, params=params or None, headers=self._headers)
            except httpx.HTTPError as exc:
                if attempt == self._max_retries:
                    raise Unavailable(f"GET {shown}: {type(exc).__name__}") from None
                self._sleep(2.0**attempt)
                continue
            status = response.status_code
            if status == 200:
                return decode(response.content, f"GET {shown}")
            if status == 429 or (status >= 500 and status != 501):
                if attempt == self._max_retries:
                    said = _vendor_message(response)  # Grafana OnCall's 429 may say why it never ends
                    raise Unavailable(f"GET {shown}: HTTP {status} after {attempt + 1} tries{said}")
                self._sleep(_wait(response, attempt))
                continue
            message = _vendor_message(response)
            if status in (401, 403):
                raise Unauthorized(f"GET {shown}: HTTP {status} — the token was refused{message}")
            if status == 404:
                raise NotFound(f"GET {shown}: HTTP 404{message}")
            raise BadRequest(f"GET {shown}: HTTP {status}{message}")
        raise AssertionError("unreachable")  # pragma: no cover


def _wait(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: the vendor's header when it sends one (capped at 5 minutes)."""
    for name in _WAIT_HEADERS:
        value = response.headers.get(name)
        if value is not None:
            try:
                return min(max(float(value), 0.0), 300.0)
            except ValueError:
                continue
    return min(2.0**attempt, 60.0)


def _vendor_message(response: httpx.Response) -> str:
    """The vendor's error message, short and printable (it never holds our token: we sent it in a header)."""
    try:
        body = orjson.loads(response.content[:65536])
    except orjson.JSONDecodeError:
        return ""
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        message = (
            error.get("message") if isinstance(error, dict) else body.get("message") or body.get("detail")
        )
    if not isinstance(message, str):
        return ""
    printable = "".join(ch for ch in message if ch.isprintable())[:200]
    return f": {printable}" if printable else ""
