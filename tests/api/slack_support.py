"""Shared by the Slack endpoint tests: the Slack stand-in, the app pointed at it, people mapped to
members, and requests signed as Slack signs them (the stand-in's ``signed``: the far end's scheme)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security.models import AuditLog
from commandpost.settings import Settings
from commandpost.slack.command_post import CommandPost
from commandpost.slack.models import SlackChannel
from tests.paging_support import apply, ops_variant, processor
from tests.standins.slack import SlackStandIn, start_slack

MEI, HANA, YUTA, KEN, STRANGER = "U0MEI0001", "U0HANA001", "U0YUTA001", "U0KEN0001", "U0NOBODY1"
"""mei and hana are mapped by contact.slack_user; yuta only by the same email in Slack; ken is in
people.yaml but not in Slack; the stranger is in Slack but nobody here."""
PUBLIC = "https://cp.example"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = start_slack()
    for user, email in ((MEI, "mei@example.com"), (HANA, "hana@example.com"), (YUTA, "yuta@example.com")):
        standin.add_user(user, email)
    standin.add_user(STRANGER, "someone@elsewhere.example")
    yield standin
    standin.close()


@pytest.fixture
def settings(db_url: str, slack: SlackStandIn) -> Settings:
    return Settings(
        database_url=db_url,
        engine_enabled=False,
        public_url=PUBLIC,
        slack_bot_token=SecretStr(slack.token),
        slack_signing_secret=SecretStr(slack.signing_secret),
        slack_api_url=slack.api_url,
    )


@pytest.fixture
def slack_ops(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Any) -> OpsConfig:
    """examples/ops with mei and hana mapped to their Slack members."""

    def members(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person["handle"] in ("mei", "hana"):
                person["contact"]["slack_user"] = MEI if person["handle"] == "mei" else HANA

    return apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": members}))


def post(client: Any, slack: SlackStandIn, path: str, body: bytes, *, at: int, kind: str) -> Any:
    headers = {**slack.signed(body, at), "Content-Type": kind}
    return client.post(f"/api/v1/slack/{path}", content=body, headers=headers)


def command(
    client: Any,
    slack: SlackStandIn,
    clock: FrozenClock,
    text: str,
    *,
    user: str = MEI,
    channel: tuple[str, str] = ("C0GENERAL", "general"),
    **extra: str,
) -> Any:
    """``/inc <text>`` typed by ``user`` in ``channel`` (id, name), form-encoded and signed as Slack does."""
    form = {
        "token": "legacy",
        "team_id": "T0STANDIN1",
        "team_domain": "standin",
        "channel_id": channel[0],
        "channel_name": channel[1],
        "user_id": user,
        "user_name": "someone",
        "command": "/inc",
        "text": text,
        "api_app_id": "A0STANDAPP",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0STANDIN1/1/x",
        "trigger_id": slack.trigger_id(),
        **extra,
    }
    body = urlencode(form).encode()
    return post(client, slack, "commands", body, at=int(clock.now().timestamp()), kind=FORM)


FORM = "application/x-www-form-urlencoded"


def interaction(client: Any, slack: SlackStandIn, clock: FrozenClock, payload: dict[str, Any]) -> Any:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post(client, slack, "interactions", body, at=int(clock.now().timestamp()), kind=FORM)


def event(
    client: Any, slack: SlackStandIn, clock: FrozenClock, envelope: dict[str, Any], **headers: str
) -> Any:
    body = json.dumps(envelope).encode()
    signed = {**slack.signed(body, int(clock.now().timestamp())), "Content-Type": "application/json"}
    return client.post("/api/v1/slack/events", content=body, headers={**signed, **headers})


def snapshot(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(incidents, timeline entries, audit rows): what "nothing changed" compares."""
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Incident)) or 0,
            s.scalar(select(func.count()).select_from(TimelineEntry)) or 0,
            s.scalar(select(func.count()).select_from(AuditLog)) or 0,
        )


def entries(sessions: sessionmaker[Session], number: int = 1) -> list[TimelineEntry]:
    with sessions() as s:
        incident = s.scalars(select(Incident).where(Incident.number == number)).one()
        return list(
            s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident.id)
                .order_by(TimelineEntry.id)
            )
        )


def incident(sessions: sessionmaker[Session], number: int = 1) -> Incident:
    with sessions() as s:
        return s.scalars(select(Incident).where(Incident.number == number)).one()


def audits(sessions: sessionmaker[Session]) -> list[AuditLog]:
    with sessions() as s:
        return list(s.scalars(select(AuditLog).order_by(AuditLog.id)))


DECLARE = "declare SEV2 payment-platform Receipts not issued"


@dataclass(frozen=True)
class CommandPostOpened:
    """INC-1's channel in the stand-in, as the engine opened it."""

    channel: str
    name: str
    opening_ts: str

    def opening(self, slack: SlackStandIn) -> dict[str, Any]:
        return next(m for m in slack.channels[self.channel]["messages"] if m["ts"] == self.opening_ts)


def open_command_post(
    client: Any, slack: SlackStandIn, clock: FrozenClock, sessions: sessionmaker[Session], settings: Settings
) -> CommandPostOpened:
    """@mei declares SEV2 on payment-platform with ``/inc``; one engine pass pages the on-call (@yuta)
    and the real command post processor cuts the channel (mei and yuta invited) with its opening
    message and buttons."""
    answer = command(client, slack, clock, DECLARE)
    assert answer.status_code == 200 and answer.json()["response_type"] == "in_channel", answer.text
    with transaction(sessions) as s:
        processor().run(s, clock.now())
    post = CommandPost(settings, wait=30.0)
    try:
        with transaction(sessions) as s:
            post.run(s, clock.now())
        assert post.drain()
    finally:
        post.close()
    with sessions() as s:
        row = s.scalars(select(SlackChannel)).one()
    assert row.channel_id and row.opening_ts, (row.state, row.step, row.last_error)
    assert {MEI, YUTA} <= set(slack.channels[row.channel_id]["members"])
    return CommandPostOpened(row.channel_id, row.name, row.opening_ts)
