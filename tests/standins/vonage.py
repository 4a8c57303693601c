"""A local Vonage on 127.0.0.1 for tests: the documented SMS and Voice APIs and webhooks (the far end).

What it follows (Vonage's SMS and Voice OpenAPI specifications and webhook reference):

- ``POST /sms/json``: a form (``from``, ``to`` as E.164 digits without ``+``, ``text``, ``type``,
  ``callback``, …), auth by HTTP Basic (key:secret) or ``api_key``/``api_secret`` fields. **HTTP 200
  even on failure**: ``{"message-count": "1", "messages": [{"status": "0", "message-id": …}]}``; a
  failed part carries its ``status`` and ``error-text``. Statuses a test scripts with
  :meth:`VonageStandin.script`: ``"1"`` throttled, ``"3"`` invalid parameters, ``"6"``, ``"7"``,
  ``"33"``; an HTTP status (500, 429) or ``"hang"``.
- ``POST /v1/calls``: JSON with ``to``/``from``/``ncco``/``event_url``, ``Authorization: Bearer`` a
  JWT signed RS256 (checked with the application's public key when one is given); **201**
  ``{"uuid", "status": "started", "direction": "outbound", "conversation_uuid"}``.
- Webhooks, signed as Vonage signs them: SMS callbacks (delivery receipt, inbound text) carry
  ``timestamp`` and ``sig`` — HMAC over ``&name=value`` of the sorted parameters, ``&``/``=`` in
  values replaced by ``_``, lower-case hex — and voice callbacks (input, events) a Bearer JWT HS256
  with the signature secret and the body's SHA-256 as ``payload_hash``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt

API_KEY = "abcd1234"
API_SECRET = "standin-api-secret"
SIGNATURE_SECRET = "standin-signature-secret-0123456789abcdef"
ERROR_TEXT = {
    "1": "Throttled",
    "3": "Invalid to param",
    "4": "Bad Credentials",
    "6": "Invalid Message",
    "7": "Number barred.",
    "33": "Number de-activated",
}
Answer = str | int
"""``"0"`` (accepted), another send status, an HTTP status, or ``"hang"``."""
Send = Callable[..., Any]


@dataclass
class VonageStandin:
    server: ThreadingHTTPServer
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    signature_secret: str = SIGNATURE_SECRET
    signature_method: str = "md5"
    public_key: str | None = None
    clock: Callable[[], float] = time.time
    hang_seconds: float = 3.0
    sms: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    calls_auth: list[str] = field(default_factory=list)
    """The ``application_id`` claim of each call's JWT."""
    answers: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, endpoint: str, *answers: Answer) -> None:
        """The next answers of ``sms`` or ``calls``, in order; then success again."""
        with self.lock:
            self.answers[endpoint].extend(answers)

    def _next(self, endpoint: str) -> Answer:
        with self.lock:
            queue = self.answers.get(endpoint)
            return queue.popleft() if queue else "0"

    # ------------------------------------------------------------ signed webhooks

    def sign(self, params: dict[str, str]) -> dict[str, str]:
        signed = {**params, "timestamp": str(int(self.clock())), "nonce": secrets.token_hex(8)}
        text = "".join(
            "&" + name + "=" + signed[name].replace("&", "_").replace("=", "_") for name in sorted(signed)
        )
        digest = getattr(hashlib, self.signature_method)
        signed["sig"] = hmac.new(self.signature_secret.encode(), text.encode(), digest).hexdigest()
        return signed

    def post_signed_json(self, url: str, params: dict[str, str], send: Send = httpx.post) -> Any:
        return send(
            url, content=json.dumps(self.sign(params)).encode(), headers={"Content-Type": "application/json"}
        )

    def dlr(
        self, message: dict[str, str], status: str, *, err_code: str = "0", send: Send = httpx.post
    ) -> Any:
        """The delivery receipt of a sent ``message`` (as recorded), to its ``callback``."""
        params = {
            "msisdn": message["to"],
            "to": message["from"],
            "network-code": "44010",
            "messageId": message["message-id"],
            "price": "0.03330000",
            "status": status,
            "scts": "2606240301",
            "err-code": err_code,
            "api-key": self.api_key,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.clock())),
        }
        return self.post_signed_json(message["callback"], params, send)

    def inbound(self, url: str, *, msisdn: str, to: str, text: str, send: Send = httpx.post) -> Any:
        params = {
            "api-key": self.api_key,
            "msisdn": msisdn.lstrip("+"),
            "to": to.lstrip("+"),
            "messageId": secrets.token_hex(8).upper(),
            "text": text,
            "type": "text",
            "keyword": (text.split() or [""])[0].upper(),
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.clock())),
        }
        return self.post_signed_json(url, params, send)

    def voice_post(self, url: str, document: dict[str, Any], send: Send = httpx.post) -> Any:
        body = json.dumps(document).encode()
        now = int(self.clock())
        claims = {
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": "Vonage",
            "payload_hash": hashlib.sha256(body).hexdigest(),
            "api_key": self.api_key,
        }
        token = jwt.encode(claims, self.signature_secret, algorithm="HS256")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        return send(url, content=body, headers=headers)

    def input(self, call: dict[str, Any], digits: str, send: Send = httpx.post) -> Any:
        """The ``input`` action's result, to its ``eventUrl`` (``digits`` empty: timed out)."""
        action = next(a for a in call["ncco"] if a["action"] == "input")
        document = {
            "uuid": call["uuid"],
            "conversation_uuid": call["conversation_uuid"],
            "from": call["from"]["number"],
            "to": call["to"][0]["number"],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.clock())),
            "dtmf": {"digits": digits, "timed_out": not digits},
        }
        return self.voice_post(action["eventUrl"][0], document, send)

    def event(self, call: dict[str, Any], status: str, send: Send = httpx.post) -> Any:
        document = {
            "uuid": call["uuid"],
            "conversation_uuid": call["conversation_uuid"],
            "status": status,
            "direction": "outbound",
            "from": call["from"]["number"],
            "to": call["to"][0]["number"],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.clock())),
        }
        return self.voice_post(call["event_url"][0], document, send)

    # ------------------------------------------------------------ the APIs

    def send_sms(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        basic = "Basic " + base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        fields = form.get("api_key") == self.api_key and form.get("api_secret") == self.api_secret
        answer = self._next("sms")
        if authorization != basic and not fields:
            return 200, _failed("4")
        for name in ("from", "to", "text"):
            if not form.get(name):
                return 200, {
                    "message-count": "1",
                    "messages": [{"status": "2", "error-text": f"Missing {name} param"}],
                }
        if answer == "hang":
            time.sleep(self.hang_seconds)
            answer = "0"
        if isinstance(answer, int):
            return answer, {"type": "https://developer.nexmo.com/api-errors", "title": "Server error"}
        if answer != "0":
            return 200, _failed(answer)
        part = {
            "to": form["to"],
            "message-id": secrets.token_hex(8).upper(),
            "status": "0",
            "remaining-balance": "3.14159265",
            "message-price": "0.03330000",
            "network": "44010",
        }
        if form.get("client-ref"):
            part["client-ref"] = form["client-ref"]
        with self.lock:
            self.sms.append({**form, "message-id": part["message-id"]})
        return 200, {"message-count": "1", "messages": [part]}

    def create_call(self, document: dict[str, Any], authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, token = authorization.partition(" ")
        try:
            if scheme != "Bearer":
                raise jwt.InvalidTokenError("no bearer token")
            claims = (
                jwt.decode(token, self.public_key, algorithms=["RS256"])
                if self.public_key is not None
                else jwt.decode(token, options={"verify_signature": False})
            )
        except jwt.PyJWTError:
            return 401, {
                "type": "https://developer.nexmo.com/api-errors#unauthorized",
                "title": "Unauthorized",
            }
        answer = self._next("calls")
        if answer == "hang":
            time.sleep(self.hang_seconds)
        elif isinstance(answer, int):
            return answer, {"type": "https://developer.nexmo.com/api-errors", "title": "Server error"}
        call = {
            **document,
            "uuid": str(uuid.uuid4()),
            "conversation_uuid": "CON-" + str(uuid.uuid4()),
        }
        with self.lock:
            self.calls.append(call)
            self.calls_auth.append(str(claims.get("application_id")))
        return 201, {
            "uuid": call["uuid"],
            "status": "started",
            "direction": "outbound",
            "conversation_uuid": call["conversation_uuid"],
        }


def _failed(status: str) -> dict[str, Any]:
    return {
        "message-count": "1",
        "messages": [{"status": status, "error-text": ERROR_TEXT.get(status, "Error")}],
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: VonageStandin

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        authorization = self.headers.get("Authorization", "")
        if self.path == "/sms/json":
            form = {
                name: values[0] for name, values in parse_qs(body.decode(), keep_blank_values=True).items()
            }
            status, document = self.standin.send_sms(form, authorization)
        elif self.path == "/v1/calls":
            status, document = self.standin.create_call(json.loads(body), authorization)
        else:
            status, document = 404, {"title": "Not found"}
        reply = json.dumps(document).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting ("hang")
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start(**options: Any) -> VonageStandin:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    standin = VonageStandin(server, **options)
    server.RequestHandlerClass = type("Handler", (_Handler,), {"standin": standin})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin


def stop(standin: VonageStandin) -> None:
    standin.server.shutdown()
    standin.server.server_close()
