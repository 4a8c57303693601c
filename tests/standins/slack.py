"""A local Slack Web API on 127.0.0.1 for tests: Slack's documented method shapes (the far end, not our code).

What it follows (Slack's method reference pages, its "Using the Slack Web API" and rate-limit pages,
"Verifying requests from Slack"):

- ``POST /api/<method>`` (GET with a query string works too) with the bot token in
  ``Authorization: Bearer`` (or a ``token`` form field); the arguments as a form
  (``application/x-www-form-urlencoded``, where ``blocks``/``attachments``/``view`` are JSON strings)
  or as a JSON object. ``slack_sdk.WebClient(token=..., base_url=standin.api_url)`` talks to it.
- Every answer is HTTP 200 with ``{"ok": true, ...}`` in the method's documented shape, or
  ``{"ok": false, "error": "<code>"}`` with Slack's code: ``not_authed``/``invalid_auth`` (token),
  ``invalid_json``/``json_not_object``/``invalid_form_data`` (the body), ``invalid_arguments`` /
  ``missing_argument`` (a required argument), then each method's own (``name_taken``,
  ``invalid_name_specials``, ``channel_not_found``, ``not_in_channel``, ``is_archived``, ``no_text``,
  ``message_not_found``, ``users_not_found``, …). Only a rate limit is not 200: **429** with
  ``Retry-After`` (seconds) and ``{"ok": false, "error": "ratelimited"}``; an outage is 503
  (``service_unavailable``) — both scripted with :meth:`SlackStandIn.fail` or ``down``.
- State a test reads: ``channels`` (the bot is a member of the channels it creates, and of its DMs,
  which ``chat.postMessage`` to a ``U…`` opens as ``D…``), ``users`` (``add_user``), ``views``.
  What members do in the Slack client is scripted: ``join`` a channel, ``say`` a message (read back
  through ``conversations.history``, as the app does for the message a ``reaction_added`` names).
- ``signed`` gives the headers Slack puts on its requests to an app (``v0=`` HMAC-SHA256 of
  ``v0:{timestamp}:{body}`` with the signing secret), for tests that post to our endpoints.

Not stood in: ``conversations.replies`` (threads), ``users.info`` (the app then asks
``users.lookupByEmail``), multipart bodies (no method here takes a file), pagination, per-tier
automatic rate limits (a test scripts the 429 it wants), the ``channel_topic`` system message
``setTopic`` produces.
A body over ``BODY_LIMIT`` is refused unread (413, ``request_too_large``): Slack documents no cap,
this one only keeps a hostile Content-Length from stalling the test.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import string
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "xoxb-standin-0000000017-5ca1ab1e0ddba11c0ffee"
SIGNING_SECRET = "5ca1ab1e0ddba11c0ffee0000000017a"
TEAM_ID = "T0STANDIN1"
BOT_USER_ID = "U0STANDBOT"
BOT_ID = "B0STANDBOT"
APP_ID = "A0STANDAPP"
NAME_LIMIT = 80
TOPIC_LIMIT = 250
TEXT_LIMIT = 40_000
BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
BODY_LIMIT = 8 * 1024 * 1024
CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
JSON_ARGS = ("blocks", "attachments", "view", "metadata")
ID_ALPHABET = string.ascii_uppercase + string.digits
Answer = str | tuple[str, int]
"""A scripted answer: an error code (``"name_taken"``, …), ``"down"`` (503) or ``("ratelimited", s)``."""


class SlackError(Exception):
    """An ``ok: false`` answer; ``extra`` adds Slack's detail fields (``errors``, ``response_metadata``)."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.extra = error, status, extra

    def document(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(10))


def _flag(value: Any) -> bool:
    """Slack booleans: JSON true, or ``1``/``true`` in a form (slack_sdk sends ``1``/``0``)."""
    return value is True or str(value).lower() in ("1", "true")


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {name} must be a string"]}
        )
    return value


def _required(args: dict[str, Any], name: str) -> str:
    value = _text(args, name)
    if not value:
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] missing required field: {name}"]}
        )
    return value


