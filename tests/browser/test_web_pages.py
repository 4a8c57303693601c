"""Every page in Chromium over a small seeded history, with a screenshot of each (docs/web.md shows them)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import comms, publish, service, timeline
from commandpost.postmortems import actions
from commandpost.postmortems import service as pm_service
from commandpost.runbooks import service as runbook_service


def seed(server) -> None:
    """Two resolved SEV2 incidents that ran the runbook (published to the status page, resolved there too),
    and a postmortem with an action item."""
    sessions = make_session_factory(server.engine)
    now = SystemClock().now() - timedelta(hours=3)
    for n, title in enumerate(("Payment webhooks piling up", "Webhook consumer crash loop"), start=1):
        with transaction(sessions) as session:
            config = service.config_of(session)
            incident = service.declare(
                session, title=title, severity="SEV2", service="payment-platform", actor="yuta", now=now
            )
            runbook_service.attach(
                session, incident=incident, slug="payment-webhook-backlog", by="yuta", now=now
            )
            for step in ("3.1", "3.3"):
                runbook_service.mark_step(
                    session,
                    incident=incident,
                    slug="payment-webhook-backlog",
                    step_ref=step,
                    state="done",
                    by="yuta",
                    now=now,
                )
            comms.post(
                session,
                incident=incident,
                kind="initial",
                audience="external",
                body=f"{title}: we are on it.",
                actor="yuta",
                config=config,
                now=now,
            )
            public = {"title": f"Public: {title}", "actor": "yuta", "config": config, "now": now}
            publish.publish(
                session,
                incident=incident,
                message=f"{title}: we are on it.",
                services={"payment-platform": "partial_outage"},
                **public,
            )
            publish.publish(session, incident=incident, message="Resolved.", state="resolved", **public)
            for status in ("mitigated", "resolved"):
                now += timedelta(minutes=20)
                service.change_status(
                    session,
                    incident=timeline.incident(session, number=n, for_update=True),
                    status=status,
                    actor="yuta",
                    now=now,
                )
    with transaction(sessions) as session:
        pm = pm_service.start(session, number=1, actor="yuta", now=now)
        incident, pm = pm_service.find(session, number=1)
        pm_service.edit(
            session,
            number=1,
            actor="yuta",
            now=now,
            sections={"went_poorly": "Hana forgot to scale the consumer."},
        )
        actions.add(
            session,
            pm=pm,
            incident=incident,
            title="Add queue-depth auto-scaling to the webhook consumer",
            type="prevent",
            owner="hana",
            due=(now + timedelta(days=14)).date(),
            ticket="OPS-123",
            verification="reproduce the backlog in a failure drill and confirm the consumer scales out",
            actor="yuta",
            now=now,
        )


# pages whose full length is mostly repetition get a viewport-sized screenshot
PARTIAL = {"settings-revision", "runbook", "incident-resolved", "postmortem", "status-seeded"}
PAGES = [
    ("/incidents", "incidents", "table.incidents"),
    ("/incidents/INC-1", "incident-resolved", ".timeline .entry"),
    ("/oncall", "oncall", "table.calendar"),
    ("/oncall?view=month", "oncall-month", "table.calendar"),
    ("/runbooks", "runbooks", "table.runbooks"),
    ("/runbooks/payment-webhook-backlog", "runbook", ".rendered-runbook"),
    ("/runbooks/coverage", "runbook-coverage", ".coverage"),
    ("/postmortems", "postmortems", "main table"),
    ("/postmortems/INC-1", "postmortem", ".section-editor"),
    ("/action-items", "action-items", "table.items"),
    ("/insights", "metrics", ".chart svg"),
    ("/settings", "settings", "main table"),
    ("/settings/users", "settings-users", "main table"),
    ("/settings/revisions/1", "settings-revision", "main"),
    ("/status", "status-seeded", ".components"),
]


def test_every_page_renders_in_chromium(browser, login, server, shot):
    seed(server)
    anonymous = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800})
    page = anonymous.new_page()
    page.goto("/incidents")
    expect(page).to_have_url(f"{server.url}/login?next=/incidents")
    shot(page, "login")
    anonymous.close()

    yuta = login("yuta")
    errors: list[str] = []
    yuta.on("pageerror", lambda error: errors.append(str(error)))
    for path, name, selector in PAGES:
        response = yuta.goto(path, timeout=60_000)  # the metrics page draws seven charts on first load
        assert response is not None and response.status == 200, (path, response and response.status)
        expect(yuta.locator(selector).first).to_be_visible()
        shot(yuta, name, full_page=name not in PARTIAL)
    assert errors == []  # no JavaScript error on any page

    yuta.goto("/insights", timeout=60_000)
    toil = yuta.locator("[data-chart=toil] svg")
    expect(toil).to_have_attribute("aria-label", "Steps with a command done by hand")
    expect(toil).to_contain_text("payment-webhook-backlog 3.1")

    for label in ("MTTA (median)", "MTTR (median)", "Error budget remaining", "Pages per person per week"):
        expect(yuta.locator(f"svg[aria-label='{label}']")).to_have_count(1)
    expect(yuta.locator("svg[aria-label='MTTR (median)']")).to_contain_text("SEV2")
    expect(yuta.locator("[data-chart=slos]")).to_contain_text("payment-platform/availability")

    yuta.goto("/postmortems/INC-1")
    expect(yuta.locator(".blame").first).to_contain_text("Hana forgot")
    expect(yuta.locator("table.items")).to_contain_text("OPS-123")
