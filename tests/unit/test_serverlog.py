"""``serve``'s log: records leave the event loop on a queue, a listener thread masks and writes them;
logging never waits for the output, and the last lines are written when the server stops."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import orjson
import pytest

from commandpost.logfilter import ACCESS_LOGGER, MASK, QuickAccess, ServerLog, access_logger
from tests.logging_support import restored_logging

KEY = "0559ab12cd34ef560559ab12cd34ef56"
TOKEN = "cp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
WAIT = 30.0  # seconds a test waits for another thread before failing (never reached when it passes)


class Output(io.StringIO):
    """A stream that shows only what was flushed, remembers which threads wrote, and can hold the
    writer at a gate (a stuck pipe)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.entered = threading.Event()
        self.writers: set[str] = set()
        self.pending: list[str] = []
        self.flushed: list[str] = []

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT)
        self.pending.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushed += self.pending
        self.pending = []

    def lines(self) -> list[str]:
        return "".join(self.flushed).splitlines()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with restored_logging():
        yield


def _access(path: str, status: int = 202) -> None:
    """An access record exactly as uvicorn's protocol logs it."""
    logging.getLogger(ACCESS_LOGGER).info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", status
    )


def test_queued_records_are_masked_and_written_by_the_listener_thread() -> None:
    out, err = Output(), Output()
    log = ServerLog("INFO", stdout=out, stderr=err)
    log.install()
    with log.off_the_loop():
        _access(f"/api/v1/intake/alertmanager/{KEY}")
        _access("/api/v1/incidents?token=s3cr3t&limit=1", 401)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        try:
            raise RuntimeError(f"boom with {TOKEN}")
        except RuntimeError:
            logging.getLogger("commandpost").exception(
                "unhandled error on POST /api/v1/intake/generic/%s", KEY
            )
    assert out.lines() == [
        f'INFO:     127.0.0.1:5000 - "POST /api/v1/intake/alertmanager/{MASK} HTTP/1.1" 202 Accepted',
        f'INFO:     127.0.0.1:5000 - "POST /api/v1/incidents?token={MASK}&limit=1 HTTP/1.1" 401 Unauthorized',
    ]
    text = "\n".join(err.lines())
    assert err.lines()[0] == "INFO:     Started server process [42]"
    assert f"ERROR commandpost: unhandled error on POST /api/v1/intake/generic/{MASK}" in text
    assert f"RuntimeError: boom with cp_{MASK}" in text  # the traceback too
    assert (
        KEY not in text + "".join(out.lines()) and TOKEN not in text and "s3cr3t" not in "".join(out.lines())
    )
    me = threading.current_thread().name
    assert out.writers and err.writers and me not in out.writers | err.writers  # off the caller's thread


def test_a_stuck_output_never_blocks_logging_and_the_last_lines_are_written_at_shutdown() -> None:
    gate = threading.Event()
    out = Output(gate)
    log = ServerLog("INFO", stdout=out, stderr=Output())
    log.install()
    with log.off_the_loop():
        _access("/v2/enqueue?n=0")
        assert out.entered.wait(WAIT)  # the listener is stuck writing the first line
        for n in range(1, 1000):
            _access(f"/v2/enqueue?n={n}")  # returns at once although nothing can be written
        assert not gate.is_set() and out.flushed == []
        gate.set()
    lines = out.lines()  # leaving the block wrote and flushed every queued line
    assert lines == [
        f'INFO:     127.0.0.1:5000 - "POST /v2/enqueue?n={n} HTTP/1.1" 202 Accepted' for n in range(1000)
    ]


def test_past_the_queue_limit_records_are_dropped_and_counted_not_waited_for() -> None:
    gate = threading.Event()
    out, err = Output(gate), Output()
    log = ServerLog("INFO", stdout=out, stderr=err, limit=3)
    log.install()
    with log.off_the_loop():
        _access("/v2/enqueue?n=0")
        assert out.entered.wait(WAIT)
        for n in range(1, 11):
            _access(f"/v2/enqueue?n={n}")
        gate.set()
    assert [line.split("?n=")[1].split(" ")[0] for line in out.lines()] == ["0", "1", "2", "3"]
    assert err.lines()[-1].endswith(
        "WARNING commandpost: 7 log records dropped: the log output did not keep up"
    )


def test_a_mutable_argument_is_logged_as_it_was_when_logged() -> None:
    gate = threading.Event()
    err = Output(gate)
    log = ServerLog("INFO", stdout=Output(), stderr=err)
    log.install()
    with log.off_the_loop():
        logging.getLogger("commandpost").info("first")
        assert err.entered.wait(WAIT)
        pages = ["hana"]
        logging.getLogger("commandpost").info("paged %s", pages)
        pages.append("yuta")  # changed before the listener formats the record
        gate.set()
    assert err.lines()[-1].endswith("INFO commandpost: paged ['hana']")


def test_before_and_after_the_block_records_are_written_at_once_masked() -> None:
    out, err = Output(), Output()
    log = ServerLog("WARNING", stdout=out, stderr=err)
    log.install()
    logging.getLogger("commandpost").warning("key %s", f"/api/v1/intake/grafana/{KEY}")
    logging.getLogger("commandpost").info("below the level")
    assert err.lines()[0].endswith(f"WARNING commandpost: key /api/v1/intake/grafana/{MASK}")
    assert len(err.lines()) == 1 and err.writers == {threading.current_thread().name}


