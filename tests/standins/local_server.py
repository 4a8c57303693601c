"""The HTTP plumbing the importers' vendor stand-ins share: a threaded server on 127.0.0.1 whose
every GET is answered by one function, so each stand-in holds only its vendor's documented rules.

``respond(target, headers)`` gets the request target (path and query) and the request headers and
returns ``(status, extra headers, body)``: a body of bytes is sent as it is, None as an empty body,
anything else as JSON; ``Content-Type: application/json`` unless the extra headers say otherwise.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], Any]
Respond = Callable[[str, dict[str, str]], Answer]


class LocalServer:
    """A server on a free port of 127.0.0.1; :meth:`start` serves in a daemon thread, :meth:`close` stops."""

    def __init__(
        self, respond: Respond, *, keep_alive: bool = False, tls: ssl.SSLContext | None = None
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:
                status, headers, body = respond(self.path, dict(self.headers.items()))
                raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # for a client that insists on https (PagerDuty's own)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> LocalServer:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
