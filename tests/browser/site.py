"""Every page of the web UI, for the tests that walk them all (the phone layout, accessibility): a small
seeded history (test_web_pages.seed), a live incident with the long strings people paste, and a one-tap
page link; the logged-in pages and the public ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.drills import service as drills_service
from commandpost.incidents import comms, roles, service, timeline
from commandpost.notify.models import OutgoingMessage
from commandpost.paging import page_test
from commandpost.runbooks import service as runbook_service
from commandpost.security import links
from commandpost.security.links import LinkSigner
from commandpost.settings import Settings
from tests.browser.test_web_pages import PAGES, seed

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
# unbroken strings as long as people paste them (a dashboard URL, an exception name)
LONG_URL = "https://grafana.example.com/d/payments?orgId=1&var-consumer=" + "payment_webhook_consumer_" * 4
LONG_WORD = "PaymentWebhookConsumerCrashLoopBackOff" * 2


@dataclass(frozen=True)
class Site:
    incident: str  # the live incident (INC-3)
    page_link: str  # a one-tap page link (/a/<token>)
    pages: list[str]  # seen logged in
    public: list[str]  # seen without logging in


def every_page(server: Any, db_url: str) -> Site:
    """Seeds the history and the live incident; every page of test_web_pages (a resolved incident's
    has the "Practise it" form), plus the live incident, a drill, Declare, a filtered board and the
    404 page, and the public pages (login, status, the page link)."""
    seed(server)
    incident, page_link = open_incident(server, db_url)
    pages = [path for path, _name, _selector in PAGES]
    pages += [incident, drill(server), "/declare", "/action-items?owner=hana", "/incidents/INC-404"]
    return Site(incident, page_link, pages, ["/login", "/status", page_link])


def drill(server: Any) -> str:
    """INC-4: a drill of the resolved INC-2, as "Practise it" starts one (docs/drills.md)."""
    with transaction(make_session_factory(server.engine)) as session:
        started = drills_service.start(
            session, source="INC-2", game_master="yuta", trainee="hana", speed=10, now=SystemClock().now()
        )
        return f"/incidents/INC-{drills_service.view(session, started).incident.number}"


def open_incident(server: Any, db_url: str) -> tuple[str, str]:
    """INC-3, live, as a phone sees it mid-incident: a runbook, roles offered, comms, and the
    unbroken strings people paste (URLs, keys) in its title, entries and updates. Returns the
    path of a one-tap page link (a test page to @yuta) too."""
    sessions = make_session_factory(server.engine)
    now = SystemClock().now() - timedelta(minutes=30)
    with transaction(sessions) as session:
        config = service.config_of(session)
        incident = service.declare(
            session,
            title=f"Consumer stuck: {LONG_WORD}",
            severity="SEV2",
            service="payment-platform",
            actor="yuta",
            now=now,
        )
        runbook_service.attach(session, incident=incident, slug="payment-webhook-backlog", by="yuta", now=now)
        service.add_entry(
            session, incident=incident, kind="note", text=f"dashboard: {LONG_URL}", actor="yuta", now=now
        )
        service.add_entry(
            session, incident=incident, kind="decision", text="roll back the consumer", actor="yuta", now=now
        )
        roles.offer(
            session,
            incident=incident,
            role="comms",
            person="hana",
            actor="yuta",
            is_admin=True,
            config=config,
            now=now,
        )
        comms.post(
            session,
            incident=incident,
            kind="initial",
            audience="internal",
            body=f"Webhooks are delayed. Follow {LONG_URL}",
            actor="yuta",
            config=config,
            now=now,
        )
        service.change_status(
            session,
            incident=timeline.incident(session, number=3, for_update=True),
            status="identified",
            actor="yuta",
            now=now + timedelta(minutes=5),
        )
        page_test.send(session, config=config, person="yuta", by="yuta", now=now)
    with transaction(sessions) as session:
        message = session.scalars(
            select(OutgoingMessage).where(OutgoingMessage.key.startswith("test/"))
        ).first()
        assert message is not None
        signer = LinkSigner(links.key(session, Settings(database_url=db_url)))
        token = signer.token(
            action="escalate",
            message_id=message.id,
            person="yuta",
            incident_id=None,
            expires_at=SystemClock().now() + timedelta(hours=1),
        )
    return "/incidents/INC-3", f"/a/{token}"
