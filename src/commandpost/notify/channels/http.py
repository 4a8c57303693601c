"""HTTP POST through the outbound guard, for the Slack and webhook channels.

Each hop is checked by :class:`OutboundGuard` before any connection is made, and the request
goes to the checked IP address (Host header and TLS SNI keep the name; the certificate is
verified against the name), so a DNS answer that changes between check and connect is never
used. Redirects are not followed unless the new target is allowlisted. Proxies from the
environment are ignored: a proxy would make the connection somewhere the guard never saw.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from urllib.parse import urljoin

import httpx

from commandpost.notify.rules import Delivery, classify_http, parse_retry_after
from commandpost.notify.ssrf import OutboundGuard, Refused, Target, Unresolvable, display

MAX_REDIRECTS = 3
SNIPPET_BYTES = 300
READ_LIMIT = 64 * 1024
TLS_CLIENTS = 64


class GuardedHttp:
    def __init__(self, guard: OutboundGuard, *, timeout: float) -> None:
        self.guard = guard
        self.timeout = timeout
        self._plain = self._new_client()
        # One pool per TLS host name: a pooled connection was verified for one name and must not
        # carry another name's request, even when both names share an address.
        self._tls: OrderedDict[str, httpx.Client] = OrderedDict()
        self._lock = threading.Lock()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0)),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": "commandpost"},
        )

    def _client_for(self, target: Target) -> httpx.Client:
        if target.scheme == "http":
            return self._plain
        with self._lock:
            client = self._tls.get(target.host)
            if client is None:
                client = self._tls[target.host] = self._new_client()
                if len(self._tls) > TLS_CLIENTS:
                    _name, oldest = self._tls.popitem(last=False)
                    oldest.close()
            else:
                self._tls.move_to_end(target.host)
            return client

    def close(self) -> None:
        self._plain.close()
        with self._lock:
            for client in self._tls.values():
                client.close()
            self._tls.clear()

    def post(self, url: str, content: bytes, headers: dict[str, str], now: datetime) -> Delivery:
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = self.guard.check(url, redirect=hop > 0)
            except Refused as exc:
                return Delivery("dead", error=str(exc))
            except Unresolvable as exc:
                return Delivery("retry", error=str(exc))
            try:
                status, response_headers, snippet = self._send(target, content, headers)
            except httpx.TimeoutException:
                return Delivery("retry", error=f"no answer from {display(url)} within {self.timeout:g}s")
            except httpx.HTTPError as exc:
                return Delivery("retry", error=f"{display(url)}: {type(exc).__name__}: {exc}")
            location = response_headers.get("location")
            if 300 <= status < 400 and location:
                url = urljoin(url, location)
                continue
            outcome = classify_http(status)
            if outcome == "delivered":
                return Delivery("delivered", status_code=status)
            retry_after = parse_retry_after(response_headers.get("retry-after"), now)
            return Delivery(
                outcome,
                status_code=status,
                error=f"HTTP {status} from {display(url)}: {snippet}".rstrip(": "),
                retry_after=retry_after if status in (429, 503) else None,
            )
        return Delivery("dead", error=f"more than {MAX_REDIRECTS} redirects from {display(url)}")

    def _send(
        self, target: Target, content: bytes, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, str]:
        client = self._client_for(target)
        extensions = {} if target.scheme == "http" or target.host_is_ip else {"sni_hostname": target.host}
        request_headers = {**headers, "Host": target.host_header}
        last = len(target.addresses) - 1
        for index, address in enumerate(target.addresses):
            pinned = httpx.URL(target.url).copy_with(host=address)
            try:
                with client.stream(
                    "POST", pinned, content=content, headers=request_headers, extensions=extensions
                ) as response:
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) >= READ_LIMIT:
                            break
                    snippet = " ".join(body[:SNIPPET_BYTES].decode("utf-8", "replace").split())
                    return response.status_code, response.headers, snippet
            except httpx.ConnectError:
                if index == last:
                    raise
        raise httpx.ConnectError(f"{display(target.url)}: no address to connect to")
