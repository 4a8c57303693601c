"""Secrets never reach a log line, and ``commandpost serve``'s log costs the event loop little.

uvicorn writes each request's path and query string as sent. A token in a query string is refused
(401, :data:`commandpost.deps.QUERY_TOKEN_NAMES`), but uvicorn has logged the request line by then.
Some paths are secrets themselves: an iCal feed's URL (``/ical/{secret}.ics``) and an alert intake
URL (``/api/v1/intake/{source}/{key}``), whose key anyone could post alerts with, and a heartbeat's
ping URL (``/api/v1/heartbeats/{key}``), whose key anyone could silence a dead man's switch with.
:class:`AccessLogSecretFilter` replaces those values with :data:`MASK` before the line is formatted.

Every other log line goes through :class:`SecretFilter`: an error logged while handling
``POST /api/v1/intake/alertmanager/<key>`` names the path, and an exception's text may quote a
token; the filter masks intake keys, feed secrets and tokens in the message and in the formatted
traceback before anything is written.

:class:`ServerLog` is how ``serve`` writes its log: access lines on stdout, the rest on stderr,
each masked as above. While uvicorn runs (:meth:`ServerLog.off_the_loop`) the event loop only
appends records to a queue; a listener thread takes them every :data:`FLUSH_SECONDS`, masks,
formats and writes them, and flushes once per batch. Formatting and writing each access line on
the loop (uvicorn's own handlers) cost about a third of the intake's throughput.

``COMMANDPOST_LOG_FORMAT=json`` makes every line one JSON object (:class:`JsonFormatter`, by
python-json-logger on orjson), formatted in the same listener thread after the same masking. A
record made while a request is handled carries that request's ID (:mod:`commandpost.requestid`),
copied onto it when it is made: the listener thread, where it is formatted, has no request. Text
lines end with ``request_id=…`` then, so a grep finds every line of one request in either format.
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from logging.handlers import QueueHandler, QueueListener
from typing import Any, Literal, TextIO, cast
from urllib.parse import unquote_plus

import orjson
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

from commandpost.deps import QUERY_TOKEN_NAMES
from commandpost.requestid import REQUEST_ID

MASK = "[REDACTED]"
ACCESS_LOGGER = "uvicorn.access"

_QUERY_NAMES = frozenset(name.lower() for name in QUERY_TOKEN_NAMES)
_ICAL = re.compile(r"(/ical/)[^/?]+?(\.ics)?(?=[/?]|$)")
_INTAKE = re.compile(r"(/api/v1/(?:intake/[^/?]+|heartbeats)/)[^/?]+")
_QUERY_SEPARATOR = re.compile(r"([&;])")
_ICAL_IN_TEXT = re.compile(r"(/ical/)[^/?\s\"']+?(\.ics)?(?=[/?\s\"']|$)")
_TOKENS = re.compile(r"\b(cpf?_)[A-Za-z0-9_-]{16,}")
_QUERY_IN_TEXT = re.compile(
    r"([?&;](?:" + "|".join(map(re.escape, sorted(_QUERY_NAMES))) + r")=)[^&;\s\"']+", re.IGNORECASE
)


def mask_url(path_and_query: str) -> str:
    """``/ical/cpf_x.ics?token=abc`` → ``/ical/[REDACTED].ics?token=[REDACTED]``; else unchanged.

    A query parameter is masked when its name, percent-decoded and in any case, is one of the
    refused token names; ``;`` separates parameters as well as ``&``, so nothing hides behind it.
    """
    path, sep, query = path_and_query.partition("?")
    if not query and "/ical/" not in path and "/api/v1/intake/" not in path and "/heartbeats/" not in path:
        return path_and_query  # most lines: nothing that could hold a secret
    path = _ICAL.sub(lambda m: f"{m[1]}{MASK}{m[2] or ''}", path)
    path = _INTAKE.sub(lambda m: f"{m[1]}{MASK}", path)
    if query:
        parts = _QUERY_SEPARATOR.split(query)
        for i in range(0, len(parts), 2):  # even items are parameters, odd ones their separators
            name, eq, value = parts[i].partition("=")
            if eq and value and unquote_plus(name).strip().lower() in _QUERY_NAMES:
                parts[i] = f"{name}={MASK}"
        query = "".join(parts)
    return f"{path}{sep}{query}"


def mask_text(text: str) -> str:
    """Any log text with intake keys, feed secrets, API tokens and query-string tokens masked."""
    text = _INTAKE.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _ICAL_IN_TEXT.sub(lambda m: f"{m[1]}{MASK}{m[2] or ''}", text)
    text = _QUERY_IN_TEXT.sub(lambda m: f"{m[1]}{MASK}", text)
    return _TOKENS.sub(lambda m: f"{m[1]}{MASK}", text)


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message and traceback (every handler but the access log's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER:
            return True  # its arguments are masked by AccessLogSecretFilter; uvicorn formats them itself
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class AccessLogSecretFilter(logging.Filter):
    """Masks the request path of uvicorn's access records (``client, method, path, version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            masked = mask_url(args[2])
            if masked != args[2]:
                record.args = (args[0], args[1], masked, args[3], args[4])
        return True


