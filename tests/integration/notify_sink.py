"""A local HTTP receiver on 127.0.0.1 standing in for Slack and webhook endpoints (the far end, not our code).

It records every request and answers from a script: ``sink.script("/hook", 500, 500, 200)``
answers the first two requests to ``/hook`` with 500 and the rest with 200; an answer may be
``(status, headers)``. ``sink.hold("/slow")`` makes requests to a path wait until released.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = int | tuple[int, dict[str, str]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    answers: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    holds: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, path: str, *answers: Answer) -> None:
        self.answers[path].extend(answers)

    def hold(self, path: str) -> threading.Event:
        self.holds[path] = threading.Event()
        return self.holds[path]

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            queue = self.answers.get(path)
            answer: Answer = queue.popleft() if queue and len(queue) > 1 else (queue[0] if queue else 200)
        return answer if isinstance(answer, tuple) else (answer, {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One segment per answer, sent at once: unbuffered, the status line and the body went out in two
    # writes, and Nagle's algorithm held the second until the sender's delayed ACK (~40 ms a request).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    sink: Sink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hold = self.sink.holds.get(self.path)
        if hold is not None:
            hold.wait(timeout=30)
        with self.sink.lock:
            self.sink.received.append(Received(self.path, dict(self.headers.items()), body))
        status, headers = self.sink.answer(self.path)
        reply = b"ok" if status < 300 else b"no"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_sink() -> Sink:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    sink = Sink(server)
    handler.sink = sink  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="notify-sink", daemon=True).start()
    return sink


def stop_sink(sink: Sink) -> None:
    for event in sink.holds.values():
        event.set()
    sink.server.shutdown()
    sink.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
