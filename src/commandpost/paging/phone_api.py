"""The phone providers' webhooks: SMS replies, keypresses during a call, and delivery receipts.

Twilio (``/hooks/twilio/...``) and Vonage (``/hooks/vonage/...``) call these without a bearer token,
so each request must prove it comes from the provider: Twilio's ``X-Twilio-Signature`` over the
public URL and the form, Vonage's ``sig`` (SMS) or its signed JWT (voice). Anything else is refused
with 403 and changes nothing. A reply or a keypress then acts through ``paging.actions`` as the
person the phone number (or the call's ack token) names; a receipt goes to ``notify.receipts``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import ImmutableMultiDict
from twilio.twiml.messaging_response import MessagingResponse

from commandpost.clock import Clock
from commandpost.db.engine import transaction
from commandpost.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from commandpost.notify import receipts
from commandpost.notify.models import OutgoingMessage
from commandpost.notify.phones import twilio, vonage, webhooks
from commandpost.notify.phones.base import VoiceScript
from commandpost.notify.phones.setup import vonage_provider
from commandpost.notify.phones.voice import PROMPT, spoken
from commandpost.paging import actions
from commandpost.policy import service as policy_service
from commandpost.security import links
from commandpost.settings import Settings

router = APIRouter(tags=["phone webhooks"], include_in_schema=False)
MAX_BODY = 64 * 1024
"""Twilio's and Vonage's callbacks are a few hundred bytes; a text is at most 1600 characters."""
MAX_FIELDS = 200
TOKEN_LIMIT = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HELP = (
    "commandpost: reply with the 4-digit code of the page to acknowledge it (1234 or ACK 1234), "
    "or ESC 1234 to pass it to the next level."
)
PRESS = {"1": "ack", "2": "escalate"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(
            f"a provider callback is at most {MAX_BODY // 1024} KiB; this one is {len(body)} bytes"
        )
    return body


def _clean(fields: Mapping[str, Any], where: str) -> None:
    """Text fields may hold line breaks and tabs (an SMS), never a NUL or another control character."""
    for name, value in fields.items():
        if isinstance(value, str) and _CONTROL.search(name + value):
            raise BadRequest(f"{where}: field {name!r} holds a NUL or control character; nothing was done")


Form = ImmutableMultiDict[str, str]


def _form(body: bytes, where: str) -> Form:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
        )
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{where}: the form is not UTF-8 (byte {exc.start}); nothing was done") from exc
    except ValueError as exc:
        raise BadRequest(f"{where}: more than {MAX_FIELDS} form fields; nothing was done") from exc
    return ImmutableMultiDict(pairs)


def _public_url(request: Request) -> str:
    """The URL the provider was given for this request: our public URL, this path and the query as sent."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return _settings(request).base_url() + request.url.path + (f"?{query}" if query else "")


async def twilio_form(request: Request) -> Form:
    """A request Twilio signed: the form, once ``X-Twilio-Signature`` matches it and our public URL."""
    where = f"POST {request.url.path}"
    token = _settings(request).twilio_auth_token.get_secret_value()
    if not token:
        raise Forbidden(f"{where}: Twilio webhooks are refused: COMMANDPOST_TWILIO_AUTH_TOKEN is not set")
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Forbidden(f"{where}: Twilio posts a form (application/x-www-form-urlencoded); refused")
    form = _form(await _body(request), where)
    signature = request.headers.get("x-twilio-signature", "")
    if not webhooks.twilio_signed(token, _public_url(request), form, signature):
        raise Forbidden(
            f"{where}: X-Twilio-Signature is missing or does not match this request, signed with the "
            f"auth token over {_settings(request).base_url()}{request.url.path}; nothing was done"
        )
    _clean(form, where)
    return form


TwilioForm = Annotated[Form, Depends(twilio_form)]


def _twiml(response: Any) -> Response:
    return Response(str(response), media_type="text/xml")


def _timezone(session: Any, person: str) -> str:
    config = policy_service.current_config(session)
    return next((p.timezone for p in config.people if p.handle == person), "UTC")