def _ts(args: dict[str, Any], name: str, error: str) -> Decimal | None:
    """A message timestamp argument (``1718000000.000100``), None when absent."""
    value = args.get(name)
    if value in (None, ""):
        return None
    if not (isinstance(value, str) and re.fullmatch(r"\d{1,12}(\.\d{1,9})?", value)):
        raise SlackError(error)
    return Decimal(value)


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Block Kit as Slack checks it: a JSON array (else ``invalid_blocks_format``; a form field that
    was not JSON stays a string) of at most 50 typed objects (else ``invalid_blocks``)."""
    blocks = args.get("blocks")
    if blocks is None or blocks == "":
        return None
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > BLOCK_LIMIT or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
    ):
        raise SlackError("invalid_blocks")
    return blocks


def parse_body(body: bytes, content_type: str, query: str) -> dict[str, Any]:
    """The method's arguments: the query string, then the form or JSON body over it."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return args
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise SlackError("invalid_json") from None
        if not isinstance(document, dict):
            raise SlackError("json_not_object")
        args.update(document)
        return args
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_form_data") from None
    args.update(form)
    for name in JSON_ARGS:  # Block Kit and views travel as JSON strings inside a form
        if isinstance(args.get(name), str) and args[name]:
            with contextlib.suppress(ValueError):  # else kept as the string: the method refuses it
                args[name] = json.loads(args[name])
    return args


