"""Every answer carries ``X-Request-ID``: the client's when it is a short printable token, else a new
one; every log record made while the request is handled carries the same ID (JSON log lines)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from commandpost.logfilter import MASK, ServerLog
from tests.logging_support import restored_logging

GENERATED = re.compile(r"[0-9a-f]{32}")
KEY = "0559ab12cd34ef560559ab12cd34ef56"
TOKEN = "cp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with restored_logging():
        yield


@pytest.mark.parametrize(
    "sent",
    ["4bf92f3577b34da6a3ce929d0e0e4736", "req-1.2_3:4+5/6=7@lb", "x" * 128],
)
def test_a_sane_request_id_is_kept_and_echoed(client: TestClient, sent: str) -> None:
    for path in ("/healthz", "/api/v1/whoami", "/no/such/path"):  # 200, 401, 404 alike
        assert client.get(path, headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        b"x" * 129,
        b"y" * 100_000,  # huge
        b"abc\x00def",  # NUL
        b"abc\x1b[31mred",  # a terminal escape
        b"abc\r\nInjected: yes",  # header splitting
        b"two words",
        b'quote"d',
        "caf\u00e9".encode(),
        b"",
    ],
)
def test_a_hostile_request_id_is_replaced_not_refused(client: TestClient, sent: bytes) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": sent})
    assert answer.status_code == 200
    assert GENERATED.fullmatch(answer.headers["x-request-id"])
    assert "injected" not in answer.headers


def test_without_one_each_request_gets_a_new_id(client: TestClient, applied_ops: object) -> None:
    first, second = (client.get("/healthz").headers["x-request-id"] for _ in range(2))
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second
    # the intake, served ahead of the middleware stack, answers with one too
    intake = client.post("/api/v1/intake/generic/not-a-key", json={"summary": "x"})
    assert intake.status_code in (401, 404) and GENERATED.fullmatch(intake.headers["x-request-id"])


def test_every_log_line_of_a_request_carries_its_id_masked(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    """A record made on the event loop and one made in the threadpool (a sync endpoint), written as
    JSON by the log's listener thread: both carry the ID the client sent; secrets are masked."""
    log = logging.getLogger("commandpost.probe")

    @app.get("/probe/async")
    async def probe_async() -> dict[str, str]:
        log.warning("async %s via /api/v1/intake/generic/%s", TOKEN, KEY)
        return {}

    @app.get("/probe/sync")
    def probe_sync() -> dict[str, str]:
        log.warning("sync %s", TOKEN)
        return {}

    out, err = io.StringIO(), io.StringIO()
    server_log = ServerLog("INFO", log_format="json", stdout=out, stderr=err)
    server_log.install()
    with server_log.off_the_loop():
        a = client.get("/probe/async", headers={"X-Request-ID": "client-a"})
        b = client.get("/probe/sync")
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    probes = {line["message"].split()[0]: line for line in lines if line["logger"] == "commandpost.probe"}
    assert probes["async"]["request_id"] == a.headers["x-request-id"] == "client-a"
    assert probes["sync"]["request_id"] == b.headers["x-request-id"]
    assert GENERATED.fullmatch(b.headers["x-request-id"])
    assert probes["async"]["message"] == f"async cp_{MASK} via /api/v1/intake/generic/{MASK}"
    assert TOKEN not in err.getvalue() and KEY not in err.getvalue()
