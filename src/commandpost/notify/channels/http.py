"""HTTP POST through the outbound guard, for the Slack, webhook and push (ntfy) channels.

Each hop is checked by :class:`OutboundGuard` before any connection is made, and the request
goes to the checked IP address (the Host header and TLS SNI keep the name, and the certificate
is verified against the name), so a DNS answer that changes between check and connect is never
used. Redirects are not followed unless the new target is allowlisted. No proxy is used: a
proxy would connect somewhere the guard never saw.

A request is written in one ``sendall`` on a TCP_NODELAY socket and the answer parsed by the
standard library's ``http.client.HTTPResponse`` — several times cheaper per request than a
general-purpose client, which is what fan-out throughput is made of. Keep-alive connections are
kept per sending thread, keyed by (scheme, address, port, host name), so a TLS connection
verified for one name never carries a request for another.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections import OrderedDict
from datetime import datetime
from email.message import Message
from urllib.parse import quote, urljoin, urlsplit

from commandpost.notify.rules import Delivery, classify_http, parse_retry_after
from commandpost.notify.ssrf import OutboundGuard, Refused, Target, Unresolvable, display

MAX_REDIRECTS = 3
SNIPPET_BYTES = 300
READ_LIMIT = 64 * 1024
POOL_PER_THREAD = 64
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
Key = tuple[str, str, int, str]
PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


class _Connection:
    """A kept-alive socket to one checked address (TLS verified for the host name, when https)."""

    def __init__(self, target: Target, address: str, timeout: float, tls: ssl.SSLContext) -> None:
        sock = socket.create_connection((address, target.port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "https":
                sock = tls.wrap_socket(sock, server_hostname=target.host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def exchange(self, request: bytes) -> tuple[http.client.HTTPResponse, bytes]:
        """One request written in one go, and the answer (its body read up to READ_LIMIT)."""
        self.sock.sendall(request)
        response = http.client.HTTPResponse(self.sock, method="POST")
        response.begin()
        return response, response.read(READ_LIMIT)

    def close(self) -> None:
        self.sock.close()


class GuardedHttp:
    def __init__(self, guard: OutboundGuard, *, timeout: float) -> None:
        self.guard = guard
        self.timeout = timeout
        self._tls = ssl.create_default_context()
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()

    def post(self, url: str, content: bytes, headers: dict[str, str], now: datetime) -> Delivery:
        return self.exchange(url, content, headers, now)[0]

    def exchange(
        self, url: str, content: bytes, headers: dict[str, str], now: datetime
    ) -> tuple[Delivery, bytes]:
        """:meth:`post`, and the final answer's body (up to READ_LIMIT; empty when none came), for a
        channel whose far end answers in a body it must read (ntfy's message id and error code)."""
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = self.guard.check(url, redirect=hop > 0)
            except Refused as exc:
                return Delivery("dead", error=str(exc)), b""
            except Unresolvable as exc:
                return Delivery("retry", error=str(exc)), b""
            try:
                status, response_headers, body = self._send(target, content, headers)
            except TimeoutError:
                return Delivery("retry", error=f"no answer from {display(url)} within {self.timeout:g}s"), b""
            except (OSError, http.client.HTTPException) as exc:
                return Delivery("retry", error=f"{display(url)}: {type(exc).__name__}: {exc}"), b""
            location = response_headers.get("location")
            if 300 <= status < 400 and location:
                url = urljoin(url, location)
                continue
            outcome = classify_http(status)
            if outcome == "delivered":
                return Delivery("delivered", status_code=status), body
            retry_after = parse_retry_after(response_headers.get("retry-after"), now)
            snippet = " ".join(body[:SNIPPET_BYTES].decode("utf-8", "replace").split())
            return Delivery(
                outcome,
                status_code=status,
                error=f"HTTP {status} from {display(url)}: {snippet}".rstrip(": "),
                retry_after=retry_after if status in (429, 503) else None,
            ), body
        return Delivery("dead", error=f"more than {MAX_REDIRECTS} redirects from {display(url)}"), b""

    # -- connections ---------------------------------------------------------------------------

    def _pool(self) -> OrderedDict[Key, _Connection]:
        pool: OrderedDict[Key, _Connection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = OrderedDict()
        return pool

    def _forget(self, connection: _Connection) -> None:
        connection.close()
        with self._lock:
            if connection in self._all:
                self._all.remove(connection)

    def _send(self, target: Target, content: bytes, headers: dict[str, str]) -> tuple[int, Message, bytes]:
        parts = urlsplit(target.url)
        path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=PATH_SAFE)
        lines = [f"POST {path} HTTP/1.1", f"Host: {target.host_header}", "User-Agent: commandpost"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(content)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content
        last = len(target.addresses) - 1
        for index, address in enumerate(target.addresses):
            try:
                return self._exchange(target, address, request)
            except _ConnectFailed as failed:
                if index == last:
                    raise failed.error from None
        raise OSError(f"{display(target.url)}: no address to connect to")

    def _exchange(self, target: Target, address: str, request: bytes) -> tuple[int, Message, bytes]:
        key = (target.scheme, address, target.port, target.host)
        pool = self._pool()
        for _try in range(2):
            connection = pool.pop(key, None)
            reused = connection is not None
            if connection is None:
                try:
                    connection = _Connection(target, address, self.timeout, self._tls)
                except OSError as exc:  # nothing was sent: the next address may answer
                    raise _ConnectFailed(exc) from exc
                with self._lock:
                    self._all.append(connection)
            try:
                response, body = connection.exchange(request)
            except STALE:
                self._forget(connection)
                if not reused:
                    raise
                continue  # a kept-alive connection the server had closed: once more on a new one
            except BaseException:
                self._forget(connection)
                raise
            if response.will_close or not response.isclosed():
                self._forget(connection)  # the server is closing, or a body we did not read whole
            else:
                pool[key] = connection
                while len(pool) > POOL_PER_THREAD:
                    self._forget(pool.popitem(last=False)[1])
            return response.status, response.msg, body
        raise http.client.RemoteDisconnected("the server closed the connection twice")


class _ConnectFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error
