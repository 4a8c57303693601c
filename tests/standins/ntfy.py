"""A local ntfy server on 127.0.0.1 for tests: ntfy's documented JSON publish API (the far end, not our code).

What it follows, from ntfy's docs ("Publish as JSON", "Action buttons", "Authentication",
"Limitations", the subscribe API's "JSON message format") and its server's error table:

- ``POST /`` (or ``PUT``) with message JSON → 200 and the stored message: a 12-character ``id``,
  ``time``, ``expires`` (12 h of cache), ``event: "message"``, only non-empty fields, and each action
  given a 10-character ``id`` (``action`` lower-cased, ``method`` upper-cased). An empty message is
  the literal ``triggered``; one over 4096 bytes becomes an ``attachment.txt`` file attachment.
- Validation in ntfy's order: credentials (401 40101) → JSON (a wrong type too: 400 40024; over
  8192 bytes: 413 41303) → topic regex (400 40009) → rate limit (429 42901, no Retry-After) → write
  access (403 40301) → priority 1–5 (400 40007) → at most 3 valid actions (400 40018).
- Errors in ntfy's shape: ``{"code": 40101, "http": 401, "error": "unauthorized", "link": "…"}``.
- Auth is switchable: ``protect(topic, token=...)`` makes a topic need a Bearer token (or Basic with
  an empty user name and the token as password); an unknown token is 401 on any topic.
- ``GET /<topic>/json?poll=1`` returns the topic's cached messages, one JSON object per line, and
  closes — how tests read what was delivered. (Streaming subscriptions and the header form of
  publishing, ``POST /<topic>``, are not stood in: nothing here uses them.)
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MESSAGE_LIMIT = 4096
JSON_LIMIT = 2 * MESSAGE_LIMIT
CACHE_SECONDS = 12 * 3600
TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")
ALPHABET = string.ascii_letters + string.digits
AUTH_LINK = "https://ntfy.sh/docs/publish/#authentication"
STRING_FIELDS = ("topic", "title", "message", "click", "icon", "attach", "filename", "email", "call", "delay")
ACTION_STRINGS = ("action", "label", "url", "method", "body", "intent")


class NtfyError(Exception):
    def __init__(self, status: int, code: int, error: str, link: str = "") -> None:
        super().__init__(error)
        self.status, self.code, self.error, self.link = status, code, error, link

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"code": self.code, "http": self.status, "error": self.error}
        if self.link:
            doc["link"] = self.link
        return doc


def _unauthorized() -> NtfyError:
    return NtfyError(401, 40101, "unauthorized", AUTH_LINK)


def _forbidden() -> NtfyError:
    return NtfyError(403, 40301, "forbidden", AUTH_LINK)


def _json_invalid() -> NtfyError:
    return NtfyError(400, 40024, "invalid request: request body must be valid JSON")


def _actions_invalid(why: str) -> NtfyError:
    return NtfyError(
        400, 40018, f"invalid request: actions invalid, {why}", "https://ntfy.sh/docs/publish/#action-buttons"
    )


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _no_surrogates(text: str) -> str:
    """Go's JSON decoder turns an escaped lone surrogate into U+FFFD."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.perf_counter)
    """When it arrived (``time.perf_counter``: the bench times deliveries by it)."""


