"""Twilio through its official client: SMS with ``messages.create``, calls with inline TwiML.

The API base URL is a setting (``client.api.base_url``), so tests point the real client at a local
stand-in that follows Twilio's documented API. Every send names our status callback, so Twilio's
delivery receipts reach ``record_receipt``; a call's ``<Gather>`` posts the keypress to our voice hook
with the page's ack token in the URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from commandpost.notify.phones.base import ProviderResult, Verdict, VoiceScript

NAME = "twilio"
SMS_PATH = "/hooks/twilio/sms"
VOICE_PATH = "/hooks/twilio/voice"
STATUS_PATH = "/hooks/twilio/status"
RECIPIENT_ERRORS = {
    21211: "invalid 'To' number",
    21610: "the recipient replied STOP (unsubscribed)",
    21614: "'To' is not a mobile number that can take SMS",
}
"""Documented per-recipient errors: no retry and no other provider will reach this number."""
GATHER_SECONDS = 8
REPEATS = 3
"""How many times a call reads the page before it says goodbye (an answering machine would loop)."""


def gather_url(public_url: str, token: str, repeat: int = 1) -> str:
    query = {"t": token} if repeat <= 1 else {"t": token, "r": str(repeat)}
    return f"{public_url.rstrip('/')}{VOICE_PATH}?{urlencode(query)}"


def page_twiml(script: VoiceScript, action: str | None) -> VoiceResponse:
    """Read the page inside a one-key ``<Gather>`` whose result (even no key) comes back to ``action``."""
    response = VoiceResponse()
    if action is None:
        response.say(script.page)
        return response
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=GATHER_SECONDS,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(script.page)
    gather.say(script.prompt)
    return response


def said(text: str, *, hang_up: bool = True) -> VoiceResponse:
    response = VoiceResponse()
    response.say(text)
    if hang_up:
        response.hangup()
    return response


class TwilioProvider:
    name = NAME

    def __init__(
        self, *, account_sid: str, auth_token: str, sender: str, api_url: str, public_url: str, timeout: float
    ) -> None:
        self.http = TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        self.client.api.base_url = api_url.rstrip("/")
        self.sender = sender
        self.public_url = public_url.rstrip("/")

    def close(self) -> None:
        if self.http.session is not None:
            self.http.session.close()

    def send_sms(self, to: str, body: str) -> ProviderResult:
        try:
            message = self.client.messages.create(
                to=to, from_=self.sender, body=body, status_callback=self.public_url + STATUS_PATH
            )
        except (TwilioException, requests.RequestException) as exc:
            return failure(exc)
        return ProviderResult("ok", NAME, provider_ref=message.sid)

    def call(self, to: str, script: VoiceScript) -> ProviderResult:
        action = gather_url(self.public_url, script.gather_token) if script.gather_token else None
        try:
            call = self.client.calls.create(
                to=to,
                from_=self.sender,
                twiml=str(page_twiml(script, action)),
                status_callback=self.public_url + STATUS_PATH,
                status_callback_event=["answered", "completed"],
            )
        except (TwilioException, requests.RequestException) as exc:
            return failure(exc)
        return ProviderResult("ok", NAME, provider_ref=call.sid)


def failure(exc: Exception) -> ProviderResult:
    """Twilio's answer as a verdict: recipient errors are permanent, 429 and 5xx retried, other refusals
    (credentials, our sender) refused; no answer at all (timeout, connection) is retried."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status, code = exc.status, exc.code
        text = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
        error = f"{NAME} {code or status}: {text}"
        if code in RECIPIENT_ERRORS:
            return ProviderResult(
                "permanent", NAME, error=f"{NAME} {code}: {RECIPIENT_ERRORS[code]}", status_code=status
            )
        verdict: Verdict = "retry" if status == 429 or status >= 500 else "refused"
        return ProviderResult(verdict, NAME, error=error, status_code=status)
    return ProviderResult("retry", NAME, error=f"{NAME}: {type(exc).__name__}: {exc}")