@dataclass
class SlackStandIn:
    server: ThreadingHTTPServer
    token: str = TOKEN
    signing_secret: str = SIGNING_SECRET
    echo: bool = False
    """Print each call received (run on its own: ``python -m tests.standins.slack``)."""
    down: bool = False
    """While true every method answers 503 ``service_unavailable`` (Slack down), calls still recorded."""
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """id → {"id", "name", "topic", "members", "archived", "bookmarks", "messages", "ephemeral", …}"""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    dms: dict[str, str] = field(default_factory=dict)
    """user id → the ``D…`` channel of the bot's DM with them"""
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripted: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    used_triggers: set[str] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Every call received for ``method`` (even refused ones), its arguments decoded."""
        with self.lock:
            return [args for name, args in self.received if name == method]

    def fail(self, method: str, *answers: Answer) -> None:
        """The next answers of ``method``, in order; then it answers normally again."""
        with self.lock:
            self.scripted[method].extend(answers)

    def add_user(
        self, user_id: str, email: str, *, name: str = "", real_name: str = "", tz: str = "UTC"
    ) -> None:
        """A workspace member, found by ``users.lookupByEmail`` and invitable."""
        handle = name or email.split("@")[0]
        with self.lock:
            self.users[user_id] = {"email": email, "name": handle, "real_name": real_name or handle, "tz": tz}

    def add_channel(self, name: str, *, member: bool = True, members: tuple[str, ...] = ()) -> str:
        """An existing channel (an announcement channel, say); ``member=False``: the bot is not in it."""
        with self.lock:
            bot = [BOT_USER_ID] if member else []
            return self._new_channel(name, creator="U0SOMEHUMAN", members=bot + list(members))

    def join(self, channel_id: str, *users: str) -> None:
        """Members join a channel by themselves (no call of the app's)."""
        with self.lock:
            members = self.channels[channel_id]["members"]
            members.extend(u for u in users if u not in members)

    def say(self, channel_id: str, user: str, text: str) -> str:
        """A member's message in a channel, as they typed it in Slack; its ``ts``."""
        with self.lock:
            message = {"type": "message", "user": user, "text": text, "ts": self._now(), "team": TEAM_ID}
            self.channels[channel_id]["messages"].append(message)
            return str(message["ts"])

    def trigger_id(self) -> str:
        """A fresh ``trigger_id`` as Slack puts in a slash command or interaction payload."""
        return f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}"

    def signed(self, body: bytes, timestamp: int) -> dict[str, str]:
        """The headers Slack signs a request to an app with (``v0=`` HMAC-SHA256 of ``v0:ts:body``)."""
        base = b"v0:" + str(timestamp).encode() + b":" + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(timestamp)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the Web API ----------------------------------------------------------------------------

    def handle(
        self, method: str, args: dict[str, Any], bearer: str
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(HTTP status, extra headers, JSON document) for one call."""
        with self.lock:
            self.received.append((method, args))
            if self.echo:
                print(f"{method} {json.dumps(args, ensure_ascii=False)[:300]}", flush=True)
            scripted = self.scripted.get(method)
            answer: Answer | None = scripted.popleft() if scripted else None
            try:
                if self.down or answer == "down":
                    raise SlackError("service_unavailable", 503)
                if isinstance(answer, tuple):
                    code, retry_after = answer
                    return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": code}
                self._authenticate(bearer or _text(args, "token"))
                if answer is not None:
                    raise SlackError(answer)
                handler = METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method", req_method=method)
                return 200, {}, {"ok": True, **handler(self, args)}
            except SlackError as refused:
                return refused.status, {}, refused.document()

    def _authenticate(self, token: str) -> None:
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise SlackError("invalid_auth")

    def _now(self) -> str:
        """A message ``ts``: seconds and a per-workspace sequence, unique as Slack's are."""
        return f"{int(time.time())}.{next(self.sequence):06d}"

    def _new_channel(
        self, name: str, *, creator: str, members: list[str], private: bool = False, dm_with: str = ""
    ) -> str:
        channel_id = _id("D" if dm_with else "C")
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "created": int(time.time()),
            "creator": creator,
            "is_private": private,
            "is_im": bool(dm_with),
            "user": dm_with,
            "topic": "",
            "topic_last_set": 0,
            "members": members,
            "archived": False,
            "bookmarks": [],
            "messages": [],
            "ephemeral": [],
        }
        return channel_id

    def _channel(self, ref: str, *, member: bool = False, unarchived: bool = False) -> dict[str, Any]:
        """A channel by id, ``#name`` or name (a ``U…`` opens the bot's DM with that user)."""
        if ref in self.users:
            return self.channels[self._dm(ref)]
        channel = self.channels.get(ref) or next(
            (c for c in self.channels.values() if not c["is_im"] and c["name"] == ref.removeprefix("#")), None
        )
        if channel is None:
            raise SlackError("channel_not_found")
        if unarchived and channel["archived"]:
            raise SlackError("is_archived")
        if member and BOT_USER_ID not in channel["members"]:
            raise SlackError("not_in_channel")
        return channel

    def _dm(self, user_id: str) -> str:
        if user_id not in self.dms:
            self.dms[user_id] = self._new_channel(
                "", creator=BOT_USER_ID, members=[BOT_USER_ID, user_id], private=True, dm_with=user_id
            )
        return self.dms[user_id]

    def _channel_object(self, channel: dict[str, Any], *, num_members: bool = False) -> dict[str, Any]:
        """A conversation object as ``conversations.create``/``info`` document it."""
        if channel["is_im"]:
            return {
                "id": channel["id"],
                "created": channel["created"],
                "is_im": True,
                "is_org_shared": False,
                "user": channel["user"],
                "is_user_deleted": False,
                "priority": 0,
            }
        document = {
            "id": channel["id"],
            "name": channel["name"],
            "name_normalized": channel["name"],
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel["is_private"],
            "created": channel["created"],
            "creator": channel["creator"],
            "is_archived": channel["archived"],
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": BOT_USER_ID in channel["members"],
            "context_team_id": TEAM_ID,
            "unlinked": 0,
            "topic": {
                "value": channel["topic"],
                "creator": BOT_USER_ID if channel["topic"] else "",
                "last_set": channel["topic_last_set"],
            },
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if num_members:
            document["num_members"] = len(channel["members"])
        return document

    def _message(self, args: dict[str, Any], *, ephemeral: bool = False) -> dict[str, Any]:
        """A bot message from chat.post*/update arguments: text or blocks or attachments (``no_text``)."""
        text = _text(args, "text")
        blocks = _blocks(args)
        attachments = args.get("attachments") or None
        if attachments is not None and not (
            isinstance(attachments, list) and all(isinstance(a, dict) for a in attachments)
        ):
            raise SlackError("invalid_attachments")
        if not text and blocks is None and attachments is None:
            raise SlackError("no_text")
        if len(text) > TEXT_LIMIT:
            raise SlackError("msg_too_long")
        message: dict[str, Any] = {"type": "message", "text": text, "user": BOT_USER_ID}
        if not ephemeral:
            message.update(bot_id=BOT_ID, app_id=APP_ID, team=TEAM_ID)
        if blocks is not None:
            message["blocks"] = blocks
        if attachments is not None:
            message["attachments"] = attachments
        return message

    # one method each: the arguments in, the documented fields beside "ok": true out

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://standin.slack.com/",
            "team": "Stand-in",
            "user": "commandpost",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = _text(args, "name")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > NAME_LIMIT:
            raise SlackError("invalid_name_maxlength")
        if not CHANNEL_NAME.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise SlackError("invalid_name_punctuation")
        if any(c["name"] == name for c in self.channels.values()):  # archived names stay taken
            raise SlackError("name_taken")
        channel_id = self._new_channel(
            name, creator=BOT_USER_ID, members=[BOT_USER_ID], private=_flag(args.get("is_private"))
        )
        return {"channel": self._channel_object(self.channels[channel_id])}

    def conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"))
        return {"channel": self._channel_object(channel, num_members=_flag(args.get("include_num_members")))}

    def conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first, between ``oldest`` and ``latest`` (``inclusive`` keeps those two), at most
        ``limit`` (default 100, at most 999); the bot must be in the channel."""
        channel = self._channel(_required(args, "channel"), member=True)
        latest = _ts(args, "latest", "invalid_ts_latest")
        oldest = _ts(args, "oldest", "invalid_ts_oldest")
        inclusive = _flag(args.get("inclusive"))
        try:
            limit = int(args.get("limit") or 100)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        limit = max(1, min(limit, 999))

        def within(ts: Decimal) -> bool:
            after = oldest is None or ts > oldest or (inclusive and ts == oldest)
            return after and (latest is None or ts < latest or (inclusive and ts == latest))

        found = [dict(m) for m in reversed(channel["messages"]) if within(Decimal(m["ts"]))]
        return {
            "messages": found[:limit],
            "has_more": len(found) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def conversations_set_topic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"), member=True, unarchived=True)
        topic = _text(args, "topic")
        if len(topic) > TOPIC_LIMIT:
            raise SlackError("too_long")
        channel["topic"], channel["topic_last_set"] = topic, int(time.time())
        return {"channel": self._channel_object(channel)}

    def conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"), member=True, unarchived=True)
        users = [u.strip() for u in _text(args, "users").split(",") if u.strip()]
        if not users:
            raise SlackError("no_user")
        errors: list[dict[str, Any]] = []
        for user in users:
            if user == BOT_USER_ID:
                errors.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif user not in self.users:
                errors.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel["members"]:
                errors.append({"user": user, "ok": False, "error": "already_in_channel"})
        if errors and not _flag(args.get("force")):
            raise SlackError(errors[0]["error"], errors=errors)
        refused = {e["user"] for e in errors}
        channel["members"].extend(dict.fromkeys(u for u in users if u not in refused))
        answer: dict[str, Any] = {"channel": self._channel_object(channel)}
        if errors:
            answer["errors"] = errors
        return answer

    def conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"))
        if channel["archived"]:
            raise SlackError("already_archived")
        if BOT_USER_ID not in channel["members"]:
            raise SlackError("not_in_channel")
        channel["archived"] = True
        return {}

    def bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel_id"))
        title = _required(args, "title")
        if _required(args, "type") != "link":
            raise SlackError("invalid_bookmark_type")
        link = _text(args, "link")
        if not re.match(r"https?://[^\s/]+", link):
            raise SlackError("invalid_link")
        now = int(time.time())
        bookmark = {
            "id": _id("Bk"),
            "channel_id": channel["id"],
            "title": title,
            "link": link,
            "emoji": _text(args, "emoji") or None,
            "icon_url": None,
            "type": "link",
            "entity_id": None,
            "date_created": now,
            "date_updated": 0,
            "rank": string.ascii_lowercase[len(channel["bookmarks"]) % 26],
            "last_updated_by_user_id": BOT_USER_ID,
            "last_updated_by_team_id": TEAM_ID,
            "shortcut_id": None,
            "app_id": APP_ID,
        }
        channel["bookmarks"].append(bookmark)
        return {"bookmark": bookmark}

    def chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"), member=True, unarchived=True)
        message = {**self._message(args), "ts": self._now()}
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        channel["messages"].append(message)
        return {"channel": channel["id"], "ts": message["ts"], "message": dict(message)}

    def chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"))
        ts = _required(args, "ts")
        message = next((m for m in channel["messages"] if m["ts"] == ts), None)
        if message is None:
            raise SlackError("message_not_found")
        update = self._message(args)
        for name in ("blocks", "attachments"):  # what the update leaves out is cleared, as Slack does
            message.pop(name, None)
        message.update(update, edited={"user": BOT_USER_ID, "ts": self._now()})
        return {"channel": channel["id"], "ts": ts, "text": message["text"], "message": dict(message)}

    def chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(_required(args, "channel"), member=True, unarchived=True)
        user = _required(args, "user")
        if user not in channel["members"]:
            raise SlackError("user_not_in_channel")
        message = {**self._message(args, ephemeral=True), "to": user, "ts": self._now()}
        channel["ephemeral"].append(message)
        return {"message_ts": message["ts"]}

    def users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = _required(args, "email").lower()
        user_id = next((u for u, user in self.users.items() if user["email"].lower() == email), None)
        if user_id is None:
            raise SlackError("users_not_found")
        user = self.users[user_id]
        return {
            "user": {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": user["name"],
                "deleted": False,
                "real_name": user["real_name"],
                "tz": user["tz"],
                "is_bot": False,
                "is_app_user": False,
                "profile": {
                    "email": user["email"],
                    "real_name": user["real_name"],
                    "display_name": user["name"],
                    "team": TEAM_ID,
                },
            }
        }

    def views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = _text(args, "trigger_id") or _text(args, "interactivity_pointer")
        if not trigger:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] invalid `trigger_id`"]}
            )
        if not re.fullmatch(r"\d+\.\d+\.[0-9a-f]+", trigger):
            raise SlackError("invalid_trigger_id")
        if trigger in self.used_triggers:
            raise SlackError("exchanged_trigger_id")
        view = args.get("view")
        problem = _view_problem(view)
        if problem:
            raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {problem}"]})
        assert isinstance(view, dict)
        self.used_triggers.add(trigger)
        view_id = _id("V")
        opened = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "title": view["title"],
            "blocks": view["blocks"],
            "close": view.get("close"),
            "submit": view.get("submit"),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self.views[view_id] = opened
        return {"view": opened}


def _view_problem(view: Any) -> str:
    """What ``views.open`` refuses in a view: not a modal object, no title, blocks not a ≤100 typed list."""
    if not isinstance(view, dict):
        return "view must be a JSON object"
    if view.get("type") != "modal":
        return "view.type must be modal"
    title = view.get("title")
    if not (
        isinstance(title, dict)
        and title.get("type") == "plain_text"
        and 0 < len(title.get("text") or "") <= 24
    ):
        return "view.title must be plain_text of 1-24 characters"
    blocks = view.get("blocks")
    if not (isinstance(blocks, list) and len(blocks) <= VIEW_BLOCK_LIMIT):
        return "view.blocks must be an array of at most 100 blocks"
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        return "every block needs a type"
    return ""


METHODS = {
    "auth.test": SlackStandIn.auth_test,
    "conversations.create": SlackStandIn.conversations_create,
    "conversations.info": SlackStandIn.conversations_info,
    "conversations.history": SlackStandIn.conversations_history,
    "conversations.setTopic": SlackStandIn.conversations_set_topic,
    "conversations.invite": SlackStandIn.conversations_invite,
    "conversations.archive": SlackStandIn.conversations_archive,
    "bookmarks.add": SlackStandIn.bookmarks_add,
    "chat.postMessage": SlackStandIn.chat_post_message,
    "chat.update": SlackStandIn.chat_update,
    "chat.postEphemeral": SlackStandIn.chat_post_ephemeral,
    "users.lookupByEmail": SlackStandIn.users_lookup_by_email,
    "views.open": SlackStandIn.views_open,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    standin: SlackStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(document, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 <= length <= BODY_LIMIT:
            self.close_connection = True  # the body is left unread
            self._answer(413, SlackError("request_too_large").document())
            return
        body = self.rfile.read(length)
        if not parts.path.startswith("/api/"):
            self._answer(404, SlackError("unknown_method").document())
            return
        method = parts.path.removeprefix("/api/")
        authorization = self.headers.get("Authorization") or ""
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        try:
            args = parse_body(body, self.headers.get("Content-Type") or "", parts.query)
        except SlackError as refused:
            with self.standin.lock:
                self.standin.received.append((method, {}))
            self._answer(refused.status, refused.document())
            return
        status, headers, document = self.standin.handle(method, args, bearer)
        self._answer(status, document, headers)

    do_GET = do_POST


def start_slack(port: int = 0, **options: Any) -> SlackStandIn:
    """A running stand-in on ``port`` (0: a free one); ``close()`` it when done."""
    handler: type[_Handler] = type("SlackHandler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    standin = SlackStandIn(server, **options)
    handler.standin = standin
    threading.Thread(target=server.serve_forever, args=(0.05,), name="slack-standin", daemon=True).start()
    return standin


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.standins.slack --port 8092 --channel ops --user U0MEI=mei@example.com``:
    serve until interrupted, printing each call."""
    parser = argparse.ArgumentParser(prog="python -m tests.standins.slack")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--channel", action="append", default=[], help="an existing channel the bot is in")
    parser.add_argument("--user", action="append", default=[], help="a member, as U…=email")
    args = parser.parse_args(argv)
    standin = start_slack(args.port, echo=True)
    for name in args.channel:
        print(f"#{name} = {standin.add_channel(name)}", flush=True)
    for user in args.user:
        user_id, _, email = user.partition("=")
        standin.add_user(user_id, email)
    print(
        f"Slack stand-in on {standin.api_url} (bot token {standin.token}, "
        f"signing secret {standin.signing_secret})",
        flush=True,
    )
    threading.Event().wait()


if __name__ == "__main__":
    main()