@dataclass
class NtfyStandIn:
    server: ThreadingHTTPServer
    tokens: dict[str, set[str]] = field(default_factory=dict)
    """access token → the protected topics its user may read and write"""
    protected: set[str] = field(default_factory=set)
    throttle: int = 0
    """the next this-many publishes answer 429 42901, as ntfy does when a visitor's bucket is empty"""
    received: list[Received] = field(default_factory=list)
    cache: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def protect(self, topic: str, *, token: str) -> None:
        """``topic`` needs ``token`` to publish or read (``auth-default-access: deny-all`` for it)."""
        with self.lock:
            self.protected.add(topic)
            self.tokens.setdefault(token, set()).add(topic)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the API --------------------------------------------------------------------------------

    def user(self, authorization: str | None) -> str | None:
        """The token of an authenticated request, None when anonymous; 401 for bad credentials."""
        value = (authorization or "").strip()
        lowered = value.lower()
        if lowered.startswith("bearer "):
            token = value[7:].strip()
        elif lowered.startswith("basic "):
            try:
                name, _, token = base64.b64decode(value[6:].strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _unauthorized() from None
            if name:  # user name + password: no users exist in this stand-in
                raise _unauthorized()
        else:
            return None  # no (or an unsupported) Authorization header: an anonymous visitor
        if token not in self.tokens:
            raise _unauthorized()
        return token

    def allowed(self, token: str | None, topic: str) -> bool:
        return topic not in self.protected or (token is not None and topic in self.tokens[token])

    def publish(self, body: bytes, authorization: str | None) -> dict[str, Any]:
        with self.lock:
            token = self.user(authorization)
            if len(body) > JSON_LIMIT:
                raise NtfyError(413, 41303, "JSON body too large")
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise _json_invalid() from None
            _check_types(doc)
            topic = doc.get("topic") or ""
            if not TOPIC.fullmatch(topic):
                raise NtfyError(400, 40009, "invalid request: topic invalid")
            if self.throttle > 0:
                self.throttle -= 1
                raise NtfyError(
                    429,
                    42901,
                    "limit reached: too many requests, please be nice",
                    "https://ntfy.sh/docs/publish/#limitations",
                )
            if not self.allowed(token, topic):
                raise _forbidden()
            message = _message(doc, self.url)
            self.cache.append(message)
            return message

    def poll(self, topic: str, authorization: str | None) -> list[dict[str, Any]]:
        with self.lock:
            token = self.user(authorization)
            if not TOPIC.fullmatch(topic):
                raise NtfyError(400, 40009, "invalid request: topic invalid")
            if not self.allowed(token, topic):
                raise _forbidden()
            return [m for m in self.cache if m["topic"] == topic]


def _check_types(doc: Any) -> None:
    """What Go's decoder into ntfy's publishMessage would refuse (null is fine; unknown keys are ignored)."""
    if not isinstance(doc, dict):
        raise _json_invalid()
    for name in STRING_FIELDS:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise _json_invalid()
    priority = doc.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise _json_invalid()
    tags = doc.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise _json_invalid()
    if doc.get("markdown") is not None and not isinstance(doc["markdown"], bool):
        raise _json_invalid()
    actions = doc.get("actions")
    if actions is None:
        return
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise _json_invalid()
    for action in actions:
        for name in ACTION_STRINGS:
            if action.get(name) is not None and not isinstance(action[name], str):
                raise _json_invalid()
        if action.get("clear") is not None and not isinstance(action["clear"], bool):
            raise _json_invalid()
        for name in ("headers", "extras"):
            value = action.get(name)
            if value is not None and not (
                isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            ):
                raise _json_invalid()


def _actions(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ntfy's parseActions: ids, case, then ≤ 3 actions, a known type, a label, a URL where needed."""
    actions = []
    for given in raw:
        action = {"id": _random(10), **{k: v for k, v in given.items() if v not in (None, "", {}, False)}}
        action["action"] = str(action.get("action", "")).lower()
        if "method" in action:
            action["method"] = action["method"].upper()
        actions.append(action)
    if len(actions) > 3:
        raise _actions_invalid("only 3 actions allowed")
    for action in actions:
        kind = action["action"]
        if kind not in ("view", "broadcast", "http"):
            raise _actions_invalid(f"action '{kind}' unknown")
        if not action.get("label"):
            raise _actions_invalid("parameter 'label' is required")
        if kind in ("view", "http") and not action.get("url"):
            raise _actions_invalid(f"parameter 'url' is required for action '{kind}'")
        if kind == "http" and action.get("method") in ("GET", "HEAD") and action.get("body"):
            raise _actions_invalid(f"parameter 'body' cannot be set if method is {action['method']}")
    return actions


def _message(doc: dict[str, Any], base_url: str) -> dict[str, Any]:
    priority = doc.get("priority") or 0
    if not 0 <= priority <= 5:
        raise NtfyError(
            400, 40007, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority"
        )
    actions = _actions(doc.get("actions") or [])
    now = int(time.time())
    message: dict[str, Any] = {
        "id": _random(12),
        "time": now,
        "expires": now + CACHE_SECONDS,
        "event": "message",
        "topic": doc["topic"],
    }
    text = _no_surrogates(doc.get("message") or "triggered")
    if doc.get("title"):
        message["title"] = _no_surrogates(doc["title"])
    if len(text.encode()) > MESSAGE_LIMIT:  # ntfy keeps a long body as a file, not as the message
        message["message"] = "You received a file: attachment.txt"
        message["attachment"] = {
            "name": "attachment.txt",
            "type": "text/plain; charset=utf-8",
            "size": len(text.encode()),
            "expires": now + 3 * 3600,
            "url": f"{base_url}/file/{message['id']}.txt",
        }
    else:
        message["message"] = text
    if priority:
        message["priority"] = priority
    tags = [t.strip() for t in ",".join(doc.get("tags") or []).split(",") if t.strip()]
    if tags:
        message["tags"] = tags
    for name in ("click", "icon"):
        if doc.get(name):
            message[name] = doc[name]
    if actions:
        message["actions"] = actions
    return message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024  # status line, headers and body in one segment (no Nagle/delayed-ACK stall)
    disable_nagle_algorithm = True
    standin: NtfyStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, error: NtfyError) -> None:
        self._answer(error.status, json.dumps(error.document()).encode() + b"\n")

    def _record(self, body: bytes) -> None:
        with self.standin.lock:
            self.standin.received.append(Received(self.command, self.path, dict(self.headers.items()), body))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._record(body)
        if urlsplit(self.path).path != "/":
            self._error(NtfyError(404, 40401, "page not found"))
            return
        try:
            message = self.standin.publish(body, self.headers.get("Authorization"))
        except NtfyError as error:
            self._error(error)
            return
        self._answer(200, json.dumps(message, ensure_ascii=False).encode() + b"\n")

    do_PUT = do_POST

    def do_GET(self) -> None:
        self._record(b"")
        parts = urlsplit(self.path)
        match = re.fullmatch(r"/([^/]+)/json", parts.path)
        if match is None or parse_qs(parts.query).get("poll") not in (["1"], ["true"], ["yes"]):
            self._error(NtfyError(404, 40401, "page not found"))
            return
        try:
            messages = self.standin.poll(match.group(1), self.headers.get("Authorization"))
        except NtfyError as error:
            self._error(error)
            return
        lines = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)
        self._answer(200, lines.encode(), "application/x-ndjson; charset=utf-8")


def start_ntfy(port: int = 0) -> NtfyStandIn:
    """A running stand-in on ``port`` (0: a free one); ``close()`` it when done."""
    handler: type[_Handler] = type("NtfyHandler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    standin = NtfyStandIn(server)
    handler.standin = standin
    threading.Thread(target=server.serve_forever, args=(0.05,), name="ntfy-standin", daemon=True).start()
    return standin


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.standins.ntfy --port 8091``: serve until interrupted (read with ``?poll=1``)."""
    parser = argparse.ArgumentParser(prog="python -m tests.standins.ntfy")
    parser.add_argument("--port", type=int, default=8091)
    standin = start_ntfy(parser.parse_args(argv).port)
    print(f"ntfy stand-in on {standin.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