QUEUE_LIMIT = 100_000
"""Records waiting for the listener at most (~50 MB): past it, while the output is stuck (a full
pipe), records are dropped and counted rather than blocking the server or growing without end."""
FLUSH_SECONDS = 0.1
"""How often the listener takes the records gathered (a line is on its stream at most this late)."""
ACCESS_LINES_PER_WRITE = 1_000
"""Access lines written in one ``write()`` at most: one call per line cost the listener three
times the line's formatting; the queue's end, or this many, writes what has gathered."""
APP_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STATUS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
LogFormat = Literal["text", "json"]
_SCALARS = (str, int, float, bool, type(None))


class AccessFormatter(logging.Formatter):
    """uvicorn's access line, uncoloured, in one f-string from the record's arguments:
    ``INFO:     127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200 OK``. (uvicorn's formatter copies
    the record and looks the status phrase up again for every line.)"""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            return self.line(args, record.created, getattr(record, "request_id", None))
        return f"{_level_prefix(record.levelname)} {record.getMessage()}{_request_suffix(record)}"

    @staticmethod
    def line(args: tuple[Any, ...], created: float, request_id: str | None) -> str:
        """The line of uvicorn's five access arguments (``created``: unused, the line has no time)."""
        client, method, path, version, status = args
        phrase = _STATUS.get(status, f"{status} ") if isinstance(status, int) else status
        suffix = "" if request_id is None else f" request_id={request_id}"
        return f'INFO:     {client} - "{method} {path} HTTP/{version}" {phrase}{suffix}'


class _AppFormatter(logging.Formatter):
    """:data:`APP_FORMAT`, and the request's ID at the end of a line logged while handling one."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record) + _request_suffix(record)


def _request_suffix(record: logging.LogRecord) -> str:
    request_id = getattr(record, "request_id", None)
    return "" if request_id is None else f" request_id={request_id}"


class JsonFormatter(OrjsonFormatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then
    ``request_id`` while a request is handled, ``exc_info`` (the traceback, masked) and any
    ``extra=`` fields. Used after the secret filters, like the text formatters."""

    def __init__(self) -> None:
        super().__init__(
            ("levelname", "name", "message"),
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],  # uvicorn's ANSI copy
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC)
        super().add_fields(log_data, record, message)

    def formatException(self, ei: Any) -> str:
        """Masked here too: the base class formats ``exc_info`` again rather than use ``exc_text``."""
        return mask_text(logging.Formatter.formatException(self, ei))


class JsonAccessFormatter(JsonFormatter):
    """An access line as JSON: uvicorn's line as ``message`` (``127.0.0.1:5000 - "GET /healthz
    HTTP/1.1" 200 OK``, path masked) and its parts as fields: ``client``, ``method``, ``path``,
    ``http_version``, ``status``. One per request, so built directly (the library's generic walk
    over the record's attributes cost ten times the text line); the same fields as other lines."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return super().format(record)
        return self.line(args, record.created, getattr(record, "request_id", None))

    @staticmethod
    def line(args: tuple[Any, ...], created: float, request_id: str | None) -> str:
        """The JSON line of uvicorn's five access arguments, made at ``created``."""
        client, method, path, version, status = args
        phrase = _STATUS.get(status, f"{status} ") if isinstance(status, int) else status
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(created, UTC),
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "message": f'{client} - "{method} {path} HTTP/{version}" {phrase}',
        }
        if request_id is not None:
            line["request_id"] = request_id
        line.update(client=client, method=method, path=path, http_version=version, status=status)
        return orjson.dumps(line, default=str).decode()


