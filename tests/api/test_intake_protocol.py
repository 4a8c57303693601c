"""``serve``'s protocol answers the alert intake itself (:mod:`commandpost.http_protocol`): byte for byte
what the app answers through uvicorn's ASGI cycle — every kind of answer, the request ID, the access
line, keep-alive and ``Connection: close``, ``Expect: 100-continue``, pipelining — and every other
request still reaches the app.

Each case is sent as raw bytes to two uvicorn servers of the same app, one with serve's protocol and
one with uvicorn's own, and the two answers compared (only the ``date`` header left out)."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from commandpost.http_protocol import OneWriteHttpProtocol
from tests.alert_support import PAYLOADS, apply_variant, counts, keys, pd_trigger

WAIT = 30.0
FIRING = orjson.dumps(
    {
        "version": "4",
        "status": "firing",
        "receiver": "commandpost",
        "groupLabels": {"alertname": "DiskFull"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "severity": "warning", "instance": "db-1"},
                "annotations": {"summary": "disk 91% full on db-1"},
                "startsAt": "2026-06-24T02:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "0f1e2d3c4b5a6978",
            }
        ],
    }
)


@contextmanager
def served(app: Any, protocol: type[HttpToolsProtocol], keep_alive: float = 5.0) -> Iterator[int]:
    """``app`` under uvicorn with this HTTP protocol on a port bound before it starts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        app,
        http=protocol,
        log_config=None,
        lifespan="off",
        limit_max_requests=None,
        timeout_keep_alive=keep_alive,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT)
        sock.close()


@pytest.fixture
def both(app: Any) -> Iterator[tuple[int, int]]:
    """(serve's protocol, uvicorn's) ports, both serving the same app."""
    with served(app, OneWriteHttpProtocol) as fast, served(app, HttpToolsProtocol) as plain:
        yield fast, plain


def exchange(port: int, raw: bytes) -> bytes:
    """Everything the server sends for ``raw`` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn:
        conn.sendall(raw)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def warm(ports: tuple[int, int], *raws: bytes) -> None:
    """Send each twice first: what both servers then answer is a repeat's answer, the same each time."""
    for raw in raws:
        for _ in range(2):
            exchange(ports[1], raw)


def post(path: str, body: bytes, *headers: str, version: str = "1.1") -> bytes:
    """A raw POST that closes the connection after its answer (unless ``version`` says otherwise)."""
    lines = [f"POST {path} HTTP/{version}", "Host: x", "Content-Type: application/json", *headers]
    if version == "1.1":
        lines.append("Connection: close")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def without_date(answer: bytes) -> bytes:
    """The answer without its ``date`` header, and a change event's new id as ``N`` (each is new)."""
    return re.sub(rb'"id":"\d+"', b'"id":"N"', re.sub(rb"date: [^\r]*\r\n", b"", answer))


def same(ports: tuple[int, int], raw: bytes) -> bytes:
    """The answer of serve's protocol, after checking that uvicorn's own cycle gives the same one."""
    fast, plain = (without_date(exchange(port, raw)) for port in ports)
    assert fast == plain
    return fast


@pytest.fixture
def k(sessions: Any, applied_ops: Any) -> dict[str, str]:
    return keys(sessions)


def test_every_kind_of_intake_answer_is_the_apps_byte_for_byte(
    both: Any, k: dict[str, str], session: Any
) -> None:
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    webhook = FIRING
    am = f"/api/v1/intake/alertmanager/{k['alertmanager']}"
    warm(both, post("/v2/enqueue", pd), post(am, webhook))
    rid = "X-Request-ID: ci-protocol-1"
    cases = {
        "PagerDuty repeat": (post("/v2/enqueue", pd, rid), b"202 Accepted"),
        "Alertmanager repeat": (post(am, webhook, rid), b"202 Accepted"),
        "change event": (
            post(
                "/v2/change/enqueue",
                b'{"routing_key": "%s", "payload": {"summary": "x"}}' % k["pagerduty"].encode(),
                rid,
            ),
            b"202 Accepted",
        ),
        "broken JSON": (post("/v2/enqueue", b'{"routing_key": ', rid), b"400 Bad Request"),
        "unknown routing key": (
            post("/v2/enqueue", orjson.dumps(pd_trigger("0" * 32)), rid),
            b"400 Bad Request",
        ),
        "unknown key": (post(f"/api/v1/intake/alertmanager/{'0' * 32}", webhook, rid), b"404 Not Found"),
        "another source's key": (
            post(f"/api/v1/intake/prometheus/{k['alertmanager']}", webhook, rid),
            b"404",
        ),
        "NUL bytes and control characters": (
            post(am, b'{"alerts": "\\u0000\x07", "status": "\\u001b[2J"}', rid),
            b"400 Bad Request",
        ),
        # announced past the limit, refused before any of it is sent
        "too large by Content-Length": (post(am, b"x" * 99_999_999, rid)[:-99_999_999], b"413"),
        "HTTP/1.0": (post("/v2/enqueue", pd, rid, version="1.0"), b"202 Accepted"),
    }
    before = counts(session)
    for name, (raw, status) in cases.items():
        answer = same(both, raw)
        assert answer.startswith(b"HTTP/1.1 " + status), (name, answer)
        assert b"\r\nx-request-id: ci-protocol-1\r\n" in answer, name
        assert b"\r\nconnection: close\r\n" in answer, name
    assert counts(session)["alert"] == before["alert"]  # repeats and refusals open no alert


