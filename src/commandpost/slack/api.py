"""The three URLs Slack calls: ``/api/v1/slack/commands``, ``/interactions`` and ``/events``.

Each request is checked first (:mod:`commandpost.slack.verify`: Slack off 404, over 64 KiB 413,
unsigned, forged or replayed 401, nothing changed). Who acts is looked up in a read transaction
(it may ask Slack for an email); the change is one write transaction with its audit row. A person's
mistake — an unknown subcommand, a 409 of the rules — is answered 200 with an ephemeral sentence,
as Slack shows nothing of a 4xx to the person who typed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.db.engine import transaction
from commandpost.errors import BadRequest, CommandpostError, Forbidden, ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security import service as security_service
from commandpost.settings import Settings
from commandpost.slack import command_rules, commands, declare_form, events, interactions, people, verify
from commandpost.slack.command_rules import Command, Target, Unparsed
from commandpost.slack.commands import Context, Reply
from commandpost.slack.directory import Directory, directory_for
from commandpost.slack.models import SlackChannel

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/slack", tags=["slack"])
MAX_FIELDS = 100
SLACK_HOOKS = "hooks.slack.com"
"""Where a ``response_url`` may point (https, no user or port): anything else in a payload is not followed."""


def _hook(url: str) -> bool:
    """A ``response_url`` at Slack's hooks host, and nowhere else however the URL is spelled."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == "https" and parts.netloc == SLACK_HOOKS and port is None


async def _signed(request: Request) -> bytes:
    """The raw body, once it is known to be Slack's."""
    body = await request.body()
    settings: Settings = request.app.state.settings
    verify.check(
        body=body,
        headers=request.headers,
        secret=settings.slack_signing_secret.get_secret_value(),
        now=request.app.state.clock.now(),
    )
    return body


Signed = Annotated[bytes, Depends(_signed)]


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest(f"more than {MAX_FIELDS} form fields: this is not a request Slack sends") from None
    return dict(pairs)


