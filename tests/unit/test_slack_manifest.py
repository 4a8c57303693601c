"""The Slack app manifest (issue 17, "Setup in one paste"): request URLs from the public URL, the
scopes each feature needs per Slack's method and event pages, the events, the org's slash command,
the https rule, and the limits of Slack's manifest schema v1 — so Slack accepts the paste."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from commandpost.errors import ValidationFailed
from commandpost.slack import manifest

# What each feature calls or subscribes to, and the bot scope Slack's reference pages list for it.
FEATURE_SCOPES = {
    "create the incident channel (conversations.create)": {"channels:manage"},
    "set its topic (conversations.setTopic)": {"channels:manage"},
    "invite the IC, roles and on-call (conversations.invite)": {"channels:manage"},
    "archive on close (conversations.archive)": {"channels:manage"},
    "read the channel (conversations.info)": {"channels:read"},
    "opening message, updates in place, ephemeral warnings (chat.*)": {"chat:write"},
    "announce in a channel the bot has not joined": {"chat:write.public"},
    "the slash command": {"commands"},
    "📌 to the timeline (reaction_added)": {"reactions:read"},
    "secret hygiene (message.channels)": {"channels:history"},
    "bookmark runbook and incident page (bookmarks.add)": {"bookmarks:write"},
    "people by email (users.lookupByEmail)": {"users:read", "users:read.email"},
    "pages as DMs (conversations.open)": {"im:write"},
}


def _build(url: str = "https://cp.example.com", **kwargs: str) -> dict:  # type: ignore[type-arg]
    return manifest.build(url, **{"org": "Example Payments", "command": "/inc", **kwargs})


@pytest.mark.parametrize("url", ["https://example.com/cp", "https://example.com/cp/"])
def test_request_urls_follow_the_public_url_and_its_path_prefix(url):
    m = _build(url)
    assert m["features"]["slash_commands"][0]["url"] == "https://example.com/cp/api/v1/slack/commands"
    assert m["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://example.com/cp/api/v1/slack/interactions",
    }
    assert m["settings"]["event_subscriptions"]["request_url"] == "https://example.com/cp/api/v1/slack/events"


def test_a_port_is_kept():
    m = _build("https://cp.example.com:8443")
    assert m["features"]["slash_commands"][0]["url"] == "https://cp.example.com:8443/api/v1/slack/commands"


@pytest.mark.parametrize(("feature", "needed"), FEATURE_SCOPES.items())
def test_every_feature_has_its_scope(feature, needed):
    assert needed <= set(_build()["oauth_config"]["scopes"]["bot"]), feature


def test_no_scope_beyond_the_features_and_no_private_channels_or_user_token():
    m = _build()
    scopes = m["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}  # a bot token only: nothing acts as a person
    assert set(scopes["bot"]) == set().union(*FEATURE_SCOPES.values())
    assert len(scopes["bot"]) == len(set(scopes["bot"]))
    assert not [s for s in scopes["bot"] if s.startswith(("groups:", "mpim:", "admin"))]


def test_events_are_the_pin_and_secret_hygiene_each_with_its_scope():
    m = _build()
    events = m["settings"]["event_subscriptions"]["bot_events"]
    assert events == ["reaction_added", "message.channels"]
    assert {manifest.BOT_EVENTS[e] for e in events} <= set(m["oauth_config"]["scopes"]["bot"])


def test_the_slash_command_is_the_orgs():
    command = _build(command="/incident")["features"]["slash_commands"]
    assert [c["command"] for c in command] == ["/incident"]
    # mentions arrive as <@U…|name>, the IDs contact.slack_user holds
    assert command[0]["should_escape"] is True
    assert "/incident" in _build(command="/incident")["display_information"]["description"]


def test_interactivity_on_no_socket_mode_no_rotation_no_org_deploy():
    settings = _build()["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert (settings["socket_mode_enabled"], settings["token_rotation_enabled"]) == (False, False)
    assert settings["org_deploy_enabled"] is False


def test_within_slacks_manifest_schema_limits():
    m = _build(org="Example Payments " * 20)  # a long org name is cut, not refused by Slack
    info = m["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140 and info["description"].endswith("/inc to act.")
    assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    assert 1 <= len(m["features"]["bot_user"]["display_name"]) <= 80
    (command,) = m["features"]["slash_commands"]
    assert command["command"].startswith("/") and 2 <= len(command["command"]) <= 32
    assert 1 <= len(command["description"]) <= 2000 and 1 <= len(command["usage_hint"]) <= 1000
    assert all(len(scope) <= 50 for scope in m["oauth_config"]["scopes"]["bot"])
    assert set(m) <= {"_metadata", "display_information", "features", "oauth_config", "settings"}


def test_an_org_name_with_control_characters_is_one_printable_line():
    info = _build(org="Acme\x00\x1b[31m\nCorp\u009b")["display_information"]
    assert info["description"].startswith("Incident command post for Acme [31m Corp:")
    assert not re.search("[\x00-\x1f\x7f-\x9f]", info["description"])


def test_http_warns_with_what_to_do_and_https_does_not():
    warning = manifest.tls_warning("http://cp.example.com:8080")
    assert warning is not None
    assert "not https" in warning and "TLS" in warning and "COMMANDPOST_PUBLIC_URL" in warning
    assert manifest.tls_warning("https://cp.example.com") is None
    assert manifest.tls_warning("HTTPS://cp.example.com") is None
    # the manifest is still built, so it can be read before TLS is in place
    assert _build("http://cp.example.com:8080")["settings"]["interactivity"]["request_url"].startswith(
        "http://"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "must be absolute"),
        ("cp.example.com", "must be absolute"),
        ("ftp://cp.example.com", "must be absolute"),
        ("https://", "must be absolute"),
        ("https://cp.example.com/?a=1", "query or fragment"),
        ("https://cp.example.com/#top", "query or fragment"),
        ("https://cp.example.com?", "query or fragment"),
        ("https://admin:hunter2@cp.example.com", "user or password"),
        ("https://cp.example.com:99999", "is not a URL"),
        ("https://cp.example.com/\x00", "control characters"),
        ("https://cp.example.com/a b", "spaces"),
        ("https://cp.example.com/\x1b]52;c;x\x07", "control characters"),
        ("https://cp.example.com/" + "a" * 5000, "too long"),
    ],
)
def test_a_url_slack_cannot_call_is_refused_saying_why(url, says):
    with pytest.raises(ValidationFailed) as refused:
        _build(url)
    message = refused.value.message
    assert says in message and message.startswith("public URL")
    assert len(message) < 300 and not re.search("[\x00-\x1f]", message)


@pytest.mark.parametrize("command", ["inc", "/", "/in c", "/" + "x" * 40, "/a/b"])
def test_a_command_slack_would_refuse_is_refused(command):
    with pytest.raises(ValidationFailed, match="slash command"):
        _build(command=command)


def test_json_and_yaml_carry_the_same_document():
    m = _build(org="Ünïcode & <Co> 📌")
    assert json.loads(json.dumps(m, ensure_ascii=False)) == m
    assert yaml.safe_load(yaml.safe_dump(m, sort_keys=False, allow_unicode=True, width=4096)) == m