def test_a_body_past_the_limit_while_streaming_is_refused_the_same(both: Any, k: dict[str, str]) -> None:
    chunk = b"x" * (64 * 1024)  # 9 chunks: just past the 512 KiB limit, none announced up front
    chunked = (
        b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: big\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(9))
        + b"0\r\n\r\n"
    )
    answer = same(both, chunked)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"KiB limit" in answer


def test_retry_after_of_a_rate_limit_is_sent_the_same(
    both: Any, sessions: Any, clock: Any, tmp_path: Any
) -> None:
    def limit(svc: dict[str, Any]) -> None:
        for integration in svc["integrations"]:
            integration["rate_limit_per_minute"] = 1

    k = apply_variant(sessions, clock, tmp_path, limit)
    generic = f"/api/v1/intake/generic/{k['generic']}"
    body = b'{"dedup_key": "a", "summary": "x"}'
    assert exchange(both[0], post(generic, body)).startswith(b"HTTP/1.1 202 ")
    answer = same(both, post(generic, body, "X-Request-ID: r-1"))  # the limit is the app's: both refuse
    assert answer.startswith(b"HTTP/1.1 429 ") and re.search(rb"\r\nretry-after: \d+\r\n", answer)


def test_a_request_id_is_made_when_none_or_a_hostile_one_is_sent(both: Any, k: dict[str, str]) -> None:
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    for headers in ((), ('X-Request-ID: has spaces and "quotes"',), (f"X-Request-ID: {'a' * 500}",)):
        answer = exchange(both[0], post("/v2/enqueue", pd, *headers))
        made = re.search(rb"\r\nx-request-id: ([^\r]*)\r\n", answer)
        assert made is not None and re.fullmatch(rb"[0-9a-f]{32}", made[1]), answer


def test_keep_alive_pipelining_and_100_continue_on_the_intake(both: Any, k: dict[str, str]) -> None:
    """Three intake requests in one segment on one connection (the last closing it) are answered in
    order; a client that waits for ``100 Continue`` gets it before its answer."""
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    warm(both, post("/v2/enqueue", pd))
    keep = b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\nContent-Length: %d\r\n\r\n%s"
    pipelined = keep % (b"first", len(pd), pd) + keep % (b"second", len(pd), pd)
    pipelined += post("/v2/enqueue", pd, "X-Request-ID: third")
    answers = same(both, pipelined).split(b"HTTP/1.1 202 Accepted\r\n")[1:]
    assert len(answers) == 3 and b"x-request-id: second" in answers[1]
    assert b"connection: close" not in answers[0] and b"connection: close" in answers[2]
    for port in both:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn:
            head = post("/v2/enqueue", pd, "Expect: 100-continue")[: -len(pd)]
            conn.sendall(head)
            assert conn.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
            conn.sendall(pd)
            assert conn.recv(65536).startswith(b"HTTP/1.1 202 Accepted\r\n")


