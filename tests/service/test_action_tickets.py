"""Action items' tickets in the team's tracker (issue 21), end to end against local GitHub, GitLab,
Jira and Linear stand-ins (tests/standins/trackers.py): create per tracker and the link stored,
state back by webhook and by the engine's periodic read, forged or missing signatures refused,
the tracker's errors told clearly with the item unchanged, rate limits honoured, hostile input.
Both databases."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.incidents.models import TimelineEntry
from commandpost.policy import service as policy_service
from commandpost.postmortems import processors
from commandpost.postmortems.models import ActionItem, ActionTicket, TrackerDelivery
from commandpost.settings import Settings
from commandpost.wiring import tracker_client
from tests.conftest import EXAMPLE_OPS
from tests.service.test_postmortem_draft import run_criteria, script_webhook_backlog
from tests.standins import trackers as standin
from tests.standins.trackers import TrackerStandIn

PM = "/api/v1/postmortems/INC-1"
ITEM = {
    "title": "Park unknown webhook event types in the DLQ instead of crashing the consumer",
    "type": "prevent",
    "owner": "ken",
    "due": "2026-12-15",
    "ticket": "ops-123",
    "verification": "replay a dispute event in staging and confirm the consumer stays up and the DLQ grows",
}
TOKENS = (standin.GITHUB_TOKEN, standin.GITLAB_TOKEN, standin.JIRA_TOKEN, standin.LINEAR_TOKEN)
SECRETS = tuple(standin.SECRETS.values())
DONE = {"github": ("closed",), "gitlab": ("close",), "jira": ("31",), "linear": ("done",)}
REOPEN = {"github": ("open",), "gitlab": ("reopen",), "jira": ("11",), "linear": ("todo",)}
SYNC = 900


@pytest.fixture
def stands() -> Iterator[dict[str, TrackerStandIn]]:
    running = {
        "github": standin.start("github", {"acme/payments": 1}),
        "gitlab": standin.start("gitlab", {"acme/payments": 42}),
        "jira": standin.start("jira", {"OPS": 1}),
        "linear": standin.start("linear", {"team-0001": 1}),
    }
    yield running
    for server in running.values():
        server.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        engine_enabled=False,
        outbound_allowlist=["127.0.0.1"],
        github_token=standin.GITHUB_TOKEN,
        github_webhook_secret=standin.SECRETS["github"],
        gitlab_token=standin.GITLAB_TOKEN,
        gitlab_webhook_token=standin.SECRETS["gitlab"],
        jira_token=standin.JIRA_TOKEN,
        jira_webhook_secret=standin.SECRETS["jira"],
        linear_token=standin.LINEAR_TOKEN,
        linear_webhook_secret=standin.SECRETS["linear"],
        tracker_sync_seconds=SYNC,
    )  # type: ignore[call-arg]


def _ops(tmp_path: Path, stands: dict[str, TrackerStandIn], default: str = "github") -> Path:
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    trackers = (
        f"\ntrackers:\n  default: {default}\n"
        f"  github: {{repo: acme/payments, base_url: '{stands['github'].url}', labels: [postmortem]}}\n"
        f"  gitlab: {{project: acme/payments, base_url: '{stands['gitlab'].url}'}}\n"
        f"  jira: {{project: OPS, base_url: '{stands['jira'].url}', email: {standin.JIRA_EMAIL}}}\n"
        f"  linear: {{team_id: team-0001, base_url: '{stands['linear'].url}'}}\n"
    )
    with (folder / "commandpost.yaml").open("a", encoding="utf-8") as f:
        f.write(trackers)
    return folder


@pytest.fixture
def item_id(sessions, clock, tmp_path, stands, client, auth) -> int:  # type: ignore[no-untyped-def]
    """INC-1's postmortem (the guide's webhook backlog, resolved) with one SMART action item."""
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=_ops(tmp_path, stands), now=clock.now(), actor="test")
    script_webhook_backlog(sessions, clock)
    run_criteria(sessions, clock)
    added = client.post(f"{PM}/action-items", json=ITEM, headers=auth("responder"))
    assert added.status_code == 201, added.text
    return int(added.json()["id"])


def _item(sessions, item_id: int) -> tuple[ActionItem, ActionTicket | None]:  # type: ignore[no-untyped-def]
    with transaction(sessions, commit=False) as s:
        item = s.get_one(ActionItem, item_id)
        link = s.scalars(select(ActionTicket).where(ActionTicket.action_item_id == item_id)).first()
        s.expunge_all()
        return item, link


def _snapshot(sessions, item_id: int) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    item, link = _item(sessions, item_id)
    return (item.status, item.ticket, item.done_at, item.updated_at, link and (link.state, link.status))


def _timeline(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    with transaction(sessions, commit=False) as s:
        return [e.text for e in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]


def _no_secret(text: str) -> None:
    for secret in (*TOKENS, *SECRETS):
        assert secret not in text


def _sync(sessions, settings: Settings, clock) -> int:  # type: ignore[no-untyped-def]
    sync = processors.TicketSync(tracker_client(settings), every=timedelta(seconds=SYNC))
    with transaction(sessions) as s:
        if not sync.has_work(s, clock.now()):
            return 0
        return sync.run(s, clock.now())


@pytest.mark.parametrize("tracker", ["github", "gitlab", "jira", "linear"])
def test_a_ticket_is_created_linked_and_its_state_comes_back_by_webhook_and_by_read(
    tracker, item_id, stands, client, auth, sessions, settings, clock
):  # type: ignore[no-untyped-def]
    far = stands[tracker]
    made = client.post(
        f"/api/v1/action-items/{item_id}/ticket", json={"tracker": tracker}, headers=auth("responder")
    )
    assert made.status_code == 201, made.text
    link = made.json()["ticket_link"]
    assert (link["tracker"], link["status"]) == (tracker, "open")
    assert made.json()["ticket"] == link["url"] and link["url"].startswith(("https://", far.url))
    (key,) = far.issues
    expected_key = {
        "github": "acme/payments#1",
        "gitlab": "acme/payments#1",
        "jira": "OPS-1",
        "linear": "ENG-1",
    }
    assert link["key"] == expected_key[tracker]

    sent = far.received[-1]
    doc = json.loads(sent.body)
    if tracker == "github":
        assert sent.path == "/repos/acme/payments/issues"
        assert sent.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert doc["labels"] == ["postmortem"] and doc["title"] == ITEM["title"]
        assert doc["body"].endswith(f"commandpost-action-item: #{item_id}")
    elif tracker == "gitlab":
        assert sent.path == "/api/v4/projects/acme%2Fpayments/issues"
        assert doc["description"].endswith(f"commandpost-action-item: #{item_id}")
    elif tracker == "jira":
        assert doc["fields"]["description"]["type"] == "doc"  # ADF, as v3 requires
        assert doc["fields"]["project"] == {"key": "OPS"} and doc["fields"]["summary"] == ITEM["title"]
    else:
        assert sent.headers["Authorization"] == standin.LINEAR_TOKEN  # a personal key: no "Bearer"
        assert "issueCreate" in doc["query"] and doc["variables"]["input"]["teamId"] == "team-0001"
    again = client.post(
        f"/api/v1/action-items/{item_id}/ticket", json={"tracker": tracker}, headers=auth("responder")
    )
    assert again.status_code == 409 and link["url"] in again.json()["error"]["message"]
    assert len(far.issues) == 1

    # closed in the tracker, its webhook → done here
    far.webhook_ms = int(clock.now().timestamp() * 1000)
    headers, body = far.move(key, *DONE[tracker])
    hooked = client.post(f"/api/v1/trackers/{tracker}/webhook", content=body, headers=headers)
    assert hooked.status_code == 200, hooked.text
    assert hooked.json() == {"applied": True, "status": "done"}
    item, stored = _item(sessions, item_id)
    assert item.status == "done" and item.done_at == clock.now()
    assert stored is not None and stored.status == "done"
    before = _snapshot(sessions, item_id)
    duplicate = client.post(f"/api/v1/trackers/{tracker}/webhook", content=body, headers=headers)
    assert duplicate.status_code == 200 and _snapshot(sessions, item_id)[:4] == before[:4]

    # reopened in the tracker, no webhook this time: the periodic read brings it back open (overdue again)
    far.move(key, *REOPEN[tracker])
    assert _sync(sessions, settings, clock) == 0  # not due yet
    clock.advance(seconds=SYNC)
    assert _sync(sessions, settings, clock) == 1
    item, stored = _item(sessions, item_id)
    assert (item.status, item.done_at) == ("open", None)
    listed = client.get("/api/v1/action-items", headers=auth("read")).json()
    (row,) = [r for r in listed if r["id"] == item_id]
    assert row["ticket_link"]["status"] == "open" and row["ticket_link"]["key"] == expected_key[tracker]

    lines = [t for t in _timeline(sessions) if f"action item #{item_id}" in t]
    assert len(lines) == 3, lines  # created, done (webhook), open (read); the duplicate changed nothing
    assert f"ticket {expected_key[tracker]} created" in lines[0]
    assert "(webhook)" in lines[1] and "is done" in lines[1] and "(read)" in lines[2]
    for line in lines:
        _no_secret(line)


@pytest.mark.parametrize("tracker", ["github", "gitlab", "jira", "linear"])
def test_a_replayed_delivery_is_answered_and_changes_nothing(
    tracker, item_id, stands, client, auth, sessions, clock
):  # type: ignore[no-untyped-def]
    """A signed delivery replayed after a later change (closed, reopened, then the close again) is
    known by its delivery id: 200, the item stays open, no timeline line. Ids go after 7 days."""
    assert _create(client, auth, item_id, tracker).status_code == 201
    far = stands[tracker]
    (key,) = far.issues
    far.webhook_ms = int(clock.now().timestamp() * 1000)
    closed = far.move(key, *DONE[tracker])
    reopened = far.move(key, *REOPEN[tracker])
    for headers, body in (closed, reopened):
        hooked = client.post(f"/api/v1/trackers/{tracker}/webhook", content=body, headers=headers)
        assert hooked.status_code == 200 and hooked.json()["applied"] is True, hooked.text
    before, lines = _snapshot(sessions, item_id), _timeline(sessions)
    assert before[0] == "open"

    headers, body = closed
    replayed = client.post(f"/api/v1/trackers/{tracker}/webhook", content=body, headers=headers)
    assert replayed.status_code == 200 and replayed.json()["applied"] is False
    assert "already received" in replayed.json()["reason"]
    assert _snapshot(sessions, item_id) == before and _timeline(sessions) == lines

    clock.advance(days=8)
    far.webhook_ms = int(clock.now().timestamp() * 1000)
    headers, body = far.move(key, *DONE[tracker])
    assert client.post(f"/api/v1/trackers/{tracker}/webhook", content=body, headers=headers).json()["applied"]
    with transaction(sessions, commit=False) as s:
        kept = s.scalars(select(TrackerDelivery)).all()
        assert [(d.tracker, d.received_at) for d in kept] == [(tracker, clock.now())]  # the old two pruned


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_write_lock_is_held_while_the_tracker_answers(item_id, stands, client, auth, sessions, db_url):  # type: ignore[no-untyped-def]
    """SQLite has one write lock: while GitHub is slow to answer a ticket request, another writer (a
    real second connection, as alert intake would be) gets it at once."""
    github = stands["github"]
    github.hold = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_create, client, auth, item_id)
        try:
            assert github.arrived.acquire(timeout=15), "the request did not reach the tracker"
            other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # fails at once ("database is locked") if one is held
                other.execute("UPDATE action_item SET note = 'written meanwhile' WHERE id = ?", (item_id,))
                other.execute("COMMIT")
            finally:
                other.close()
        finally:
            github.hold.set()
        made = pending.result(timeout=30)
    assert made.status_code == 201, made.text
    item, link = _item(sessions, item_id)
    assert link is not None and item.ticket == link.url and item.note == "written meanwhile"


def test_two_requests_for_one_item_link_one_ticket_and_name_the_other(
    item_id, stands, client, auth, sessions
):  # type: ignore[no-untyped-def]
    """Both requests reach the tracker before either stores its link: the first to store wins, the
    other is a 409 naming the linked ticket and the one it made, for a person to close."""
    github = stands["github"]
    github.hold = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(_create, client, auth, item_id) for _ in range(2)]
        try:
            for _ in answers:
                assert github.arrived.acquire(timeout=15), "both requests reach the tracker"
        finally:
            github.hold.set()
        made, lost = sorted((a.result(timeout=30) for a in answers), key=lambda r: r.status_code)
    assert (made.status_code, lost.status_code) == (201, 409), lost.text
    winner = made.json()["ticket_link"]
    loser = next(i["html_url"] for k, i in github.issues.items() if k != winner["key"].lower())
    message = lost.json()["error"]["message"]
    assert f"already has ticket {winner['key']}" in message and winner["url"] in message
    assert f"was created but is not linked: close it there: {loser}" in message
    assert lost.json()["error"]["details"]["unlinked_ticket"] == loser
    assert len(github.issues) == 2 and _item(sessions, item_id)[1].url == winner["url"]  # type: ignore[union-attr]
    created = [t for t in _timeline(sessions) if f"action item #{item_id}: ticket" in t]
    assert len(created) == 1 and winner["key"] in created[0]


def test_closed_as_not_planned_is_wontfix_with_a_note(item_id, stands, client, auth, sessions):  # type: ignore[no-untyped-def]
    made = client.post(f"/api/v1/action-items/{item_id}/ticket", json={}, headers=auth("responder"))
    assert made.status_code == 201 and made.json()["ticket_link"]["tracker"] == "github"  # the default
    headers, body = stands["github"].move("acme/payments#1", "closed", reason="not_planned")
    assert client.post("/api/v1/trackers/github/webhook", content=body, headers=headers).status_code == 200
    item, _ = _item(sessions, item_id)
    assert item.status == "wontfix" and item.note == "acme/payments#1 was closed as not planned in GitHub"


@pytest.mark.parametrize("tracker", ["github", "gitlab", "jira", "linear"])
def test_forged_missing_or_stale_webhooks_are_refused_and_change_nothing(
    tracker, item_id, stands, client, auth, sessions, clock
):  # type: ignore[no-untyped-def]
    assert (
        client.post(
            f"/api/v1/action-items/{item_id}/ticket", json={"tracker": tracker}, headers=auth("responder")
        ).status_code
        == 201
    )
    far = stands[tracker]
    (key,) = far.issues
    far.webhook_ms = int(clock.now().timestamp() * 1000)
    headers, body = far.move(key, *DONE[tracker])
    before = _snapshot(sessions, item_id)
    proof = {
        "github": "X-Hub-Signature-256",
        "gitlab": "X-Gitlab-Token",
        "jira": "X-Hub-Signature",
        "linear": "Linear-Signature",
    }[tracker]
    missing = {k: v for k, v in headers.items() if k != proof}
    forged = {**headers, proof: ("sha256=" if tracker in ("github", "jira") else "") + "0" * 64}
    tampered_body = body.replace(b"closed", b"opened").replace(b"done", b"todo")
    attempts = [(missing, body), (forged, body)]
    if tracker != "gitlab":  # GitLab sends the secret itself, no signature of the body to break
        attempts.append((headers, tampered_body + b" "))
    for sent_headers, sent_body in attempts:
        refused = client.post(f"/api/v1/trackers/{tracker}/webhook", content=sent_body, headers=sent_headers)
        assert refused.status_code == 401, refused.text
        assert "refused" in refused.json()["error"]["message"]
        _no_secret(refused.text)
    if tracker == "linear":  # a replay: signed, but its webhookTimestamp is old
        far.webhook_ms = int(clock.now().timestamp() * 1000) - 120_000
        old_headers, old_body = far.move(key, "done")
        stale = client.post("/api/v1/trackers/linear/webhook", content=old_body, headers=old_headers)
        assert stale.status_code == 401 and "replay" in stale.json()["error"]["message"]
    assert _snapshot(sessions, item_id) == before
    unknown = client.post("/api/v1/trackers/bugzilla/webhook", content=body, headers=headers)
    assert unknown.status_code == 404


def test_webhooks_are_refused_when_no_secret_is_configured(item_id, stands, db_url, clock, engine):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from commandpost.app import create_app

    bare = Settings(database_url=db_url, engine_enabled=False)  # type: ignore[call-arg]
    with TestClient(
        create_app(bare, clock=clock, engine=engine, run_engine=False), raise_server_exceptions=False
    ) as c:
        raw = json.dumps({"action": "closed", "issue": {"number": 1}}).encode()
        signed = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + "0" * 64}
        answer = c.post("/api/v1/trackers/github/webhook", content=raw, headers=signed)
    assert answer.status_code == 401
    assert "COMMANDPOST_GITHUB_WEBHOOK_SECRET" in answer.json()["error"]["message"]


def _create(client, auth, item_id: int, tracker: str = "github"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/action-items/{item_id}/ticket", json={"tracker": tracker}, headers=auth("responder")
    )


def test_tracker_errors_are_told_clearly_and_leave_the_item_unchanged(
    item_id, stands, client, auth, sessions, caplog
):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    before = _snapshot(sessions, item_id)
    github = stands["github"]

    github.revoked = True
    bad_token = _create(client, auth, item_id)
    assert bad_token.status_code == 502
    message = bad_token.json()["error"]["message"]
    assert "GitHub refused the token (401)" in message and "COMMANDPOST_GITHUB_TOKEN" in message
    assert "/repos/acme/payments/issues" in message
    github.revoked = False

    github.projects.clear()
    missing = _create(client, auth, item_id)
    assert missing.status_code == 502 and "found nothing" in missing.json()["error"]["message"]
    github.projects["acme/payments"] = 1

    github.fail(422)
    invalid = _create(client, auth, item_id)
    assert (
        invalid.status_code == 422
        and "GitHub refused repo acme/payments" in invalid.json()["error"]["message"]
    )

    stands["jira"].projects.clear()  # Jira answers an unknown project with 400 and its errors map
    jira = _create(client, auth, item_id, "jira")
    assert jira.status_code == 422
    assert "project: valid project is required" in jira.json()["error"]["message"]

    stands["linear"].revoked = True  # GraphQL: errors[] with AUTHENTICATION_ERROR
    linear = _create(client, auth, item_id, "linear")
    assert linear.status_code == 502 and "COMMANDPOST_LINEAR_TOKEN" in linear.json()["error"]["message"]

    github.fail(503)
    down = _create(client, auth, item_id)
    assert down.status_code == 502 and "HTTP 503" in down.json()["error"]["message"]

    github.fail(429, retry_after=30)
    limited = _create(client, auth, item_id)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"

    unknown = client.post(
        f"/api/v1/action-items/{item_id}/ticket", json={"tracker": "bugzilla"}, headers=auth("responder")
    )
    assert unknown.status_code == 422 and "unknown tracker" in unknown.json()["error"]["message"]

    for answer in (bad_token, missing, invalid, jira, linear, down, limited, unknown):
        assert "Traceback" not in answer.text
        _no_secret(answer.text)
    assert _snapshot(sessions, item_id) == before  # no link, no ticket text changed
    assert len(github.issues) == 0

    ok = _create(client, auth, item_id)  # the 429 passed: now it works
    assert ok.status_code == 201 and ok.json()["ticket_link"]["key"] == "acme/payments#1"
    _no_secret(caplog.text)  # not in any log line, at any level


def test_an_unreachable_or_private_tracker_is_a_502_naming_it(
    item_id, stands, client, auth, sessions, settings, app
):  # type: ignore[no-untyped-def]
    stands["gitlab"].close()
    gone = _create(client, auth, item_id, "gitlab")
    assert gone.status_code == 502 and "cannot reach GitLab" in gone.json()["error"]["message"]
    app.state.settings = settings.model_copy(update={"outbound_allowlist": []})
    guarded = _create(client, auth, item_id)
    assert guarded.status_code == 502
    assert "loopback" in guarded.json()["error"]["message"] and len(stands["github"].issues) == 0
    assert _item(sessions, item_id)[1] is None


def test_the_periodic_read_honours_rate_limits_and_reads_in_batches(
    item_id, stands, client, auth, sessions, settings, clock
):  # type: ignore[no-untyped-def]
    assert _create(client, auth, item_id).status_code == 201
    github = stands["github"]
    github.move("acme/payments#1", "closed")
    clock.advance(seconds=SYNC)
    github.fail(429, retry_after=120)
    assert _sync(sessions, settings, clock) == 0
    assert _item(sessions, item_id)[0].status == "open"
    with transaction(sessions, commit=False) as s:
        link = s.scalars(select(ActionTicket)).one()
        assert link.sync_due_at == clock.now() + timedelta(seconds=120)
        assert "rate limiting" in (link.last_error or "")
    clock.advance(seconds=60)
    assert _sync(sessions, settings, clock) == 0  # still waiting out Retry-After
    clock.advance(seconds=60)
    assert _sync(sessions, settings, clock) == 1
    assert _item(sessions, item_id)[0].status == "done"
    requests_before = len(github.received)

    second = {**ITEM, "title": "Alert on DLQ depth above 100 for 10 minutes on the payments queue"}
    del second["ticket"]
    added = client.post(
        f"{PM}/action-items", json={**second, "create_ticket": True}, headers=auth("responder")
    )
    assert added.status_code == 201 and added.json()["ticket_link"]["key"] == "acme/payments#2"
    github.rate_remaining = 1  # the next read spends GitHub's last request of the hour
    clock.advance(seconds=SYNC)
    assert _sync(sessions, settings, clock) == 1  # one read, then X-RateLimit-Remaining: 0 pauses GitHub
    with transaction(sessions, commit=False) as s:
        first, waiting = s.scalars(select(ActionTicket).order_by(ActionTicket.id)).all()
        assert first.sync_due_at == clock.now() + timedelta(seconds=SYNC)
        assert waiting.sync_due_at is not None and waiting.sync_due_at > clock.now() + timedelta(seconds=SYNC)
        assert waiting.synced_at == clock.now() - timedelta(seconds=SYNC)  # not read: waits for the reset
    assert len(github.received) == requests_before + 2  # the create and one read, not a second read


def test_hostile_titles_and_bodies(item_id, stands, client, auth, sessions, clock):  # type: ignore[no-untyped-def]
    hostile = client.patch(
        f"/api/v1/action-items/{item_id}",
        json={"title": "Park unknown event types in the DLQ\x00\x07\x1b[31m instead of crashing"},
        headers=auth("responder"),
    )
    made = _create(client, auth, item_id)
    assert made.status_code == 201, made.text
    sent = json.loads(stands["github"].received[-1].body)
    assert "\x00" not in sent["title"] and "\x1b" not in sent["title"] and "\x07" not in sent["title"]
    assert hostile.status_code in (200, 422)

    huge = client.post(
        "/api/v1/trackers/github/webhook", content=b"x" * (600 * 1024), headers={"X-GitHub-Event": "issues"}
    )
    assert huge.status_code == 413
    secret = standin.SECRETS["github"]
    for raw in (b"\x00\xff not json", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000):
        signed = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + standin._sign(secret, raw)}
        answer = client.post("/api/v1/trackers/github/webhook", content=raw, headers=signed)
        assert answer.status_code in (400, 413), answer.text
    odd = json.dumps(
        {"action": "closed", "issue": {"number": "1\x00", "state": "closed"}, "repository": {}}
    ).encode()
    signed = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + standin._sign(secret, odd)}
    ignored = client.post("/api/v1/trackers/github/webhook", content=odd, headers=signed)
    assert ignored.status_code == 200 and ignored.json()["applied"] is False
    assert _item(sessions, item_id)[0].status == "open"


def test_the_command_line_creates_tickets_and_lists_their_state(item_id, stands, app, make_token, tmp_path):  # type: ignore[no-untyped-def]
    from tests import cli_support
    from tests.service.test_postmortem_cli import _serve

    token = make_token("responder", person="yuta")
    with _serve(app) as url:
        env = {"COMMANDPOST_URL": url, "COMMANDPOST_TOKEN": token, "HOME": str(tmp_path), "TZ": "UTC"}

        def cli(*args: str):  # type: ignore[no-untyped-def]
            return cli_support.run_cli(args, env=env, cwd=tmp_path)

        made = cli("action", "ticket", str(item_id), "--tracker", "jira")
        assert made.returncode == 0, made.stderr
        assert (
            f"action item #{item_id}: ticket OPS-1 in jira: {stands['jira'].url}/browse/OPS-1" in made.stdout
        )
        again = cli("action", "ticket", str(item_id))
        assert again.returncode == 5 and "already has ticket OPS-1 in Jira" in again.stderr
        added = cli(
            "action", "add", "INC-1", "Add a DLQ depth panel to the payments dashboard", "--type", "process",
            "--owner", "mei", "--due", "2026-12-01", "--create-ticket",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "ticket acme/payments#1 in github" in added.stdout
        listed = json.loads(cli("actions", "--json").stdout)
        assert [(i["ticket_link"]["key"], i["ticket_link"]["state"]) for i in listed] == [
            ("acme/payments#1", "open"),
            ("OPS-1", "new"),
        ]
        assert "OPS-1 · new" in cli("actions").stdout
        stands["github"].revoked = True
        refused = cli(
            "action", "add", "INC-1", "Add a DLQ age alert to the payments alert rules", "--type", "process",
            "--owner", "mei", "--due", "2026-12-01", "--create-ticket",
        )  # fmt: skip
        assert (
            refused.returncode == 6 and "GitHub refused the token (401)" in refused.stderr
        )  # UpstreamFailed
        assert "Traceback" not in refused.stderr and standin.GITHUB_TOKEN not in refused.stderr
        assert len(json.loads(cli("actions", "--json").stdout)) == 2  # the refused one was not stored either


def test_the_engine_runs_the_ticket_sync() -> None:
    from commandpost.wiring import engine_plan

    names = [p.name for p in engine_plan(Settings()).sequence()]  # type: ignore[call-arg]
    assert "postmortems.ticket_sync" in names
    assert names.index("postmortems.action_item_reminders") < names.index("postmortems.ticket_sync")
