"""Issue 17's "done when", as a team runs it: ``commandpost serve`` (what ``make run`` starts) with the
Slack app configured against the local Slack stand-in (the far end, following Slack's documented Web
API). ``/inc declare SEV2 payment-platform Receipts not issued`` typed in Slack declares the incident;
the engine cuts its channel with the IC and the paged on-call invited and posts the opening message
with buttons; pressing Acknowledge acknowledges it, via Slack, and the message says so in place."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.incidents.models import Incident
from tests.alert_support import free_port, stop_serve, wait_ready, wait_until
from tests.conftest import REPO
from tests.paging_support import ops_variant
from tests.standins.slack import BOT_USER_ID, SlackStandIn, start_slack

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
MEMBERS = {
    "mei": "U0MEI0001",
    "hana": "U0HANA001",
    "yuta": "U0YUTA001",
    "ken": "U0KEN0001",
    "sato": "U0SATO001",
}
FORM = "application/x-www-form-urlencoded"
T = TypeVar("T")


def _people(data: dict[str, Any]) -> None:
    """sato (on no rotation, so whoever is on call this week is paged) is mapped by contact.slack_user;
    everyone else by their email in the workspace. Pages go to the console only: this test is about
    the channel."""
    for person in data["people"]:
        person["contact"] = {"email": f"{person['handle']}@example.com"}
        person.pop("notify", None)
        person["notification_rules"] = {"high": [{"methods": ["console"]}], "low": [{"methods": ["console"]}]}
        if person["handle"] == "sato":
            person["contact"]["slack_user"] = MEMBERS["sato"]


def _org(data: dict[str, Any]) -> None:
    data["slack"] = {"announce_channel": "#incidents"}


def _post(slack: SlackStandIn, base: str, path: str, form: dict[str, str]) -> httpx.Response:
    body = urlencode(form).encode()
    headers = {**slack.signed(body, int(time.time())), "Content-Type": FORM}
    return httpx.post(f"{base}/api/v1/slack/{path}", content=body, headers=headers, timeout=10)


def test_inc_declare_in_slack_cuts_the_channel_and_the_button_acknowledges(tmp_path: Path) -> None:
    slack = start_slack()
    for handle, user in MEMBERS.items():
        slack.add_user(user, f"{handle}@example.com")
    slack.add_channel("incidents")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'commandpost.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    env.update(
        COMMANDPOST_SLACK_BOT_TOKEN=slack.token,
        COMMANDPOST_SLACK_SIGNING_SECRET=slack.signing_secret,
        COMMANDPOST_SLACK_API_URL=slack.api_url,
        COMMANDPOST_PUBLIC_URL=base,
    )
    ops = ops_variant(tmp_path, {"people.yaml": _people, "commandpost.yaml": _org})
    err = tmp_path / "stderr.log"
    argv = [str(COMMANDPOST), "serve", "--ops", str(ops), "--database-url", database]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    engine = create_db_engine(database)
    try:
        wait_ready(proc, base, err)
        answer = _post(
            slack,
            base,
            "commands",
            {
                "team_id": "T0STANDIN1",
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "user_id": MEMBERS["sato"],
                "command": "/inc",
                "text": "declare SEV2 payment-platform Receipts not issued",
                "response_url": "https://hooks.slack.com/commands/T0STANDIN1/1/x",
                "trigger_id": slack.trigger_id(),
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["text"].startswith("INC-1 declared SEV2 on payment-platform by @sato")

        def channel() -> dict[str, Any] | None:
            found = [c for c in slack.channels.values() if c["name"].endswith("receipts-not-issued")]
            return found[0] if found and found[0]["messages"] else None

        post = wait_until(channel, "the incident's channel and its opening message")
        opening = post["messages"][0]
        paged = re.search(r"Paged: @([a-z0-9-]+)", opening["text"])
        assert paged, opening["text"]
        on_call = paged.group(1)
        wait_until(lambda: MEMBERS[on_call] in post["members"], f"@{on_call} invited")
        assert on_call != "sato" and {BOT_USER_ID, MEMBERS["sato"], MEMBERS[on_call]} <= set(
            post["members"]
        )  # bot, IC, on-call
        (actions,) = [b for b in opening["blocks"] if b["type"] == "actions"]
        buttons = {e["action_id"]: e for e in actions["elements"]}
        assert buttons["ack"]["value"] == "INC-1" and buttons["open"]["url"] == f"{base}/incidents/INC-1"
        announced = next(c for c in slack.channels.values() if c["name"] == "incidents")["messages"]
        assert announced and "INC-1" in announced[0]["text"]

        pressed = _post(
            slack,
            base,
            "interactions",
            {
                "payload": json.dumps(
                    {
                        "type": "block_actions",
                        "user": {"id": MEMBERS[on_call]},
                        "container": {
                            "type": "message",
                            "channel_id": post["id"],
                            "message_ts": opening["ts"],
                        },
                        "channel": {"id": post["id"]},
                        "message": opening,
                        "actions": [{"action_id": "ack", "value": "INC-1", "type": "button"}],
                        "response_url": "https://hooks.slack.com/actions/T0STANDIN1/1/x",
                        "trigger_id": slack.trigger_id(),
                    }
                )
            },
        )
        assert pressed.status_code == 200, pressed.text
        with make_session_factory(engine, read_only=True)() as s:
            incident = s.scalars(select(Incident).where(Incident.number == 1)).one()
            assert (incident.acknowledged_by, incident.acknowledged_via) == (on_call, "Slack")
        (update,) = slack.calls("chat.update")
        assert update["ts"] == opening["ts"] and f"acknowledged by @{on_call}" in update["text"]
        kept = [e.get("action_id") for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert "ack" not in kept and "escalate" not in kept  # the buttons gave way to the line

        forged = httpx.post(
            f"{base}/api/v1/slack/interactions",
            content=b"payload=%7B%7D",
            headers={"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": str(int(time.time()))},
        )
        assert forged.status_code == 401
    finally:
        stop_serve(proc)
        engine.dispose()
        slack.close()
