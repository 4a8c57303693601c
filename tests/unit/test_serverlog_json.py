"""``COMMANDPOST_LOG_FORMAT=json``: every line one JSON object, written by the listener thread after
the same masking as text lines; a record made while a request is handled carries its request ID,
although it is formatted on another thread."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from commandpost.logfilter import ACCESS_LOGGER, MASK, ServerLog
from commandpost.requestid import REQUEST_ID
from tests.logging_support import restored_logging

KEY = "0559ab12cd34ef560559ab12cd34ef56"
TOKEN = "cp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with restored_logging():
        yield


def _objects(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _access(path: str, status: int = 202) -> None:
    logging.getLogger(ACCESS_LOGGER).info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", status
    )


def test_json_lines_are_masked_and_carry_the_request_id_across_threads() -> None:
    out, err = io.StringIO(), io.StringIO()
    log = ServerLog("INFO", log_format="json", stdout=out, stderr=err)
    log.install()
    with log.off_the_loop():
        token = REQUEST_ID.set("req-1")
        try:
            _access(f"/api/v1/intake/alertmanager/{KEY}?token=s3cr3t")
            logging.getLogger("commandpost").warning("%s paged via /api/v1/intake/generic/%s", TOKEN, KEY)
            try:
                raise RuntimeError(f"boom with {TOKEN}")
            except RuntimeError:
                logging.getLogger("commandpost").exception("unhandled error")
            # a request's threadpool work runs in a copy of its context (as Starlette's does)
            worker = threading.Thread(
                target=contextvars.copy_context().run,
                args=(logging.getLogger("commandpost.x").info, "from a worker thread"),
            )
            worker.start()
            worker.join()
        finally:
            REQUEST_ID.reset(token)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    [access] = _objects(out)
    assert access["request_id"] == "req-1" and access["level"] == "INFO" and access["logger"] == ACCESS_LOGGER
    assert access["path"] == f"/api/v1/intake/alertmanager/{MASK}?token={MASK}"
    assert (access["method"], access["status"], access["client"], access["http_version"]) == (
        "POST",
        202,
        "127.0.0.1:5000",
        "1.1",
    )
    assert access["message"] == f'127.0.0.1:5000 - "POST {access["path"]} HTTP/1.1" 202 Accepted'
    datetime.fromisoformat(access["time"])  # ISO 8601
    warning, error, worker_line, started = _objects(err)
    assert warning["message"] == f"cp_{MASK} paged via /api/v1/intake/generic/{MASK}"
    assert warning["request_id"] == error["request_id"] == worker_line["request_id"] == "req-1"
    assert f"RuntimeError: boom with cp_{MASK}" in error["exc_info"]
    assert worker_line["message"] == "from a worker thread"
    assert started == {
        "time": started["time"],
        "level": "INFO",
        "logger": "uvicorn.error",
        "message": "Started server process [42]",
    }
    written = out.getvalue() + err.getvalue()
    assert KEY not in written and TOKEN not in written and "s3cr3t" not in written
    assert "color_message" not in written


def test_text_stays_the_default() -> None:
    out, err = io.StringIO(), io.StringIO()
    log = ServerLog("INFO", stdout=out, stderr=err)
    log.install()
    _access("/healthz", 200)
    assert out.getvalue() == 'INFO:     127.0.0.1:5000 - "POST /healthz HTTP/1.1" 200 OK\n'


def test_dropped_records_are_reported_as_json_too() -> None:
    gate = threading.Event()

    class Stuck(io.StringIO):
        def write(self, text: str) -> int:
            assert gate.wait(30)
            return super().write(text)

    out, err = Stuck(), io.StringIO()
    log = ServerLog("INFO", log_format="json", stdout=out, stderr=err, limit=2)
    log.install()
    with log.off_the_loop():
        for n in range(6):
            _access(f"/v2/enqueue?n={n}")
        gate.set()
    [note] = _objects(err)
    assert note["level"] == "WARNING" and "log records dropped" in note["message"]
    assert len(_objects(out)) >= 2
