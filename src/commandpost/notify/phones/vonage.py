"""Vonage (Nexmo) SMS and Voice through a thin httpx client.

Why not Vonage's SDK: it always builds ``https://{host}{path}`` from a host name, so a local stand-in
would need TLS and a trusted self-signed certificate; its base URLs cannot be settings the way
Twilio's can. The two calls a pager needs are small: ``POST {rest}/sms/json`` (form, Basic auth,
HTTP 200 with a status per message part) and ``POST {api}/v1/calls`` (JSON NCCO, a Bearer JWT signed
RS256 with the application's private key, 201).
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from commandpost.notify.phones.base import ProviderResult, Verdict, VoiceScript
from commandpost.notify.phones.sms import is_gsm

NAME = "vonage"
INBOUND_PATH = "/hooks/vonage/inbound"
DLR_PATH = "/hooks/vonage/dlr"
INPUT_PATH = "/hooks/vonage/voice/input"
EVENT_PATH = "/hooks/vonage/voice/event"
RECIPIENT_STATUSES = {
    "3": "invalid number",
    "6": "unroutable number (invalid message)",
    "7": "number barred",
    "33": "number de-activated",
}
"""Send statuses about the recipient (notes: ``x-errors``): no provider will reach this number."""
RETRY_STATUSES = frozenset({"1", "5", "10"})
"""Throttled, internal error, too many binds: the same message may go through later."""
GATHER_SECONDS = 8
JWT_SECONDS = 15 * 60


def digits(number: str) -> str:
    """Vonage takes E.164 without the ``+``."""
    return number.lstrip("+")


def input_url(public_url: str, token: str, repeat: int = 1) -> str:
    query = {"t": token} if repeat <= 1 else {"t": token, "r": str(repeat)}
    return f"{public_url.rstrip('/')}{INPUT_PATH}?{urlencode(query)}"


def page_ncco(script: VoiceScript, event_url: str | None) -> list[dict[str, Any]]:
    """Read the page (a key interrupts it), then wait for one key, posted to ``event_url``."""
    text = f"{script.page} {script.prompt}".strip()
    if event_url is None:
        return [{"action": "talk", "text": text}]
    return [
        {"action": "talk", "text": text, "bargeIn": True},
        {
            "action": "input",
            "type": ["dtmf"],
            "dtmf": {"maxDigits": 1, "timeOut": GATHER_SECONDS, "submitOnHash": False},
            "eventUrl": [event_url],
            "eventMethod": "POST",
        },
    ]


def talk(text: str) -> list[dict[str, Any]]:
    return [{"action": "talk", "text": text}]


class VonageProvider:
    name = NAME

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        sender: str,
        rest_url: str,
        api_url: str,
        public_url: str,
        timeout: float,
        application_id: str = "",
        private_key: str = "",
    ) -> None:
        self.http = httpx.Client(timeout=timeout)
        self.auth = (api_key, api_secret)
        self.sender = sender
        self.rest_url, self.api_url = rest_url.rstrip("/"), api_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.application_id, self.private_key = application_id, private_key

    @property
    def can_call(self) -> bool:
        return bool(self.application_id and self.private_key)

    def send_sms(self, to: str, body: str) -> ProviderResult:
        form = {
            "from": self.sender,
            "to": digits(to),
            "text": body,
            "type": "text" if is_gsm(body) else "unicode",
            "callback": self.public_url + DLR_PATH,
        }
        try:
            response = self.http.post(f"{self.rest_url}/sms/json", data=form, auth=self.auth)
        except httpx.HTTPError as exc:
            return ProviderResult("retry", NAME, error=f"{NAME}: {type(exc).__name__}: {exc}")
        if response.status_code != 200:
            return http_failure(response)
        try:
            parts = response.json()["messages"]
            first = parts[0]
        except (ValueError, KeyError, IndexError, TypeError):
            return ProviderResult(
                "retry", NAME, error=f"{NAME}: an answer without messages[]", status_code=200
            )
        failed = next((part for part in parts if str(part.get("status")) != "0"), None)
        if failed is None:
            return ProviderResult("ok", NAME, provider_ref=str(first.get("message-id")))
        status = str(failed.get("status"))
        reason = RECIPIENT_STATUSES.get(status) or str(failed.get("error-text") or "no error text")
        verdict: Verdict = (
            "permanent"
            if status in RECIPIENT_STATUSES
            else "retry"
            if status in RETRY_STATUSES
            else "refused"
        )
        return ProviderResult(verdict, NAME, error=f"{NAME} {status}: {reason}", status_code=200)

    def call(self, to: str, script: VoiceScript) -> ProviderResult:
        if not self.can_call:
            return ProviderResult(
                "refused", NAME, error=f"{NAME}: no application id and private key for calls"
            )
        event = input_url(self.public_url, script.gather_token) if script.gather_token else None
        body = {
            "to": [{"type": "phone", "number": digits(to)}],
            "from": {"type": "phone", "number": digits(self.sender)},
            "ncco": page_ncco(script, event),
            "event_url": [self.public_url + EVENT_PATH],
            "event_method": "POST",
        }
        try:
            response = self.http.post(
                f"{self.api_url}/v1/calls", json=body, headers={"Authorization": f"Bearer {self.app_jwt()}"}
            )
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            return ProviderResult("retry", NAME, error=f"{NAME}: {type(exc).__name__}: {exc}")
        if response.status_code not in (200, 201):
            return http_failure(response)
        ref = (
            response.json().get("uuid")
            if response.headers.get("content-type", "").startswith("application/json")
            else None
        )
        return ProviderResult("ok", NAME, provider_ref=str(ref) if ref else None)

    def close(self) -> None:
        self.http.close()

    def app_jwt(self) -> str:
        """The application JWT the Voice API asks for (claims as the SDK makes them). Its times are the
        wall clock's, not the engine's: Vonage checks them against its own."""
        now = int(time.time())
        claims = {
            "application_id": self.application_id,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "exp": now + JWT_SECONDS,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256")


def http_failure(response: httpx.Response) -> ProviderResult:
    """An HTTP-level refusal: 429 and 5xx may pass later or elsewhere; 401/403/400 are about our request."""
    status = response.status_code
    verdict: Verdict = "retry" if status == 429 or status >= 500 else "refused"
    try:
        answer = response.json()
        detail = answer.get("detail") or answer.get("title") or answer.get("error_title") or ""
    except (ValueError, AttributeError):
        detail = ""
    return ProviderResult(
        verdict, NAME, error=f"{NAME} HTTP {status}: {detail or response.reason_phrase}", status_code=status
    )