def _reply(request: Request, *, phone: str, text: str) -> str:
    """Act on an SMS reply and say what came of it, in the person's timezone."""
    settings = _settings(request)
    try:
        with transaction(request.app.state.sessions) as session:
            acted = actions.act_on_reply(
                session,
                phone=phone,
                text=text,
                via="SMS",
                now=_now(request),
                base_url=settings.base_url(),
                signer=links.LinkSigner(links.key(session, settings)),
                ttl=timedelta(seconds=settings.link_ttl_seconds),
            )
            return HELP if acted is None else acted.sentence(_timezone(session, acted.person))
    except (Forbidden, NotFound) as exc:  # answered to the phone: nothing changed, and why
        return f"commandpost: {exc.message}"


@router.post(twilio.SMS_PATH)
def twilio_sms(request: Request, form: TwilioForm) -> Response:
    """A text to our Twilio number: a reply code acknowledges or escalates; anything else gets help."""
    reply = MessagingResponse()
    reply.message(_reply(request, phone=str(form.get("From", "")), text=str(form.get("Body", ""))))
    return _twiml(reply)


def _keypress(request: Request, *, token: str, digits: str, repeat: int) -> tuple[str, VoiceScript | None]:
    """What to say after a keypress: the outcome (then hang up), or the page again (a script)."""
    settings = _settings(request)
    now = _now(request)
    with transaction(request.app.state.sessions) as session:
        try:
            grant = links.LinkSigner(links.key(session, settings)).read(token, now=now)
        except Forbidden as exc:
            return f"This page can no longer be answered by phone: {exc.message}", None
        action = PRESS.get(digits)
        if action is not None:
            return _press(session, grant, action, now=now, base_url=settings.base_url()), None
        if repeat >= twilio.REPEATS:
            return "No key pressed. Goodbye.", None
        message = session.get(OutgoingMessage, grant.message_id)
        if message is None:
            return "This page is no longer on record. Goodbye.", None
        page = spoken(message.severity, message.subject, message.payload or {})
        return "", VoiceScript(page, PROMPT, token)


def _press(session: Any, grant: links.Grant, action: str, *, now: datetime, base_url: str) -> str:
    """Acknowledge or escalate the page the call's token names; the sentence to say before hanging up."""
    try:
        acted = actions.act_on_message(
            session,
            message_id=grant.message_id,
            person=grant.person,
            incident_id=grant.incident_id,
            action="ack" if action == "ack" else "escalate",
            via="voice",
            now=now,
            base_url=base_url,
        )
    except (Forbidden, NotFound) as exc:
        return f"{exc.message} Goodbye."
    return acted.sentence(_timezone(session, grant.person)) + " Goodbye."


Token = Annotated[str, Query(min_length=1, max_length=TOKEN_LIMIT, description="the page's ack token")]
Repeat = Annotated[int, Query(ge=1, le=twilio.REPEATS, description="how many times the page was read")]


@router.post(twilio.VOICE_PATH)
def twilio_voice(request: Request, form: TwilioForm, t: Token, r: Repeat = 1) -> Response:
    """The ``<Gather>`` result: 1 acknowledges, 2 escalates, 3 or no key reads the page again."""
    said, again = _keypress(request, token=t, digits=str(form.get("Digits", "")), repeat=r)
    if again is None:
        return _twiml(twilio.said(said))
    return _twiml(twilio.page_twiml(again, twilio.gather_url(_settings(request).base_url(), t, r + 1)))


@router.post(twilio.STATUS_PATH)
def twilio_status(request: Request, form: TwilioForm) -> Response:
    """A message's or a call's status callback: its delivery state, kept on the message."""
    sid = str(form.get("MessageSid") or form.get("CallSid") or "")
    status = str(form.get("MessageStatus") or form.get("CallStatus") or "")
    _receipt(request, "twilio", sid, webhooks.TWILIO_RECEIPTS.get(status), str(form.get("ErrorCode") or ""))
    return Response(status_code=204)


def _receipt(request: Request, provider: str, ref: str, state: str | None, error: str) -> None:
    if not ref or state is None:
        return
    with transaction(request.app.state.sessions) as session:
        receipts.record_receipt(
            session,
            provider=provider,
            provider_ref=ref[:100],
            state=state,
            error_code=error[:20] or None,
            now=_now(request),
        )