class _UvicornFormatter(logging.Formatter):
    """uvicorn's own lines as uvicorn writes them (``INFO:     Started server process``), uncoloured."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return f"{_level_prefix(record.levelname)} {record.message}"


def _level_prefix(levelname: str) -> str:
    return levelname + ":" + " " * (8 - len(levelname))


class _Records:
    """The queue between the event loop and the listener, which it never wakes per record.

    A ``queue.SimpleQueue`` wakes the waiting listener on every put: a system call, then the two
    threads passing the GIL back and forth once per access line, which cost the loop more than the
    line itself. Here a put is a ``deque.append``; the listener takes what has gathered every
    :data:`FLUSH_SECONDS`, and at once when it is told to stop (its sentinel, ``None``).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.items: collections.deque[Any] = collections.deque()  # records, QuickAccess lines, None
        self.stopping = threading.Event()

    def put_nowait(self, item: logging.LogRecord | None) -> None:
        self.items.append(item)
        if item is None:
            self.stopping.set()

    def get(self, block: bool = True) -> logging.LogRecord | None:
        while not self.items:
            if not block:
                raise queue.Empty
            self.stopping.wait(self.interval)
        return self.items.popleft()

    def empty(self) -> bool:
        return not self.items

    def qsize(self) -> int:
        return len(self.items)


class _Enqueue(QueueHandler):
    """The handler on the event loop's side: the record goes on the queue as it is (formatting and
    masking are the listener's), never waiting; dropped and counted when the queue is full."""

    def __init__(self, records: _Records, limit: int) -> None:
        super().__init__(records)
        self.records = records
        self.limit = limit
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        args = record.args
        if (
            args
            and record.name != ACCESS_LOGGER
            and not (isinstance(args, tuple) and all(isinstance(a, _SCALARS) for a in args))
        ):
            record.msg, record.args = record.getMessage(), None  # what a mutable argument says now
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.records.qsize() < self.limit:
            self.records.put_nowait(record)
        else:
            self.dropped += 1


class _Output(logging.Handler):
    """Masks, formats and writes a record: access lines to stdout, the rest to stderr. Flushes after
    each record when called directly, and only once the queue is empty behind a listener."""

    def __init__(self, stdout: TextIO, stderr: TextIO, log_format: LogFormat = "text") -> None:
        super().__init__()
        self.stdout, self.stderr = stdout, stderr
        self.access_mask, self.text_mask = AccessLogSecretFilter(), SecretFilter()
        self.access: AccessFormatter | JsonAccessFormatter
        self.uvicorn: logging.Formatter
        self.app: logging.Formatter
        if log_format == "json":
            self.access, self.uvicorn = JsonAccessFormatter(), JsonFormatter()
            self.app = self.uvicorn
        else:
            self.access, self.uvicorn = AccessFormatter(), _UvicornFormatter()
            self.app = _AppFormatter(APP_FORMAT)
        self.behind: _Enqueue | None = None
        self.reported = 0
        self.access_lines: list[str] = []  # written together on the next drain

    def emit(self, record: logging.LogRecord) -> None:
        try:
            name = record.name
            if name == ACCESS_LOGGER:
                self.access_mask.filter(record)
                self.stdout.write(self.access.format(record) + "\n")
            else:
                self.text_mask.filter(record)
                formatter = self.uvicorn if name.startswith("uvicorn") else self.app
                self.stderr.write(formatter.format(record) + "\n")
            if self.behind is None or self.behind.records.empty():
                self.drain()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def access_line(self, msg: str, args: tuple[Any, ...], created: float, request_id: str | None) -> None:
        """A :class:`QuickAccess` line, masked and written without making its record: the line
        :meth:`emit` writes for that record, for about half the listener's CPU per request."""
        if len(args) == 5 and isinstance(args[2], str):
            args = (args[0], args[1], mask_url(args[2]), args[3], args[4])
            self.access_lines.append(self.access.line(args, created, request_id))
            if (
                len(self.access_lines) >= ACCESS_LINES_PER_WRITE
                or self.behind is None
                or self.behind.records.empty()
            ):
                self.drain()
        else:  # not uvicorn's five arguments: the record's way
            self.handle(_access_record(msg, args, created, request_id))

    def drain(self) -> None:
        """Write the access lines gathered, say how many records the queue dropped since last said,
        then flush both streams."""
        if self.access_lines:
            lines, self.access_lines = self.access_lines, []
            self.stdout.write("\n".join(lines) + "\n")
        dropped = self.behind.dropped if self.behind is not None else self.reported
        if dropped > self.reported:
            note = f"{dropped - self.reported} log records dropped: the log output did not keep up"
            record = logging.makeLogRecord(
                {"name": "commandpost", "levelno": logging.WARNING, "levelname": "WARNING", "msg": note}
            )
            self.stderr.write(self.app.format(record) + "\n")
            self.reported = dropped
        self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            self.stdout.flush()
            self.stderr.flush()
        finally:
            self.release()


