"""A local Twilio on 127.0.0.1 for tests: the documented REST API and webhooks (the far end, not our code).

What it follows (Twilio's API reference for Messages and Calls, its error pages, its webhook docs):

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``…/Calls.json``: HTTP Basic auth
  (Account SID, auth token), a form with PascalCase names; **201** and snake_case JSON with a fresh
  ``SM…``/``CA…`` sid, status ``queued``, dates in RFC 2822.
- Errors in Twilio's shape ``{"code", "message", "more_info", "status"}``: 20003 (401, bad
  credentials), 21604/21603/21602 (400, a required parameter missing), and what a test scripts with
  :meth:`TwilioStandin.script`: 21211, 21610, 21614 (400), 20429 (429), 20500 (500), or ``"hang"``
  (the answer comes after the client's timeout).
- The webhooks Twilio sends — status callbacks, an inbound SMS, a ``<Gather>`` result — as
  form posts SIGNED the way Twilio signs (``X-Twilio-Signature``: the library's
  ``RequestValidator.compute_signature`` over the URL and the parameters, with the auth token).
  ``send`` is how they travel: ``httpx.post`` to a real server, or a ``TestClient``'s ``post``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "standin-auth-token-0123456789abcdef"
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number {to} is not a valid mobile number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
}
Answer = int | str
"""``"ok"`` (201), a Twilio error code from ERRORS, or ``"hang"``."""
Send = Callable[..., Any]


@dataclass
class Request:
    """What the stand-in received: the resource (``Messages``/``Calls``) and the form, every value kept."""

    resource: str
    form: dict[str, list[str]]
    authorization: str
    at: float = field(default_factory=time.perf_counter)
    """When it arrived (``time.perf_counter``: the bench times deliveries by it)."""

    def get(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class TwilioStandin:
    server: ThreadingHTTPServer
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    hang_seconds: float = 3.0
    echo: bool = False
    """Print each text and call received (run on its own: ``python -m tests.standins.twilio``)."""
    received: list[Request] = field(default_factory=list)
    answers: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    created: dict[str, Request] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, resource: str, *answers: Answer) -> None:
        """The next answers to ``Messages`` or ``Calls`` creates, in order; then 201 again."""
        with self.lock:
            self.answers[resource].extend(answers)

    def to(self, resource: str) -> list[Request]:
        with self.lock:
            return [r for r in self.received if r.resource == resource]

    # ------------------------------------------------------------ webhooks, signed as Twilio signs

    def signed(self, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
        }
        return urlencode(params).encode(), headers

    def post(self, url: str, params: dict[str, str], send: Send = httpx.post) -> Any:
        body, headers = self.signed(url, params)
        return send(url, content=body, headers=headers)

    def message_status(
        self, sid: str, status: str, *, error_code: str | None = None, send: Send = httpx.post
    ) -> Any:
        """The message's status callback, to the StatusCallback it was created with."""
        created = self.created[sid]
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": created.get("From") or "",
            "To": created.get("To") or "",
            "MessageStatus": status,
            "SmsStatus": status,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return self.post(created.get("StatusCallback") or "", params, send)

    def call_status(self, sid: str, status: str, *, send: Send = httpx.post) -> Any:
        created = self.created[sid]
        params = {**self._call_params(sid, created), "CallStatus": status}
        if status == "completed":
            params["CallDuration"] = "23"
        return self.post(created.get("StatusCallback") or "", params, send)

    def gather(self, action: str, sid: str, digits: str, *, send: Send = httpx.post) -> Any:
        """A ``<Gather>`` result (``digits`` empty: no key, with actionOnEmptyResult) to its action URL."""
        params = {**self._call_params(sid, self.created[sid]), "CallStatus": "in-progress", "Digits": digits}
        return self.post(action, params, send)

    def inbound_sms(self, url: str, *, sender: str, to: str, body: str, send: Send = httpx.post) -> Any:
        sid = "SM" + secrets.token_hex(16)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": sender,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        return self.post(url, params, send)

    def _call_params(self, sid: str, created: Request) -> dict[str, str]:
        return {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": created.get("From") or "",
            "To": created.get("To") or "",
            "Caller": created.get("From") or "",
            "Called": created.get("To") or "",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }

    # ------------------------------------------------------------ the REST API

    def handle(
        self, resource: str, form: dict[str, list[str]], authorization: str
    ) -> tuple[int, dict[str, Any]]:
        request = Request(resource, form, authorization)
        if self.echo:
            print(
                f"{resource} to {request.get('To')}: {request.get('Body') or request.get('Twiml')}",
                flush=True,
            )
        with self.lock:
            self.received.append(request)
            queue = self.answers.get(resource)
            answer: Answer = queue.popleft() if queue else "ok"
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if authorization != expected:
            return error(20003)
        to = request.get("To")
        for code, missing in ((21604, not to), (21603, not request.get("From"))):
            if missing:
                return error(code)
        if resource == "Messages" and not request.get("Body"):
            return error(21602)
        if answer == "hang":
            time.sleep(self.hang_seconds)
            answer = "ok"
        if answer != "ok":
            return error(int(answer), to=to or "")
        return 201, self._created(resource, request)

    def _created(self, resource: str, request: Request) -> dict[str, Any]:
        sid = ("SM" if resource == "Messages" else "CA") + secrets.token_hex(16)
        with self.lock:
            self.created[sid] = request
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        common = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": request.get("To"),
            "from": request.get("From"),
            "status": "queued",
            "date_created": now,
            "date_updated": now,
            "price": None,
            "price_unit": "USD",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{resource}/{sid}.json",
        }
        if resource == "Messages":
            body = request.get("Body") or ""
            return {
                **common,
                "body": body,
                "direction": "outbound-api",
                "messaging_service_sid": None,
                "num_segments": "1" if len(body) <= 160 else str(-(-len(body) // 153)),
                "num_media": "0",
                "error_code": None,
                "error_message": None,
                "date_sent": None,
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
                },
            }
        return {
            **common,
            "direction": "outbound-api",
            "to_formatted": request.get("To"),
            "from_formatted": request.get("From"),
            "parent_call_sid": None,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "answered_by": None,
            "subresource_uris": {},
        }


def error(code: int, *, to: str = "") -> tuple[int, dict[str, Any]]:
    status, message = ERRORS[code]
    return status, {
        "code": code,
        "message": message.format(to=to),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: TwilioStandin

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        prefix = f"/2010-04-01/Accounts/{self.standin.account_sid}/"
        resource = self.path[len(prefix) :].removesuffix(".json") if self.path.startswith(prefix) else ""
        if resource not in ("Messages", "Calls"):
            status, document = (
                404,
                {"code": 20404, "message": "The requested resource was not found", "status": 404},
            )
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            status, document = self.standin.handle(resource, form, self.headers.get("Authorization", ""))
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


def start(port: int = 0, **options: Any) -> TwilioStandin:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    standin = TwilioStandin(server, **options)
    server.RequestHandlerClass = type("Handler", (_Handler,), {"standin": standin})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin


def stop(standin: TwilioStandin) -> None:
    standin.server.shutdown()
    standin.server.server_close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.standins.twilio --port 4010``: serve, printing what arrives.
    ``python -m tests.standins.twilio reply --to URL --from +81… "ack 1234"``: a reply from a phone,
    signed as Twilio signs it, to commandpost's SMS webhook."""
    parser = argparse.ArgumentParser(prog="python -m tests.standins.twilio")
    parser.add_argument("--port", type=int, default=4010)
    sub = parser.add_subparsers(dest="command")
    reply = sub.add_parser("reply")
    reply.add_argument("--to", required=True, help="commandpost's /hooks/twilio/sms URL")
    reply.add_argument("--from", dest="sender", required=True, help="the phone replying (E.164)")
    reply.add_argument("--number", default="+15017122661", help="our Twilio number")
    reply.add_argument("text")
    args = parser.parse_args(argv)
    if args.command == "reply":
        answer = TwilioStandin(server=None).inbound_sms(  # type: ignore[arg-type]
            args.to, sender=args.sender, to=args.number, body=args.text
        )
        print(answer.status_code, answer.text)
        return
    standin = start(args.port, echo=True)
    print(f"Twilio stand-in on {standin.url} (account {ACCOUNT_SID}, auth token {AUTH_TOKEN})", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