class _Slack:
    """What one request works with: the app's clock, sessions, settings and the Slack directory."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        self.settings: Settings = state.settings
        self.sessions = state.sessions
        self.read_sessions = state.read_sessions
        self.now: datetime = state.clock.now()
        self.directory: Directory = directory_for(self.settings)

    def who(self, slack_user: str) -> tuple[OpsConfig, people.Caller]:
        """The ops config and the person acting (:class:`people.Unmapped` for a stranger)."""
        with transaction(self.read_sessions, commit=False) as session:
            config = policy_service.current_config(session)
            caller = people.caller(session, config=config, slack_user=slack_user, directory=self.directory)
        return config, caller

    def context(
        self, session: Session, config: OpsConfig, caller: people.Caller, form: dict[str, str] | None = None
    ) -> Context:
        return Context(
            session=session,
            caller=caller,
            config=config,
            now=self.now,
            base_url=self.settings.base_url(),
            channel_id=(form or {}).get("channel_id", ""),
            channel_name=(form or {}).get("channel_name", ""),
            command=config.settings.slack.command,
        )

    def tell(self, *, channel: str | None, user: str, text: str, response_url: str | None = None) -> None:
        """An ephemeral message to ``user`` (in ``channel``, else through the payload's response_url)."""
        try:
            if channel:
                self.directory.client.chat_postEphemeral(channel=channel, user=user, text=text)
            elif response_url and _hook(response_url):
                WebhookClient(response_url, timeout=2).send(text=text, response_type="ephemeral")
        except (SlackApiError, SlackClientError) as exc:
            log.warning("slack: could not tell %s: %s", user, exc)


def _json(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body())


# ---------------------------------------------------------------- slash command


def _mentioned(command: Command, config: OpsConfig, directory: Directory) -> Command:
    """A mention (``<@U123>``) becomes the person's handle before the write transaction."""
    target = command.target
    if target is None or target.slack_user is None:
        return command
    handle = people.handle_for(config, target.slack_user, directory)
    if handle is None:
        raise ValidationFailed(
            f"<@{target.slack_user}> is not anyone in people.yaml: add "
            f"`contact.slack_user: {target.slack_user}` to their entry"
        )
    return replace(command, target=Target(handle=handle))


@router.post("/commands", summary="Slack's slash command (form-encoded, signed): /inc …")
def slash_command(body: Signed, request: Request) -> JSONResponse:
    form = _form(body)
    slack = _Slack(request)
    name = "/inc"
    try:
        config, caller = slack.who(form.get("user_id", ""))
        name = config.settings.slack.command
        command = command_rules.parse(form.get("text", ""), services=[s.name for s in config.services])
        command = _mentioned(command, config, slack.directory)
        if command.verb == "declare" and not (command.text or command.severity or command.service):
            return _json(_open_form(slack, config, form.get("trigger_id", ""), name))
        with transaction(slack.sessions) as session:
            reply = commands.run(slack.context(session, config, caller, form), command)
    except Unparsed as exc:
        reply = Reply(f"{exc}. What `{name}` does:\n{command_rules.help_text(name)}")
    except CommandpostError as exc:
        reply = Reply(exc.message)
    return _json(reply)


def _open_form(slack: _Slack, config: OpsConfig, trigger_id: str, name: str) -> Reply:
    try:
        slack.directory.client.views_open(trigger_id=trigger_id, view=declare_form.view(config))
    except (SlackApiError, SlackClientError) as exc:
        log.warning("slack views.open: %s", exc)
        return Reply(f"The declare form did not open; type it instead: `{name} declare SEV2 service title…`")
    return Reply("Fill in the form to declare.")


# ---------------------------------------------------------------- interactions


def _json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object, else 400: not JSON, not an object, or nested deeper than the parser goes."""
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):
        found = None
    if not isinstance(found, dict):
        raise BadRequest(f"{what} must be a JSON object, as Slack sends it")
    return found


def _payload(form: dict[str, str]) -> dict[str, Any]:
    return _json_object(form.get("payload", ""), "the form field 'payload'")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


@router.post("/interactions", summary="Slack's interactivity: buttons (block_actions), the declare modal")
def interaction(body: Signed, request: Request) -> Response:
    payload = _payload(_form(body))
    kind = payload.get("type")
    if kind == "block_actions":
        _button(_Slack(request), payload)
    elif kind == "view_submission" and _dict(payload.get("view")).get("callback_id") == declare_form.CALLBACK:
        return JSONResponse(_submitted(_Slack(request), payload))
    return Response(status_code=200)


def _button(slack: _Slack, payload: dict[str, Any]) -> None:
    actions = payload.get("actions")
    action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
    name = _str(action.get("action_id"))
    if name not in interactions.BUTTONS or name == "open":  # Open is a link: Slack opens it
        return
    user = _str(_dict(payload.get("user")).get("id"))
    container = _dict(payload.get("container"))
    channel = _str(container.get("channel_id")) or _str(_dict(payload.get("channel")).get("id"))
    response_url = _str(payload.get("response_url"))
    try:
        number = incident_rules.parse_number(_str(action.get("value")))
        config, caller = slack.who(user)
        with transaction(slack.sessions) as session:
            pressed = interactions.press(slack.context(session, config, caller), action=name, number=number)
    except CommandpostError as exc:
        slack.tell(channel=channel, user=user, text=exc.message, response_url=response_url)
        return
    blocks = interactions.replaced(_dict(payload.get("message")).get("blocks"), pressed)
    try:
        ts = _str(container.get("message_ts"))
        if channel and ts and not container.get("is_ephemeral"):
            slack.directory.client.chat_update(channel=channel, ts=ts, text=pressed.line, blocks=blocks)
        elif _hook(response_url):
            hook = WebhookClient(response_url, timeout=2)
            hook.send(text=pressed.line, blocks=blocks, replace_original=True)
    except (SlackApiError, SlackClientError) as exc:  # acted and committed; only the message is stale
        log.warning("slack: could not update the message: %s", exc)


def _submitted(slack: _Slack, payload: dict[str, Any]) -> dict[str, Any]:
    """The declare modal: declared (the modal says where the command post is) or inline errors."""
    state = _dict(_dict(_dict(payload.get("view")).get("state")).get("values"))
    title, severity, service = declare_form.answers(state)
    if not title.strip():
        return _errors(declare_form.TITLE, "Say what is happening, in a few words")
    if severity is None:
        return _errors(declare_form.SEVERITY, "Pick the first severity that matches")
    try:
        config, caller = slack.who(_str(_dict(payload.get("user")).get("id")))
        command = Command("declare", severity=severity, service=service, text=title)
        with transaction(slack.sessions) as session:
            reply = commands.run(slack.context(session, config, caller), command)
    except CommandpostError as exc:
        return _errors(declare_form.TITLE, exc.message)
    return {"response_action": "update", "view": declare_form.done(reply.text)}


def _errors(block: str, message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {block: message[:150]}}


# ---------------------------------------------------------------- events


@router.post(
    "/events", summary="Slack's Events API: url_verification, 📌 reactions, messages in incident channels"
)
def event(body: Signed, request: Request) -> Response:
    envelope = _json_object(body, "an Events API request")
    if envelope.get("type") == "url_verification":
        challenge = envelope.get("challenge")
        if not isinstance(challenge, str) or not 0 < len(challenge) <= 200:
            raise BadRequest("url_verification needs its 'challenge' (a string of at most 200 characters)")
        return JSONResponse({"challenge": challenge})
    if envelope.get("type") != "event_callback":  # app_rate_limited, …: nothing to do
        return Response(status_code=200)
    found = envelope.get("event")
    if not isinstance(found, dict):
        raise BadRequest("an event_callback carries its 'event' as a JSON object")
    event_id = _str(envelope.get("event_id"))
    try:
        if found.get("type") == "reaction_added" and found.get("reaction") == events.PIN:
            _pinned(_Slack(request), found, event_id)
        elif found.get("type") == "message" and not found.get("subtype") and not found.get("bot_id"):
            _message(_Slack(request), found, event_id)
    except BadRequest:
        raise
    except CommandpostError as exc:  # e.g. a closed incident: Slack must not retry it
        log.info("slack event %s not recorded: %s", event_id, exc.message)
    return Response(status_code=200)


_ID = re.compile(r"[A-Z0-9]{2,40}")
"""A Slack user (``U…``, ``W…``) or conversation (``C…``, ``G…``, ``D…``) id."""
_TS = re.compile(r"\d{1,12}\.\d{1,9}")
"""A message ``ts``: seconds and a sequence."""


def _field(value: Any, pattern: re.Pattern[str], name: str) -> str:
    """A field Slack always sends in this shape; anything else is not Slack's event (400)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequest(f"{name} is not what Slack sends (a Slack id or a message ts)")
    return value


def _channel_name(slack: _Slack, channel: str) -> str:
    """The channel's name, asked of Slack only when no ``slack_channel`` row knows the id."""
    with transaction(slack.read_sessions, commit=False) as session:
        known = session.scalar(select(SlackChannel.name).where(SlackChannel.channel_id == channel))
    return known or slack.directory.channel_name(channel) or ""


def _pinned(slack: _Slack, found: dict[str, Any], event_id: str) -> None:
    """A 📌 on a message: Slack names it (channel, ts, author); its text is asked of Slack."""
    item = found.get("item")
    if not isinstance(item, dict):
        raise BadRequest("event.item must be a JSON object, as Slack sends it")
    if item.get("type") != "message":  # a file: nothing to put on the timeline
        return
    channel = _field(item.get("channel"), _ID, "event.item.channel")
    ts = _field(item.get("ts"), _TS, "event.item.ts")
    user = _field(found.get("user"), _ID, "event.user")
    author = _field(found["item_user"], _ID, "event.item_user") if "item_user" in found else None
    try:
        config, caller = slack.who(user)
        if caller.scope not in ("responder", "admin"):
            raise Forbidden(
                f"@{caller.person}, your login and tokens are read-only, so a 📌 does not put the "
                "message on the timeline; ask an admin for the responder role"
            )
    except CommandpostError as exc:
        slack.tell(channel=channel, user=user, text=exc.message)
        return
    message = slack.directory.message(channel, ts)
    if message is None:
        slack.tell(channel=channel, user=user, text="That message could not be read; add it with `/inc note`")
        return
    author = author or message.user
    handle = people.handle_for(config, author, slack.directory) if author else None
    name = _channel_name(slack, channel)
    try:
        with transaction(slack.sessions) as session:
            incident = commands.incident_at(session, channel_id=channel, channel_name=name)
            if incident is None or not message.text.strip():
                return
            if events.pin(
                session,
                incident=incident,
                text=message.text,
                author=handle or caller.person,
                pinned_by=caller.person,
                ts=ts,
                event_id=event_id,
                now=slack.now,
            ):
                security_service.record_audit(
                    session,
                    principal=caller.principal,
                    action="slack pin",
                    target=f"incident:{incident_rules.format_number(incident.number)}",
                    now=slack.now,
                    details={"via": "Slack", "slack_ts": ts},
                )
    except CommandpostError as exc:
        slack.tell(channel=channel, user=user, text=exc.message)


def _message(slack: _Slack, found: dict[str, Any], event_id: str) -> None:
    """A person's message in a channel the bot is in: a secret in an incident's channel is caught."""
    channel = _field(found.get("channel"), _ID, "event.channel")
    user = _field(found.get("user"), _ID, "event.user")
    ts = _field(found.get("ts"), _TS, "event.ts")
    text = found.get("text")
    if not isinstance(text, str):
        raise BadRequest("event.text must be a string, as Slack sends it")
    kinds = events.secret_kinds(text)
    if not kinds:
        return
    with transaction(slack.read_sessions, commit=False) as session:
        config = policy_service.current_config(session)
    handle = people.handle_for(config, user, slack.directory)
    who = f"@{handle}" if handle else f"<@{user}>"
    name = _channel_name(slack, channel)
    with transaction(slack.sessions) as session:
        incident = commands.incident_at(session, channel_id=channel, channel_name=name)
        if incident is None:
            return
        caught = events.secret_posted(
            session, incident=incident, who=who, kinds=kinds, ts=ts, event_id=event_id, now=slack.now
        )
    if caught is None:  # Slack delivered it again
        return
    where = name or channel
    slack.tell(channel=channel, user=user, text=events.warning(kinds, where, ic=caught.ic, author=handle))
    if caught.ic and caught.ic != handle:
        _tell_ic(slack, config, caught, channel, events.ic_notice(caught, kinds, who=who, channel_name=where))


def _tell_ic(slack: _Slack, config: OpsConfig, caught: events.Caught, channel: str, text: str) -> None:
    """Ephemeral in the channel; when the IC is not in it, a direct message from the bot."""
    assert caught.ic is not None
    person = config.person(caught.ic)
    email = person.contact.email if person else None
    member = (person.contact.slack_user if person else None) or (
        slack.directory.member(email) if email else None
    )
    if member is None:
        log.info("slack: %s's IC @%s has no Slack account to tell of a secret", caught.number, caught.ic)
        return
    client = slack.directory.client
    try:
        client.chat_postEphemeral(channel=channel, user=member, text=text)
    except SlackApiError:
        try:
            client.chat_postMessage(channel=member, text=text)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("slack: could not tell %s's IC @%s: %s", caught.number, caught.ic, exc)
    except SlackClientError as exc:
        log.warning("slack: could not tell %s's IC @%s: %s", caught.number, caught.ic, exc)
