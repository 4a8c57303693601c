"""The command post in Slack (issue 17): the engine processor against the local Slack stand-in, driven by
the real ``slack_sdk`` WebClient, with a frozen clock, on both databases.

At the frozen clock (Wednesday 2026-06-24, 12:00 JST) @yuta is payment-platform's primary on-call. @hana
declares SEV1, so she is IC and @yuta is paged; the org invites @sato to every SEV1 channel. @mei's Slack
id is in people.yaml (``contact.slack_user``); everyone else is found by ``users.lookupByEmail``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents import roles, timeline
from commandpost.incidents import service as incidents_service
from commandpost.policy import service as policy_service
from commandpost.postmortems import actions
from commandpost.postmortems import service as postmortems_service
from commandpost.postmortems.models import ActionItem
from commandpost.postmortems.processors import Criteria
from commandpost.settings import Settings
from commandpost.slack import models as m
from commandpost.slack.channel_steps import channel_name
from commandpost.slack.command_post import CommandPost
from commandpost.slack.models import SlackChannel
from tests import cli_support
from tests.api.test_postmortem_api import FILLED
from tests.paging_support import BASE_URL, act, apply, ops_variant, outbox, processor
from tests.standins.slack import SlackStandIn, start_slack

USERS = {
    "U0YUTA0001": "yuta@example.com",
    "U0HANA0001": "hana@example.com",
    "U0KEN00001": "ken@example.com",
    "U0MEI00001": "mei.tanaka@example.com",  # not her people.yaml email: found by slack_user
    "U0SATO0001": "sato@example.com",
}
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


def _org(data: dict[str, Any]) -> None:
    data["slack"] = {"announce_channel": "#incidents", "invite": {"SEV1": ["sato"]}}


def _people(data: dict[str, Any]) -> None:
    mei = next(p for p in data["people"] if p["handle"] == "mei")
    mei["contact"]["slack_user"] = "U0MEI00001"


def _service(data: dict[str, Any]) -> None:
    data["default_runbook"] = "payment-webhook-backlog"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = start_slack()
    for user, email in USERS.items():
        standin.add_user(user, email)
    standin.add_channel("incidents")
    yield standin
    standin.close()


def _settings(slack: SlackStandIn, **values: Any) -> Settings:
    return Settings(
        public_url=BASE_URL,
        engine_enabled=False,
        slack_bot_token=slack.token,
        slack_api_url=slack.api_url,
        **values,
    )


@pytest.fixture
def post(slack: SlackStandIn) -> Iterator[CommandPost]:
    command_post = CommandPost(_settings(slack), wait=30.0)
    yield command_post
    command_post.close()


@pytest.fixture
def ops(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path) -> None:
    apply(
        sessions,
        clock,
        ops_variant(
            tmp_path,
            {"commandpost.yaml": _org, "people.yaml": _people, "services/payment-platform.yaml": _service},
        ),
    )


def _declare(sessions: sessionmaker[Session], clock: FrozenClock, title: str = "Checkout failing") -> Any:
    return act(
        sessions,
        lambda s: incidents_service.declare(
            s, title=title, severity="SEV1", service="payment-platform", actor="hana", now=clock.now()
        ),
    )


def _pass(sessions: sessionmaker[Session], clock: FrozenClock, post: CommandPost, esc: Any = None) -> int:
    """One engine pass at the clock's time: the pages, then the command post (its workers waited for)."""
    if esc is not None:
        with transaction(sessions) as s:
            esc.run(s, clock.now())
    with transaction(sessions) as s:
        work = post.run(s, clock.now())
    assert post.drain()
    return work


def _until(
    sessions: sessionmaker[Session], clock: FrozenClock, until: Any, post: CommandPost, esc: Any
) -> None:
    """Every pass up to ``until``, jumping to each due time as the engine would; the clock ends there."""
    for _ in range(200):
        _pass(sessions, clock, post, esc)
        with sessions() as s:
            dues = [d for d in (esc.next_due(s, clock.now()), post.next_due(s, clock.now())) if d is not None]
        due = min(dues, default=None)
        if due is None or due > until:
            break
        clock.set(max(due, clock.now() + timedelta(milliseconds=1)))
    clock.set(until)
    _pass(sessions, clock, post, esc)


def _row(sessions: sessionmaker[Session], number: int = 1) -> SlackChannel:
    with sessions() as s:
        incident = timeline.incident(s, number=number)
        return s.scalars(select(SlackChannel).where(SlackChannel.incident_id == incident.id)).one()


def _texts(channel: dict[str, Any]) -> list[str]:
    return [message["text"] for message in channel["messages"]]


def _change(sessions: sessionmaker[Session], clock: FrozenClock, fn: Any) -> None:
    act(sessions, lambda s: fn(s, timeline.incident(s, number=1, for_update=True), clock.now()))