def test_other_requests_still_reach_the_app(both: Any, k: dict[str, str]) -> None:
    for raw in (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        post("/v2/enqueue/", b"{}"),  # a trailing slash is not the intake's path
        b"GET /v2/enqueue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ):
        answer = exchange(both[0], raw)
        assert re.sub(rb"x-request-id: [0-9a-f]{32}", b"", without_date(answer)) == re.sub(
            rb"x-request-id: [0-9a-f]{32}", b"", without_date(exchange(both[1], raw))
        )
        assert not answer.startswith(b"HTTP/1.1 202")


def test_the_access_line_names_the_forwarded_client_and_masks_the_key(
    both: Any, k: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn's proxy headers (a trusted proxy on 127.0.0.1) give the client of the access line on
    both paths; the line is the same but for the port, and the key is masked when written."""
    am = f"/api/v1/intake/alertmanager/{k['alertmanager']}"
    webhook = (PAYLOADS / "alertmanager-0.25-firing.json").read_bytes()
    lines = []
    for port in both:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            exchange(port, post(am, webhook, "X-Forwarded-For: 203.0.113.7"))
        (record,) = [r for r in caplog.records if r.name == "uvicorn.access"]
        lines.append(record.args)
    assert lines[0] == lines[1]
    assert lines[0][0].startswith("203.0.113.7") and lines[0][4] == 202


def test_serves_protocol_answers_the_intake_without_the_asgi_app(app: Any, k: dict[str, str]) -> None:
    """What makes the comparisons above worth making: on serve's protocol an intake request never
    reaches the ASGI app (a recorder in front of it sees only the other requests); on uvicorn's, all."""
    seen: list[str] = []

    async def recorder(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await app(scope, receive, send)

    recorder.app = app  # type: ignore[attr-defined]  # as uvicorn's own middleware exposes what it wraps
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    for protocol, expected in (
        (OneWriteHttpProtocol, ["/healthz"]),
        (HttpToolsProtocol, ["/v2/enqueue", "/healthz"]),
    ):
        seen.clear()
        with served(recorder, protocol) as port:
            assert exchange(port, post("/v2/enqueue", pd)).startswith(b"HTTP/1.1 202 ")
            exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert seen == expected


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout_and_a_busy_one_is_not(
    app: Any, k: dict[str, str]
) -> None:
    """serve's protocol keeps one lazy keep-alive timer per connection: a connection that keeps
    sending stays open past the timeout; once idle, it is closed after the timeout, not before."""
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    request = b"POST /v2/enqueue HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(pd), pd)
    timeout = 2.0
    with (
        served(app, OneWriteHttpProtocol, keep_alive=timeout) as port,
        socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn,
    ):
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * timeout:  # busy well past one timeout
            conn.sendall(request)
            assert conn.recv(65536).startswith(b"HTTP/1.1 202 Accepted\r\n")
            time.sleep(timeout / 10)
        idle = time.monotonic()
        assert conn.recv(65536) == b""  # closed by the server once idle ...
        # ... after the timeout, not before (the server's idle time starts when it answers, which
        # a client on a loaded machine may read a tenth of a second later)
        assert time.monotonic() - idle >= 0.5 * timeout


def test_a_body_sent_after_its_head_is_answered_and_a_client_gone_meanwhile_is_not(
    both: Any, k: dict[str, str], session: Any
) -> None:
    """serve's protocol answers an intake request once its body is in: a body that follows its head
    in a later segment is answered as uvicorn's cycle answers it; a client that leaves before its
    body is complete stores nothing, and the server goes on serving."""
    pd = orjson.dumps(pd_trigger(k["pagerduty"], dedup_key="late-body"))
    warm(both, post("/v2/enqueue", pd))
    head = post("/v2/enqueue", pd, "X-Request-ID: late")[: -len(pd)]
    answers = []
    for port in both:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn:
            conn.sendall(head + pd[:10])
            conn.sendall(pd[10:])
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        answers.append(without_date(received))
    assert answers[0] == answers[1] and answers[0].startswith(b"HTTP/1.1 202 Accepted\r\n")
    gone = orjson.dumps(pd_trigger(k["pagerduty"], dedup_key="client-gone"))
    before = counts(session)
    with socket.create_connection(("127.0.0.1", both[0]), timeout=WAIT) as conn:
        conn.sendall(post("/v2/enqueue", gone)[:-5])  # the body's last 5 bytes never come
    assert exchange(both[0], post("/v2/enqueue", pd)).startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert counts(session) == before


def test_an_intake_answer_pipelined_behind_an_apps_answer_follows_it(both: Any, k: dict[str, str]) -> None:
    """An intake answer — even one made without waiting for a commit — goes out after the app's
    answers to the requests pipelined before it on the connection."""
    pd = orjson.dumps(pd_trigger(k["pagerduty"]))
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    broken = post("/v2/enqueue", b'{"routing_key": ')  # answered without waiting for a commit
    for raw, last in (
        (health + post("/v2/enqueue", pd), b"202"),
        (health + health + post("/v2/enqueue", pd), b"202"),
        (health + broken, b"400"),
    ):
        answer = exchange(both[0], raw)
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
        assert statuses[-1] == last and set(statuses[:-1]) == {b"200"}, answer
        assert answer.count(b"HTTP/1.1 ") == raw.count(b" HTTP/1.1\r\n")
