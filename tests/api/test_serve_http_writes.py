"""``serve``'s HTTP protocol sends each response in one write (uvicorn's sends head and body apart),
and still answers keep-alive, pipelined and ``Connection: close`` requests whole."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from commandpost.http_protocol import OneWriteHttpProtocol


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers a POST with its body, as the intake front answers: a start message, then the body."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = (await receive())["body"]
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Counted:
    """The real transport, with the bytes of each ``write`` call kept."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport, self._writes = transport, writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def counting(base: type[HttpToolsProtocol], writes: list[bytes]) -> type[HttpToolsProtocol]:
    class Counting(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(_Counted(transport, writes))

    return Counting


@contextmanager
def running(protocol: type[HttpToolsProtocol]) -> Iterator[tuple[str, int]]:
    """uvicorn with this protocol on a socket bound before it starts (connections wait in its backlog)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(echo, http=protocol, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v2/enqueue", port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.parametrize(("base", "per_response"), [(OneWriteHttpProtocol, 1), (HttpToolsProtocol, 2)])
def test_each_response_is_one_write(base: type[HttpToolsProtocol], per_response: int) -> None:
    """(uvicorn's own protocol, the second case, writes twice: the reason for the first.)"""
    writes: list[bytes] = []
    with running(counting(base, writes)) as (url, _port), httpx.Client(timeout=30) as client:
        for n in range(5):
            reply = client.post(url, json={"n": n})
            assert (reply.status_code, reply.json()) == (202, {"n": n})
    assert len(writes) == 5 * per_response
    if per_response == 1:
        for n, data in enumerate(writes):
            assert data.startswith(b"HTTP/1.1 202 Accepted\r\n") and data.endswith(b'\r\n\r\n{"n":%d}' % n)


def test_pipelined_and_closing_requests_are_answered_whole() -> None:
    writes: list[bytes] = []
    with running(counting(OneWriteHttpProtocol, writes)) as (_url, port):
        requests = b"".join(
            b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + (b"Connection: close\r\n" if n == 2 else b"")
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
            for n, body in enumerate(json.dumps({"n": n}).encode() for n in range(3))
        )
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(requests)  # three requests in one segment, the last closing the connection
            received = b""
            while chunk := conn.recv(65536):  # until the server closes it, after the third answer
                received += chunk
    answers = received.split(b"HTTP/1.1 202 Accepted\r\n")[1:]
    assert [a.rsplit(b"\r\n\r\n", 1)[1] for a in answers] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert b"connection: close" in answers[2].lower()
    assert b"".join(writes) == received
