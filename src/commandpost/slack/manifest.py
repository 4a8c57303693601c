"""The Slack app manifest: what a team pastes at api.slack.com/apps to create commandpost's app.

Pure: built from the public URL (where Slack sends slash commands, button presses and events), the
org's name and its slash command (``slack.command`` in commandpost.yaml). The keys and limits are
those of Slack's manifest schema v1 (``display_information``, ``features``, ``oauth_config``,
``settings``); ``commandpost slack manifest`` prints it as JSON or YAML.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from commandpost.errors import ValidationFailed

COMMANDS_PATH = "/api/v1/slack/commands"
INTERACTIONS_PATH = "/api/v1/slack/interactions"
EVENTS_PATH = "/api/v1/slack/events"

APP_NAME = "commandpost"  # display_information.name (≤ 35) and the bot's display name
_URL_MAX = 3000  # the shortest limit Slack puts on a request URL (a slash command's)
_DESCRIPTION_MAX = 140
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# Bot scopes, each with the calls or events that need it. Incident channels are public, so anyone in
# the workspace can find and join the command post; private channels are not supported, hence no
# groups:* scope (asking for one would let the bot read private channels it is added to).
BOT_SCOPES: dict[str, str] = {
    "channels:manage": "conversations.create, .setTopic, .invite, .archive: the incident channel",
    "channels:read": "conversations.info: the channel's name and state",
    # Secret hygiene (guide §8): the message.channels event, every message in the incident
    # channels the bot is in, so a pasted secret is caught and its author warned within seconds.
    "channels:history": "the message.channels event: secret hygiene in incident channels",
    "chat:write": "chat.postMessage, .update, .postEphemeral: opening message, updates, warnings",
    "chat:write.public": "post the announcement in the announce channel without joining it",
    "commands": "the slash command",
    "reactions:read": "the reaction_added event: a 📌 puts a message on the timeline",
    "bookmarks:write": "bookmarks.add: the runbook and the incident page on the channel",
    "users:read": "users.info, and Slack grants users:read.email only with it",
    "users:read.email": "users.lookupByEmail: people without contact.slack_user in people.yaml",
    "im:write": "conversations.open: a page as a direct message from the bot",
}

# Events API subscriptions, each with the scope that delivers it.
BOT_EVENTS: dict[str, str] = {
    "reaction_added": "reactions:read",
    "message.channels": "channels:history",
}

# Escaped, Slack sends "@mei" in a command's text as "<@U012AB3CD|mei>": the user ID that
# contact.slack_user holds. Unescaped it sends the bare display name, which is neither unique nor
# stable, and `ic offer @user`, `role ops @user` and `page @user` could not name a person safely.
SHOULD_ESCAPE = True

USAGE_HINT = "declare [SEV1-4] [service] title… | ack | status mitigated | ic offer @user | help"

_LONG_DESCRIPTION = (
    "commandpost runs incident response the SRE way, and its Slack app makes a channel the command "
    "post: each incident gets its own channel with the IC, role holders and on-call invited, the "
    "runbook and incident page bookmarked, and an opening message with Acknowledge, Escalate and Open "
    "buttons. The slash command declares, acknowledges, hands over the IC role, posts comms updates "
    "and ticks runbook steps; a 📌 reaction puts a message on the timeline; and a secret pasted in "
    "an incident channel is caught before it spreads."
)


def request_base(public_url: str) -> str:
    """``public_url`` as the base of the request URLs (no trailing slash), or a clear refusal.

    Slack needs an absolute URL it can reach: http(s), a host, no query, fragment or credentials.
    A path prefix (a server behind ``https://example.com/cp/``) is kept.
    """
    shown = _CONTROL.sub("?", public_url[:80]) + ("…" if len(public_url) > 80 else "")
    if _CONTROL.search(public_url) or any(c.isspace() for c in public_url):
        raise ValidationFailed(f"public URL {shown!r} contains spaces or control characters")
    try:
        parts = urlsplit(public_url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValidationFailed(f"public URL {shown!r} is not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"public URL {shown!r} must be absolute: https://host[:port][/path]")
    if parts.query or parts.fragment or public_url.endswith(("?", "#")):
        raise ValidationFailed(f"public URL {shown!r} must not carry a query or fragment")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(f"public URL {shown!r} must not carry a user or password")
    base = public_url.rstrip("/")
    if len(base) + max(len(COMMANDS_PATH), len(INTERACTIONS_PATH), len(EVENTS_PATH)) > _URL_MAX:
        raise ValidationFailed(f"public URL {shown!r} is too long for Slack (request URLs ≤ {_URL_MAX})")
    return base


def tls_warning(public_url: str) -> str | None:
    """Why Slack will refuse these request URLs, and what to do; None when the URL is https."""
    if urlsplit(public_url).scheme.lower() == "https":
        return None
    return (
        f"{public_url} is not https: Slack refuses request URLs without TLS. Put TLS in front of "
        "commandpost (a reverse proxy such as Caddy or nginx with a certificate, or for a trial a "
        "tunnel such as cloudflared or ngrok), set COMMANDPOST_PUBLIC_URL to that https:// address "
        "and print the manifest again (or pass --url https://…)."
    )


def build(public_url: str, *, org: str, command: str) -> dict[str, Any]:
    """The manifest for the server at ``public_url``, for ``org``, answering ``command`` (``/inc``)."""
    base = request_base(public_url)
    if not re.fullmatch(r"/[^\s/]{1,31}", command):
        raise ValidationFailed(f"slash command {command[:40]!r} must be / and 1-31 characters, no spaces")
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": _description(org, command),
            "long_description": _LONG_DESCRIPTION,
            "background_color": "#b3261e",
        },
        "features": {
            # The Messages tab shows the pages the bot sends as DMs; read-only, as nobody talks to it there.
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": APP_NAME, "always_online": True},
            "slash_commands": [
                {
                    "command": command,
                    "url": base + COMMANDS_PATH,
                    "description": "Declare and run incidents: roles, status, comms, runbook steps",
                    "usage_hint": USAGE_HINT,
                    "should_escape": SHOULD_ESCAPE,
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": base + EVENTS_PATH, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": base + INTERACTIONS_PATH},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,  # Slack calls the request URLs; commandpost keeps no socket open
            "token_rotation_enabled": False,  # one long-lived bot token, COMMANDPOST_SLACK_BOT_TOKEN
        },
    }


def _description(org: str, command: str) -> str:
    """≤ 140 characters naming the org (cut short if it must be), printable on one line."""
    name = " ".join(_CONTROL.sub(" ", org).split()) or "your team"
    tail = f": a channel per incident, {command} to act."
    room = _DESCRIPTION_MAX - len("Incident command post for ") - len(tail)
    if len(name) > room:
        name = name[: room - 1].rstrip() + "…"
    return f"Incident command post for {name}{tail}"