class ServerLog:
    """``serve``'s logging: every record masked, then written (access lines on stdout, the rest on
    stderr) — by the caller's thread, or while :meth:`off_the_loop` by a listener thread."""

    def __init__(
        self,
        level: str,
        *,
        log_format: LogFormat = "text",
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        self.level = level
        self.output = _Output(stdout or sys.stdout, stderr or sys.stderr, log_format)
        self.queue = _Records(FLUSH_SECONDS)
        self.enqueue = _Enqueue(self.queue, limit)

    def install(self) -> None:
        """The root logger writes through this, at once, from now on; uvicorn's loggers go to it."""
        root = logging.getLogger()
        root.setLevel(self.level)
        root.handlers = [self.output]
        # What none of serve's lines shows, a record need not look up (the logging HOWTO's
        # "Optimization"): the caller's file and line, its thread and process — a quarter of what
        # an access line costs the event loop.
        logging._srcfile = None
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        _tag_records_with_request_id()
        # uvicorn's records go through the root's handler, at the server's level: a uvicorn.Config made
        # earlier in the process (log_level, access_log=False) leaves levels and propagate behind
        for name in ("uvicorn", "uvicorn.error", ACCESS_LOGGER):
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = [], True
            logger.setLevel(logging.NOTSET)

    @contextmanager
    def off_the_loop(self) -> Iterator[None]:
        """Records are queued, and written by a listener thread, until the block ends; then every
        queued record is written and flushed before it returns (the last lines of a shutdown)."""
        global _quick_access
        root = logging.getLogger()
        listener = _Listener(self.queue, self.output)
        self.output.behind = self.enqueue
        listener.start()
        root.handlers = [self.enqueue]
        _quick_access = QuickAccess(self.enqueue)
        try:
            yield
        finally:
            _quick_access = None
            root.handlers = [self.output]  # a record logged from here on is written at once
            listener.stop()  # writes what is queued
            self.output.drain()
            self.output.behind = None


_quick_access: QuickAccess | None = None


def access_logger() -> logging.Logger:
    """What uvicorn's protocol should log access lines with: :class:`QuickAccess` while
    :meth:`ServerLog.off_the_loop` (serve), else the ``uvicorn.access`` logger itself."""
    logger = logging.getLogger(ACCESS_LOGGER)
    return logger if _quick_access is None else cast(logging.Logger, _quick_access)


class QuickAccess:
    """uvicorn's access logger for the event loop, while the log is written off it: ``info`` only
    queues the line's arguments, its time and request ID; the listener thread masks, formats and
    writes the line the logger's record would have given (``uvicorn.access``, INFO, its time, its
    request ID), dropped and counted as before. Measured on the intake (py-spy, ``serve`` as
    shipped): making and handing over the record was 7 % of the event loop's samples, most of the
    access log's cost on the loop; making it on the listener, then writing each line on its own,
    cost that thread 15 µs a request, now 2 µs (``bench.accesslog``)."""

    def __init__(self, enqueue: _Enqueue) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._enqueue = enqueue

    def info(self, msg: str, *args: object) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        enqueue = self._enqueue
        if enqueue.records.qsize() < enqueue.limit:
            enqueue.records.items.append((msg, args, time.time(), REQUEST_ID.get()))
        else:
            enqueue.dropped += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def _access_record(
    msg: str, args: tuple[object, ...], created: float, request_id: str | None
) -> logging.LogRecord:
    """The record ``logging.getLogger(ACCESS_LOGGER).info(msg, *args)`` would have made at ``created``."""
    record = logging.getLogRecordFactory()(
        ACCESS_LOGGER, logging.INFO, "(unknown file)", 0, msg, args, None, "(unknown function)", None
    )
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    record.relativeCreated = (created - logging._startTime) * 1000  # type: ignore[attr-defined]
    if request_id is not None:
        record.request_id = request_id
    return record


class _Listener(QueueListener):
    """The queue's listener; a :class:`QuickAccess` line is written here, off the loop."""

    def __init__(self, records: _Records, output: _Output) -> None:
        super().__init__(records, output)
        self.output = output

    def handle(self, record: Any) -> None:
        if not isinstance(record, tuple):
            super().handle(record)
            return
        try:
            self.output.access_line(*record)
        except Exception:
            self.output.handleError(_access_record(*record))


def _tag_records_with_request_id() -> None:
    """Every record made from now on, in any thread, carries ``request_id`` when made while a request
    is handled (a request's threadpool work runs in a copy of its context). Installed once."""
    make = logging.getLogRecordFactory()
    if getattr(make, "tags_request_id", False):
        return

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            made.request_id = request_id
        return made

    record.tags_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)