# ---------------------------------------------------------------- Vonage


async def vonage_params(request: Request) -> dict[str, str]:
    """A signed Vonage SMS callback (inbound text, delivery receipt): JSON, a form or the query string,
    flat string fields, ``sig`` matching them with the signature secret."""
    where = f"{request.method} {request.url.path}"
    settings = _settings(request)
    secret = settings.vonage_signature_secret.get_secret_value()
    if not secret:
        raise Forbidden(
            f"{where}: Vonage webhooks are refused: COMMANDPOST_VONAGE_SIGNATURE_SECRET is not set"
        )
    body = await _body(request)
    params: dict[str, str] = dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1")))
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/json":
        params.update(_json_object(body, where))
    elif body:
        params.update(_form(body, where).items())
    if not webhooks.vonage_signed(secret, settings.vonage_signature_method, params, _now(request)):
        raise Forbidden(f"{where}: the Vonage 'sig' is missing, stale or does not match; nothing was done")
    _clean(params, where)
    return params


def _json_object(body: bytes, where: str) -> dict[str, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{where}: the body is not JSON ({exc}); nothing was done") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"{where}: the body must be a JSON object; nothing was done")
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in data.items()}


VonageParams = Annotated[dict[str, str], Depends(vonage_params)]


@router.api_route(vonage.INBOUND_PATH, methods=["GET", "POST"])
def vonage_inbound(request: Request, params: VonageParams) -> Response:
    """A text to our Vonage number. Vonage takes no reply in the answer, so the answer goes out as an SMS."""
    phone = "+" + params.get("msisdn", "").lstrip("+")
    answer = _reply(request, phone=phone, text=params.get("text", ""))
    provider = vonage_provider(_settings(request))
    if provider is not None:
        try:
            provider.send_sms(phone, answer)
        finally:
            provider.close()
    return Response(status_code=204)


@router.api_route(vonage.DLR_PATH, methods=["GET", "POST"])
def vonage_dlr(request: Request, params: VonageParams) -> Response:
    state = webhooks.VONAGE_RECEIPTS.get(params.get("status", ""))
    code = params.get("err-code", "")
    _receipt(request, "vonage", params.get("messageId", ""), state, "" if code in ("", "0") else code)
    return Response(status_code=204)


async def vonage_call_body(request: Request) -> dict[str, Any]:
    """A signed Vonage voice callback: the JSON body, once the Bearer JWT (HS256) checks out."""
    where = f"POST {request.url.path}"
    secret = _settings(request).vonage_signature_secret.get_secret_value()
    body = await _body(request)
    if not webhooks.vonage_jwt_signed(secret, request.headers.get("authorization", ""), body, _now(request)):
        raise Forbidden(f"{where}: the Vonage JWT is missing, stale or does not match; nothing was done")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{where}: the body is not JSON ({exc}); nothing was done") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"{where}: the body must be a JSON object; nothing was done")
    _clean({k: v for k, v in data.items() if isinstance(v, str)}, where)
    return data


VonageCall = Annotated[dict[str, Any], Depends(vonage_call_body)]


@router.post(vonage.INPUT_PATH)
def vonage_input(request: Request, data: VonageCall, t: Token, r: Repeat = 1) -> JSONResponse:
    """The ``input`` result: the next NCCO (1 acknowledges, 2 escalates, 3 or no key repeats)."""
    dtmf = data.get("dtmf")
    pressed = str(dtmf.get("digits") or "") if isinstance(dtmf, dict) else ""
    said, again = _keypress(request, token=t, digits=pressed, repeat=r)
    if again is None:
        return JSONResponse(vonage.talk(said))
    return JSONResponse(vonage.page_ncco(again, vonage.input_url(_settings(request).base_url(), t, r + 1)))


@router.post(vonage.EVENT_PATH)
def vonage_event(request: Request, data: VonageCall) -> Response:
    """A call's progress: answered is delivered; busy, unanswered, failed let the next method follow."""
    state = webhooks.VONAGE_RECEIPTS.get(str(data.get("status", "")))
    _receipt(request, "vonage", str(data.get("uuid", "")), state, "")
    return Response(status_code=204)