def test_declaring_opens_the_command_post(sessions, clock, ops, slack, post):
    incident = _declare(sessions, clock)
    _pass(sessions, clock, post, processor())

    row = _row(sessions)
    assert (row.state, row.step, row.attempts, row.last_error) == (m.CREATED, m.FOLLOW, 0, None)
    assert row.name == incident.channel == "inc-2026-06-24-checkout-failing"
    assert [c["name"] for c in slack.calls("conversations.create")] == [incident.channel]
    channel = slack.channels[row.channel_id]
    assert channel["name"] == incident.channel
    assert channel["topic"] == "SEV1 · investigating · IC @hana · status page: not published"
    # The IC, the paged on-call and the org's SEV1 invitee; the bot created it.
    assert set(channel["members"]) == {"U0STANDBOT", "U0HANA0001", "U0YUTA0001", "U0SATO0001"}
    assert [(b["title"], b["link"]) for b in channel["bookmarks"]] == [
        ("Runbook", "https://runbooks.internal/payment-webhook-backlog"),
        ("INC-1 in commandpost", f"{BASE_URL}/incidents/INC-1"),
    ]
    (opening,) = channel["messages"]
    assert opening["ts"] == row.opening_ts
    assert "[SEV1] INC-1 payment-platform: Checkout failing" in opening["text"]
    shown = json.dumps(opening["blocks"])
    assert "https://runbooks.internal/payment-webhook-backlog" in shown and "*First move:*" in shown
    assert "@yuta" in shown and "@hana" in shown  # who is paged, who is IC
    (actions,) = [b for b in opening["blocks"] if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert buttons["ack"]["value"] == buttons["escalate"]["value"] == "INC-1"
    assert (
        buttons["ack"]["text"]["text"] == "Acknowledge" and buttons["escalate"]["text"]["text"] == "Escalate"
    )
    assert buttons["open"]["url"] == f"{BASE_URL}/incidents/INC-1"
    (announce,) = next(c for c in slack.channels.values() if c["name"] == "incidents")["messages"]
    assert f"<#{row.channel_id}>" in json.dumps(announce["blocks"])

    calls = len(slack.received)
    assert _pass(sessions, clock, post) == 0  # nothing new: no call at all
    assert len(slack.received) == calls


def test_a_taken_name_gets_a_suffix(sessions, clock, ops, slack, post):
    slack.add_channel("inc-2026-06-24-checkout-failing")  # someone made it by hand
    _declare(sessions, clock)
    _pass(sessions, clock, post)
    names = [c["name"] for c in slack.calls("conversations.create")]
    assert names == ["inc-2026-06-24-checkout-failing", "inc-2026-06-24-checkout-failing-2"]
    row = _row(sessions)
    assert (row.name, slack.channels[row.channel_id]["name"]) == (names[1], names[1])


def test_channel_names_are_what_slack_accepts():
    assert channel_name("INC-7 Payments DOWN") == "inc-7-payments-down"
    long = "inc-" + "x" * 100
    assert len(channel_name(long)) == 80 and len(channel_name(long, 3)) == 80
    assert channel_name(long, 3).endswith("x-3")
    assert channel_name("--") == "incident"


def test_status_changes_and_an_ic_handover_are_posted_and_the_topic_follows(
    sessions, clock, ops, slack, post
):
    _declare(sessions, clock)
    _pass(sessions, clock, post, processor())
    clock.advance(minutes=3)
    _change(
        sessions,
        clock,
        lambda s, i, now: incidents_service.change_status(
            s, incident=i, status="identified", actor="hana", now=now, note="webhook consumer crashed"
        ),
    )
    _change(
        sessions,
        clock,
        lambda s, i, now: roles.offer(
            s,
            incident=i,
            role="ic",
            person="yuta",
            actor="hana",
            is_admin=False,
            config=policy_service.current_config(s),
            now=now,
        ),
    )
    _pass(sessions, clock, post)
    channel = slack.channels[_row(sessions).channel_id]
    update = channel["messages"][-1]["text"]
    assert "INC-1 investigating → identified by @hana: webhook consumer crashed" in update
    assert "INC-1: IC offered to @yuta by @hana" in update
    assert channel["topic"].startswith("SEV1 · identified · IC @hana")

    clock.advance(minutes=1)
    _change(sessions, clock, lambda s, i, now: roles.accept(s, incident=i, role="ic", actor="yuta", now=now))
    _pass(sessions, clock, post)
    assert "INC-1: @yuta accepted IC from @hana" in channel["messages"][-1]["text"]
    assert channel["topic"].startswith("SEV1 · identified · IC @yuta")
    assert len(channel["messages"]) == 3  # the opening, then one message per pass
    assert _row(sessions).cursor == act(
        sessions, lambda s: timeline.newest_id(s, incident=timeline.incident(s, number=1))
    )


def test_ratelimited_waits_for_retry_after(sessions, clock, ops, slack, post):
    slack.fail("conversations.create", ("ratelimited", 30))
    _declare(sessions, clock)
    _pass(sessions, clock, post)
    row = _row(sessions)
    assert (row.state, row.channel_id, row.attempts) == (m.PENDING, None, 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert "ratelimited" in (row.last_error or "")
    clock.advance(seconds=29)
    with sessions() as s:
        assert not post.has_work(s, clock.now())
        assert post.next_due(s, clock.now()) == clock.now() + timedelta(seconds=1)
    _pass(sessions, clock, post)
    assert len(slack.calls("conversations.create")) == 1
    clock.advance(seconds=1)
    _pass(sessions, clock, post)
    assert len(slack.calls("conversations.create")) == 2
    row = _row(sessions)
    assert (row.state, row.step, row.attempts) == (m.CREATED, m.FOLLOW, 0)


def test_a_refused_invite_or_announcement_is_skipped_and_noted(sessions, clock, ops, slack, post):
    slack.users.pop("U0SATO0001")  # @sato left the workspace: users.lookupByEmail finds nobody
    announce = next(c for c in slack.channels.values() if c["name"] == "incidents")
    announce["members"].remove("U0STANDBOT")  # nobody added the bot to the announcement channel
    _declare(sessions, clock)
    _pass(sessions, clock, post, processor())
    row = _row(sessions)
    assert (row.state, row.step) == (m.CREATED, m.FOLLOW)
    assert "@sato has no Slack account" in (row.last_error or "")
    assert "chat.postMessage: not_in_channel" in (row.last_error or "")
    assert "U0SATO0001" not in slack.channels[row.channel_id]["members"]
    assert slack.channels[row.channel_id]["messages"] and not announce["messages"]


def test_slack_down_for_two_minutes_delays_only_the_channel(sessions, clock, ops, slack, post):
    slack.down = True
    start = clock.now()
    _declare(sessions, clock)
    esc = processor()
    _until(sessions, clock, start + timedelta(minutes=1), post, esc)
    second = _declare(sessions, clock, "Refunds stuck")  # declared mid-outage
    _until(sessions, clock, start + timedelta(minutes=2), post, esc)

    paged = {
        (incident, to) for _due, incident, kind, _level, to, _ch in outbox_of(sessions) if kind == "page"
    }
    assert {("INC-1", "yuta"), ("INC-2", "yuta")} <= paged  # paging never waited for Slack
    assert second.number == 2
    row = _row(sessions)
    assert (row.state, row.channel_id) == (m.PENDING, None)
    assert "service_unavailable" in (row.last_error or "") and row.attempts >= 3
    assert not slack.channels.keys() - {c["id"] for c in slack.channels.values() if c["name"] == "incidents"}

    slack.down = False
    _until(sessions, clock, start + timedelta(minutes=3), post, esc)
    for number in (1, 2):
        row = _row(sessions, number)
        assert (row.state, row.step) == (m.CREATED, m.FOLLOW)
        assert slack.channels[row.channel_id]["messages"]  # the opening message


def outbox_of(sessions: sessionmaker[Session]) -> list[Any]:
    with sessions() as s:
        return outbox(s)


def test_close_posts_a_summary_and_archives_once_the_postmortem_is_final(sessions, clock, ops, slack, post):
    _declare(sessions, clock)
    _pass(sessions, clock, post, processor())
    clock.advance(minutes=40)
    for status in ("resolved", "closed"):
        _change(
            sessions,
            clock,
            lambda s, i, now, status=status: incidents_service.change_status(
                s, incident=i, status=status, actor="hana", now=now
            ),
        )
    with transaction(sessions) as s:
        Criteria().run(s, clock.now())  # SEV1: a postmortem is required, drafted
    _pass(sessions, clock, post)
    row = _row(sessions)
    channel = slack.channels[row.channel_id]
    assert (row.state, row.step) == (m.CREATED, m.ARCHIVE)
    summary = json.dumps(channel["messages"][-1]["blocks"])
    assert "INC-1 is closed" in summary and f"{BASE_URL}/postmortems/INC-1" in summary
    assert "40m" in summary  # declared → resolved
    assert not channel["archived"] and slack.calls("conversations.archive") == []
    with sessions() as s:
        assert not post.has_work(s, clock.now())  # waiting for Final costs nothing

    clock.advance(days=1)
    act(
        sessions,
        lambda s: postmortems_service.edit(
            s,
            number=1,
            actor="hana",
            now=clock.now(),
            sections=FILLED,
            no_action_reason="the fix is the rollback already made",
        ),
    )
    with transaction(sessions) as s:  # the drafted items: Final asks each for a ticket
        for item in s.scalars(select(ActionItem)):
            actions.update_item(
                s, item_id=item.id, changes={"ticket": "OPS-7"}, actor="hana", now=clock.now()
            )
    act(
        sessions,
        lambda s: postmortems_service.submit(s, number=1, reviewer="yuta", actor="hana", now=clock.now()),
    )
    act(sessions, lambda s: postmortems_service.approve(s, number=1, actor="yuta", now=clock.now()))
    _pass(sessions, clock, post)
    row = _row(sessions)
    assert (row.state, row.step) == (m.ARCHIVED, m.DONE)
    assert channel["archived"] and "is Final" in channel["messages"][-1]["text"]
    assert _pass(sessions, clock, post) == 0


def _parsed_texts(node: Any) -> Iterator[str]:
    """Every string Slack parses for mentions and links: mrkdwn objects, a message's ``text``, a
    topic. ``plain_text`` objects are shown literally (a mention there is inert text)."""
    if isinstance(node, list):
        for item in node:
            yield from _parsed_texts(item)
    elif isinstance(node, dict):
        if node.get("type") == "plain_text":
            return
        for key, value in node.items():
            if isinstance(value, str) and key in ("text", "topic", "purpose"):
                yield value
            else:
                yield from _parsed_texts(value)


def test_hostile_titles_are_escaped_and_secrets_never_reach_slack(sessions, clock, ops, slack, post):
    _declare(sessions, clock, f"Checkout <!channel> & <https://evil.example|log in> key {AWS_KEY}")
    _pass(sessions, clock, post, processor())
    sent = json.dumps([args for _method, args in slack.received])
    assert AWS_KEY not in sent
    parsed = [text for _method, args in slack.received for text in _parsed_texts(args)]
    assert parsed and not [t for t in parsed if "<!channel>" in t or "<https://evil.example|log in>" in t]
    opening = slack.channels[_row(sessions).channel_id]["messages"][0]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|log in&gt;" in opening["text"]


def test_a_second_replica_claims_nothing_already_claimed(sessions, clock, ops, slack, post):
    _declare(sessions, clock)
    other = CommandPost(_settings(slack), owner="replica-2", wait=30.0)
    with transaction(sessions) as s:
        post._open_rows(s, clock.now())
    with transaction(sessions) as s:
        assert len(post._claim(s, clock.now())) == 1
    with transaction(sessions) as s:
        assert other._claim(s, clock.now()) == []
        assert other.run(s, clock.now()) == 0
    other.close()
    assert slack.received == []


def test_slack_off_does_nothing(sessions, clock, ops, slack):
    off = CommandPost(Settings(public_url=BASE_URL, engine_enabled=False, slack_api_url=slack.api_url))
    _declare(sessions, clock)
    with sessions() as s:
        assert not off.has_work(s, clock.now()) and off.next_due(s, clock.now()) is None
    with transaction(sessions) as s:
        assert off.run(s, clock.now()) == 0
    with sessions() as s:
        assert s.scalars(select(SlackChannel)).all() == []
    assert slack.received == []


def test_a_refused_channel_is_listed_failed_and_retried_from_the_cli(
    sessions, clock, ops, slack, post, db_url
):
    slack.fail("conversations.create", "restricted_action")  # the workspace forbids the bot to create
    _declare(sessions, clock)
    _pass(sessions, clock, post, processor())
    assert _row(sessions).state == m.FAILED
    env = {"COLUMNS": "200", "COMMANDPOST_DATABASE_URL": db_url}

    listed = cli_support.run_cli(["slack", "channels", "--failed", "--json"], env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["incident"], row["state"], row["step"], row["channel_id"]) == (
        "INC-1",
        "failed",
        "create",
        None,
    )
    assert "restricted_action" in row["last_error"]
    table = cli_support.run_cli(["slack", "channels"], env=env)
    assert "INC-1" in table.stdout and "restricted_action" in table.stdout

    retried = cli_support.run_cli(["slack", "retry", "INC-1"], env=env)
    assert retried.returncode == 0, retried.stderr
    assert "tried again from step create" in retried.stdout
    _pass(sessions, clock, post)
    assert (_row(sessions).state, _row(sessions).step) == (m.CREATED, m.FOLLOW)
    again = cli_support.run_cli(["slack", "retry", "INC-1"], env=env)
    assert again.returncode != 0 and "not failed" in again.stderr  # nothing to try: refused, unchanged
    unknown = cli_support.run_cli(["slack", "retry", "INC-99"], env=env)
    assert unknown.returncode != 0 and "INC-99" in unknown.stderr