def test_text_lines_made_while_a_request_is_handled_end_with_its_id() -> None:
    """The text format carries the request ID as the JSON one does: a grep for it finds the access line
    and every app line of that request; lines made outside a request are unchanged."""
    from commandpost.requestid import REQUEST_ID

    out, err = Output(), Output()
    log = ServerLog("INFO", stdout=out, stderr=err)
    log.install()
    with log.off_the_loop():
        handling = REQUEST_ID.set("ci-42")
        try:
            logging.getLogger("commandpost").warning("refused POST /api/v1/intake/generic/%s", KEY)
            _access("/healthz", 200)
        finally:
            REQUEST_ID.reset(handling)
        _access("/readyz", 200)
    assert out.lines() == [
        'INFO:     127.0.0.1:5000 - "POST /healthz HTTP/1.1" 200 OK request_id=ci-42',
        'INFO:     127.0.0.1:5000 - "POST /readyz HTTP/1.1" 200 OK',
    ]
    assert err.lines()[-1].endswith(
        f"WARNING commandpost: refused POST /api/v1/intake/generic/{MASK} request_id=ci-42"
    )


def test_install_takes_uvicorns_loggers_back_from_an_earlier_uvicorn_config() -> None:
    """A uvicorn.Config made earlier in the process (a server in a thread, at log level warning with
    no access log) left its loggers at WARNING and not propagating: every access line was dropped."""
    import uvicorn

    uvicorn.Config(app=None, log_level="warning", access_log=False).configure_logging()
    out, err = Output(), Output()
    log = ServerLog("INFO", stdout=out, stderr=err)
    log.install()
    with log.off_the_loop():
        _access("/healthz", 200)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
    assert out.lines() == ['INFO:     127.0.0.1:5000 - "POST /healthz HTTP/1.1" 200 OK']
    assert err.lines() == ["INFO:     Started server process [7]"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_quick_access_lines_are_the_loggers_lines_made_off_the_loop(log_format: str) -> None:
    """serve's protocol logs access lines through ``access_logger()``: while the log is off the loop
    that queues only the line's arguments, and the listener writes what the logger would have written
    — masked, with the request ID and the time of the call; past the limit dropped and counted."""
    from commandpost.requestid import REQUEST_ID

    gate = threading.Event()
    out, err = Output(gate), Output()
    log = ServerLog("INFO", stdout=out, stderr=err, log_format=log_format, limit=2)  # type: ignore[arg-type]
    log.install()
    assert access_logger() is logging.getLogger(ACCESS_LOGGER)  # not off the loop: the logger itself
    path = f"/api/v1/intake/alertmanager/{KEY}"
    with log.off_the_loop():
        quick = access_logger()
        assert isinstance(quick, QuickAccess)
        handling = REQUEST_ID.set("ci-7")
        try:
            quick.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", 202)
            assert out.entered.wait(WAIT)  # the listener is stuck writing that line
            _access(path)
            for _ in range(3):  # the queue holds 2: one is queued, two are dropped and said so
                quick.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", path, "1.1", 202)
        finally:
            REQUEST_ID.reset(handling)
        gate.set()
    quick_line, logged_line, again = out.lines()
    assert KEY not in quick_line and MASK in quick_line and "ci-7" in quick_line
    if log_format == "json":
        made, logged = orjson.loads(quick_line), orjson.loads(logged_line)
        times = {k for k in made if "time" in k}
        assert times  # the line has a time, the call's, not the listener's
        assert {k: v for k, v in made.items() if k not in times} == {
            k: v for k, v in logged.items() if k not in times
        }
    else:
        assert quick_line == logged_line == again
    assert "2 log records dropped: the log output did not keep up" in err.lines()[-1]


def test_queued_access_lines_are_written_together_in_order() -> None:
    """The listener writes the access lines that gathered behind it in one ``write()`` (one call per
    line cost it three times the formatting), in the order they were logged, each masked; a queue
    longer than ACCESS_LINES_PER_WRITE is written in that many at most."""
    from commandpost import logfilter

    gate = threading.Event()
    out = Output(gate)
    log = ServerLog("INFO", stdout=out, stderr=Output())  # type: ignore[arg-type]
    log.install()
    count = logfilter.ACCESS_LINES_PER_WRITE + 500
    with log.off_the_loop():
        quick = access_logger()
        quick.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/first", "1.1", 200)
        assert out.entered.wait(WAIT)  # the listener is held writing the first line
        for n in range(count):
            quick.info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", f"/api/v1/intake/x/{KEY}{n}", "1.1", 202
            )
        gate.set()
    lines = out.lines()
    assert len(lines) == count + 1 and "/first" in lines[0]
    assert all(f"/api/v1/intake/x/{MASK} " in line and KEY not in line for line in lines[1:])
    assert len(out.flushed) <= 4  # the first line, then the rest in batches of at most 1,000 lines
    assert max(text.count("\n") for text in out.flushed) <= logfilter.ACCESS_LINES_PER_WRITE
