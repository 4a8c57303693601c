"""The incident page's first screen, server-side (issue 18, items 2 and 3; both DBs): what a responder
woken at 3 a.m. reads before scrolling — one Acknowledge (then who acked, when), who is on call and
what the escalation does next, the first move and the channel with copy buttons, the alert's source —
the Ack button on the list, destructive actions that ask first, no risky preselects, the role offer
list, the runbook page's rendering, the Markdown export on the web session, and every time in the
reader's own timezone with a date when not today; durations stop at resolve."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from commandpost.app import create_app
from commandpost.db.engine import transaction
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident, RoleOffer, TimelineEntry
from commandpost.security import service as security_service
from commandpost.security import users
from commandpost.settings import Settings
from commandpost.slack.models import SlackChannel
from commandpost.web.render import inline_code
from tests.alert_support import PAYLOADS, keys
from tests.api.test_web_auth import PASSWORD, csrf_of, login
from tests.api.test_web_pages import FETCH, declare, error_of
from tests.paging_support import apply, ops_variant, processor, run_until

GENERATOR = "http://prometheus.example:9090/graph?g0.expr=backlog%3E1000&g0.tab=1"
MOVE = "aws ecs update-service --cluster payments --service payment-webhook-consumer --desired-count 12"


@pytest.fixture
def people(sessions, applied_ops, clock):
    """hana (admin) and ken (responder) log in; mei is read-only (a read login)."""
    with sessions() as s:
        for handle, role in (("hana", "admin"), ("ken", "responder"), ("mei", "read")):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
        s.commit()


def as_person(client, handle: str) -> str:
    client.cookies.clear()
    assert login(client, handle).status_code == 303
    return csrf_of(client.get("/incidents").text)


def alert(client, sessions, generator: str = GENERATOR) -> None:
    """Alertmanager's own webhook (v4) for WebhookBacklogHigh: opens INC-1, SEV2, paging, unacked."""
    body = orjson.loads((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    body["alerts"][0]["generatorURL"] = generator
    r = client.post(
        f"/api/v1/intake/alertmanager/{keys(sessions)['alertmanager']}", content=orjson.dumps(body)
    )
    assert r.status_code == 202 and r.json()["incident"] == "INC-1", r.text


def header(page: str) -> str:
    """The live header: the first screen."""
    found = re.search(r'<div class="ihead[^"]*" data-live="header">(.*?)\n</div>', page, re.S)
    assert found, "no header"
    return found.group(1)


def fact(page: str, label: str) -> str:
    """The text of one fact of the first screen, tags stripped and whitespace folded."""
    found = re.search(
        rf"<dt>{re.escape(label)}(?: <small>.*?</small>)?</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S
    )
    assert found, f"no fact {label!r}"
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
    return text.replace("( ", "(").replace(" )", ")")


def test_the_first_screen_of_an_alert_opened_incident(client, sessions, people, clock):
    """One big Acknowledge, on call now (primary and secondary), the escalation's next step and when
    (in hana's zone, Asia/Tokyo), the first move with its command to copy, the channel to copy, the
    generatorURL; after the ack the button gives way to who acked and when — on the list too."""
    alert(client, sessions)
    run_until(sessions, clock, clock.now(), processor())  # level 1 pages the primary at once
    hana = as_person(client, "hana")
    page = client.get("/incidents/INC-1").text
    top = header(page)
    assert top.count("Acknowledge</button>") == 1 and page.count("Acknowledge</button>") == 1
    assert top.index("Acknowledge</button>") < top.index('class="facts first-screen"')  # above the facts
    assert "since detected" in top and 'data-since title="2026-06-24 12:00:00 JST">0s</time>' in top
    assert fact(top, "IC") == "nobody yet — acknowledge to become IC"
    assert fact(top, "On call now") == "primary @yuta · secondary @hana"
    assert fact(top, "Escalation") == "next: level 2/2 → @hana at 12:15 (in 15m)"
    assert fact(top, "First move") == f"scale out the consumer to drain the stagnation {MOVE} Copy"
    assert f'data-copy="{MOVE}"' in top and "`" not in fact(top, "First move")
    channel = "#inc-2026-06-24-payment-webhook-backlog-1500-1000"
    assert fact(top, "Command post") == f"{channel} Copy" and f'data-copy="{channel}"' in top
    assert "slack.com" not in top  # Slack is not configured: the name to copy, no link
    assert fact(top, "Source") == "Prometheus ↗"
    assert f'href="{html.escape(GENERATOR)}" rel="noopener noreferrer" target="_blank"' in top

    board = client.get("/incidents").text
    assert 'action="/incidents/INC-1/ack" class="inline ack-row"' in board and ">Ack</button>" in board

    clock.advance(timedelta(minutes=3))
    r = client.post("/incidents/INC-1/ack", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 200 and r.json()["message"] == "acknowledged"
    top = header(client.get("/incidents/INC-1").text)
    assert "Acknowledge</button>" not in top
    assert re.search(r'<p class="acked">Acknowledged by @hana <time [^>]*>12:03</time></p>', top)
    assert fact(top, "IC") == "@hana" and fact(top, "Escalation").startswith("stopped: acknowledged")
    assert "/incidents/INC-1/ack" not in client.get("/incidents").text
    # a second ack (another tab, a stale list) changes nothing on the page and says so in the timeline
    r = client.post("/incidents/INC-1/ack", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 200 and r.json()["message"] == "already acknowledged by @hana"
    assert "Acknowledged by @hana" in client.get("/incidents/INC-1").text
    with sessions() as s:
        texts = [e.text for e in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]
    assert texts[-1] == "INC-1 acknowledged by @hana (already acknowledged)"


def test_read_only_people_see_the_first_screen_without_the_button(client, sessions, people, clock):
    alert(client, sessions)
    as_person(client, "mei")
    top = header(client.get("/incidents/INC-1").text)
    assert "Acknowledge</button>" not in top and "not acknowledged yet" in top
    assert "ack-row" not in client.get("/incidents").text


@pytest.mark.parametrize(
    "generator",
    ["javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "//evil.example/x"],
)
def test_a_source_that_is_not_http_is_never_a_link(client, sessions, people, generator):
    """An alert's payload is input from outside: only an http(s) generatorURL becomes a link."""
    alert(client, sessions, generator)
    as_person(client, "hana")
    page = client.get("/incidents/INC-1").text
    assert "<dt>Source</dt>" not in page and "javascript:" not in page and "evil.example" not in page
    assert "<script>alert(1)" not in page


def test_slack_configured_links_the_channel_as_slack_named_it(engine, clock, sessions, people):
    """With a bot token the channel is a link that opens it in Slack (by its C… id once created);
    the name stays copyable."""
    settings = Settings(database_url=str(engine.url), engine_enabled=False, slack_bot_token="xoxb-test")
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, clock=clock, engine=engine, run_engine=False)) as client:
        csrf = as_person(client, "hana")
        declare(client, csrf)
        top = header(client.get("/incidents/INC-1").text)
        name = "inc-2026-06-24-payment-webhooks-piling-up"
        assert (
            f'<a href="https://slack.com/app_redirect?channel={name}" rel="noopener noreferrer">#{name}</a>'
            in top
        )
        with transaction(sessions) as s:
            incident = timeline.incident(s, number=1)
            s.add(
                SlackChannel(
                    incident_id=incident.id,
                    name=f"{name}-2",
                    channel_id="C0123ABCD",
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        top = header(client.get("/incidents/INC-1").text)
        assert (
            f'href="https://slack.com/app_redirect?channel=C0123ABCD" rel="noopener noreferrer">#{name}-2</a>'
            in top
        )
        assert f'data-copy="#{name}-2"' in top


def test_destructive_actions_ask_first_and_nothing_risky_is_preselected(client, sessions, people, clock):
    """Escalate now and a token's Revoke open a question first (a <details>, no script needed); the
    status control preselects the current status (submitting it is refused) and offers closed only
    once resolved."""
    alert(client, sessions)
    hana = as_person(client, "hana")
    page = client.get("/incidents/INC-1").text
    confirm = re.search(r'<details class="confirm">(.*?)</details>', page, re.S)
    assert confirm and '<summary class="button danger">Escalate now…</summary>' in confirm.group(1)
    assert "Page level 1/2 (@yuta) now, without waiting?" in confirm.group(1)
    assert 'action="/incidents/INC-1/escalate"' in confirm.group(1) and "Yes, escalate now" in confirm.group(
        1
    )
    assert page.count('action="/incidents/INC-1/escalate"') == 1

    select_ = re.search(r'<select name="status" required>(.*?)</select>', page, re.S)
    assert select_ is not None
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select_.group(1))
    assert options == [
        ("", " selected", "investigating (now)"),
        ("identified", "", "identified"),
        ("mitigated", "", "mitigated"),
        ("resolved", "", "resolved"),
    ]
    r = client.post("/incidents/INC-1/status", data={"status": "", "csrf_token": hana})
    assert r.status_code == 422 and "unknown status ''" in error_of(r.text)
    with sessions() as s:
        assert timeline.incident(s, number=1).status == "investigating"
    client.post("/incidents/INC-1/status", data={"status": "resolved", "csrf_token": hana}, headers=FETCH)
    select_ = re.search(
        r'<select name="status" required>(.*?)</select>', client.get("/incidents/INC-1").text, re.S
    )
    assert select_ is not None
    assert re.findall(r'<option value="([^"]*)"', select_.group(1)) == ["", "investigating", "closed"]
    assert "reopen (investigating)" in select_.group(1) and "resolved (now)" in select_.group(1)

    with transaction(sessions) as s:
        security_service.create_token(
            s, person="ken", scope="responder", name="deploy bot", now=clock.now(), people={"ken"}
        )
    settings = client.get("/settings").text
    revoke = re.search(
        r'<details class="confirm"><summary class="button">Revoke…</summary>(.*?)</details>', settings, re.S
    )
    assert revoke and "Revoke token 1 of @ken (deploy bot)?" in revoke.group(1)
    assert 'action="/settings/tokens/1/revoke"' in revoke.group(1) and "Yes, revoke it" in revoke.group(1)


def test_only_people_who_can_accept_are_offered_a_role_and_an_offer_can_be_withdrawn(
    client, sessions, people, clock
):
    """mei has a read login, sato only a read token: neither could accept, so neither is listed;
    ken (responder) and yuta (no credentials yet: may still be given some) are. hana withdraws her
    offer to ken."""
    with transaction(sessions) as s:
        security_service.create_token(s, person="sato", scope="read", now=clock.now(), people={"sato"})
    hana = as_person(client, "hana")
    declare(client, hana)
    page = client.get("/incidents/INC-1").text
    offer = re.search(r'<select name="person">(.*?)</select>', page, re.S)
    assert offer is not None
    assert re.findall(r'<option value="([^"]+)"', offer.group(1)) == ["yuta", "hana", "ken"]
    r = client.post(
        "/incidents/INC-1/roles/offer",
        data={"role": "comms", "person": "mei", "csrf_token": hana},
        headers=FETCH,
    )
    assert r.status_code == 422 and "read-only" in r.json()["error"]["message"]  # the same rule
    r = client.post(
        "/incidents/INC-1/roles/offer",
        data={"role": "comms", "person": "ken", "csrf_token": hana},
        headers=FETCH,
    )
    assert r.status_code == 200
    page = client.get("/incidents/INC-1").text
    assert 'action="/incidents/INC-1/roles/comms/withdraw"' in page and "Withdraw offer" in page
    r = client.post("/incidents/INC-1/roles/comms/withdraw", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 200 and r.json()["message"] == "offer withdrawn"
    assert "Withdraw offer" not in client.get("/incidents/INC-1").text
    with sessions() as s:
        assert [o.state for o in s.scalars(select(RoleOffer))] == ["withdrawn"]


def test_the_runbook_page_shows_code_as_code_and_each_command_once(client, people):
    """No raw backticks, no "First move: First move:", a step's command once (with Copy), a command
    in mid-sentence inline, URLs as links."""
    as_person(client, "hana")
    page = client.get("/runbooks/payment-webhook-backlog").text
    main = page[page.index("<main") :]
    assert "`" not in main and "First move: First move" not in main
    first = re.search(r'<div class="first-move">(.*?)</div>\s*</div>', main, re.S)
    assert (
        first
        and "<strong>First move:</strong> scale out the consumer to drain the stagnation" in first.group(1)
    )
    logs = "aws logs tail /ecs/payment-webhook-consumer --since 15m"
    assert main.count(logs) == 2  # the command block and its Copy button's data-copy, not the line too
    assert f"<code>{logs}" in main and f'data-copy="{logs}' in main
    assert (
        "Firing alert: <code>WebhookBacklogHigh</code> — SQS <code>ApproximateNumberOfMessagesVisible</code>"
        in main
    )
    assert '<pre class="cmd"><code>ApproximateNumberOfMessagesVisible</code></pre>' not in main
    assert '<a href="https://grafana.internal/d/payments/payment-webhooks" rel="noopener noreferrer">' in main
    assert "(never <code>aws sqs purge-queue</code>)" in main  # a caution's code too


@pytest.mark.parametrize(
    ("text", "command", "expected"),
    [
        ("Scale out: `kubectl scale --replicas=3`", "kubectl scale --replicas=3", "Scale out"),
        ("Run `a` then `b`", "b", "Run <code>a</code> then"),
        ("mid `x` sentence", "x", "mid <code>x</code> sentence"),
        (
            "`<script>alert(1)</script>` & <b>",
            None,
            "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> &amp; &lt;b&gt;",
        ),
        (
            'see https://x.example/a?b=1&c="2" now',
            None,
            (
                'see <a href="https://x.example/a?b=1&amp;c=" rel="noopener noreferrer">'
                "https://x.example/a?b=1&amp;c=</a>&#34;2&#34; now"
            ),
        ),
        ("javascript:alert(1) `ok`", None, "javascript:alert(1) <code>ok</code>"),
        ("unclosed `tick and \x00 NUL", None, "unclosed `tick and \x00 NUL"),
    ],
)
def test_runbook_lines_are_escaped_piece_by_piece(text, command, expected):
    assert str(inline_code(text, command)) == expected


def test_the_markdown_export_works_with_the_web_session(client, people):
    hana = as_person(client, "hana")
    declare(client, hana)
    page = client.get("/incidents/INC-1").text
    assert '<a class="export" href="/incidents/INC-1/timeline.md" download>Markdown</a>' in page
    r = client.get("/incidents/INC-1/timeline.md")
    assert r.status_code == 200 and r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.text.startswith("# INC-1: Payment webhooks piling up") and "## Timeline (Asia/Tokyo)" in r.text
    assert client.get("/incidents/INC-404/timeline.md").status_code == 404
    assert client.get("/incidents/INC-1%00/timeline.md").status_code == 422  # NUL: refused, not a 500
    client.cookies.clear()
    r = client.get("/incidents/INC-1/timeline.md", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/incidents/INC-1/timeline.md"


@pytest.fixture
def berlin(sessions, clock, tmp_path):
    """examples/ops with ken in Europe/Berlin (the org stays Asia/Tokyo); ken logs in as a responder."""

    def move(data):
        next(p for p in data["people"] if p["handle"] == "ken")["timezone"] = "Europe/Berlin"

    config = apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": move}))
    with transaction(sessions) as s:
        users.set_password(
            s, config=config, handle="ken", password=PASSWORD, role="responder", now=clock.now()
        )
    return config


def test_times_in_the_readers_zone_with_dates_and_durations_that_stop_at_resolve(
    client, sessions, berlin, clock
):
    """ken reads Berlin time (the org's in brackets in the tooltips); an entry not from his today
    carries its date; a resolved incident says how long it lasted, not how long since it began."""
    ken = as_person(client, "ken")
    declare(client, ken)  # 03:00 UTC: 05:00 in Berlin (CEST), 12:00 in Tokyo
    page = client.get("/incidents/INC-1").text
    assert re.search(
        r'<time datetime="2026-06-24T03:00:00\+00:00" '
        r'title="2026-06-24 05:00:00 CEST \[2026-06-24 12:00:00 JST\]">05:00:00</time>',
        page,
    )
    assert "Acknowledged by @ken <time" in page and ">05:00</time></p>" in page

    clock.advance(timedelta(days=1, hours=2))
    ken = as_person(client, "ken")  # a web session lasts 12 hours
    client.post(
        "/incidents/INC-1/entries", data={"kind": "note", "text": "still draining", "csrf_token": ken}
    )
    clock.advance(timedelta(minutes=1))
    client.post("/incidents/INC-1/status", data={"status": "resolved", "csrf_token": ken}, headers=FETCH)
    clock.advance(timedelta(days=10))
    as_person(client, "ken")
    page = client.get("/incidents/INC-1").text
    stamps = re.findall(r'data-id="\d+">\s*<time [^>]*>([^<]*)</time>', page)
    assert stamps[-1] == "Jun 24 05:00:00" and "Jun 25 07:00:00" in stamps  # none from today: all dated
    top = header(page)
    assert '<span class="age">lasted 1d 2h</span>' in top and "data-since" not in top
    assert "since detected" not in top and "On call now" not in top  # the resolved page is for reading
    clock.advance(timedelta(days=400))
    as_person(client, "ken")
    assert "2026 Jun 24 05:00:00" in client.get("/incidents/INC-1").text  # another year: the year too


def test_a_resolved_incident_carries_no_freeze_banner(client, sessions, applied_ops, auth, clock):
    """The budget is exhausted: an open incident of the service shows the freeze, a resolved one not."""
    from tests.api.test_metrics_api import EVENTS, _count

    with transaction(sessions) as s:
        from commandpost.metrics import slo

        slo.push(
            s,
            config=applied_ops,
            service="payment-platform",
            slo="availability",
            counts=[slo.Count("since", 0, 0, clock.now() - timedelta(days=4))],
            now=clock.now(),
        )
        users.set_password(
            s, config=applied_ops, handle="hana", password=PASSWORD, role="responder", now=clock.now()
        )
    pushed = client.post(
        EVENTS, json={"events": [_count(2, good=990)]}, headers=auth("responder", person="yuta")
    )
    assert pushed.status_code == 200, pushed.text
    hana = as_person(client, "hana")
    declare(client, hana)
    assert "SLO freeze: payment-platform has exhausted" in client.get("/incidents/INC-1").text
    client.post("/incidents/INC-1/status", data={"status": "resolved", "csrf_token": hana}, headers=FETCH)
    assert "SLO freeze" not in client.get("/incidents/INC-1").text
    with sessions() as s:
        assert s.scalar(select(Incident.status)) == "resolved"


def test_the_on_call_page_reads_and_takes_times_on_the_readers_clock(client, sessions, berlin):
    """ken (Berlin) types 10:00 into the override form: 10:00 Berlin (08:00 UTC) is stored, and the
    page shows it back as 10:00 and says whose clock it is."""
    from commandpost.oncall.models import Override

    ken = as_person(client, "ken")
    form = {"layer": "payment-platform/primary", "person": "ken", "csrf_token": ken}
    r = client.post(
        "/oncall/overrides",
        data={**form, "start": "2026-06-25T10:00", "end": "2026-06-25T18:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with sessions() as s:
        row = s.scalars(select(Override)).one()
        assert (row.starts_at.hour, row.ends_at.hour) == (8, 16)  # UTC
    page = client.get("/oncall").text
    assert "Times in Europe/Berlin." in page and "<td>06-25 10:00</td><td>06-25 18:00</td>" in page
