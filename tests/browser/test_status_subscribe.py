"""The status page's email subscription in a real Chromium (issue 18), mail through aiosmtpd.

A reader fills the form on /status and sees the same neutral answer for a new address and for one
already subscribed; the confirmation email's link, opened in the browser, only asks until its
button is pressed; then a published update reaches the address, and its unsubscribe link works
from the browser. The outbox is sent by the real NotificationSender to the real SMTP server the
integration test uses (its ``smtp`` fixture).
"""

# ruff: noqa: F811 (the smtp fixture imported from the integration test is an argument here)
from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import publish, service
from commandpost.incidents.models import StatusSubscriber
from commandpost.notify.channels import Channels
from commandpost.notify.sender import NotificationSender
from commandpost.policy import service as policy_service
from commandpost.settings import Settings
from commandpost.web.pages.status import SENT
from tests.integration.test_status_subscriptions import ADDRESS, Mailbox, _link, _text, smtp  # noqa: F401

NEUTRAL = SENT


@pytest.fixture
def deliver(server, db_url: str, smtp: tuple[Mailbox, int]) -> Iterator[Callable[[], list[Any]]]:  # type: ignore[no-untyped-def]
    """Send what the outbox holds now through aiosmtpd; returns the messages received since the last
    call. Links in them point at the browser's server (its public URL)."""
    settings = Settings(
        database_url=db_url,
        engine_enabled=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_from="status@example.org",
        public_url=server.url,
        outbound_allowlist=["127.0.0.1"],
    )
    sender = NotificationSender(
        settings, channels=Channels(settings, console_stream=io.StringIO()), owner="browser", rand=lambda: 0.5
    )
    sessions = make_session_factory(server.engine)
    seen = 0

    def run() -> list[Any]:
        nonlocal seen
        with sessions() as s:
            sender.run(s, SystemClock().now())
            s.commit()
        new, seen = smtp[0].messages[seen:], len(smtp[0].messages)
        return new

    yield run
    sender.close()


def _subscribe(page: Any, address: str) -> None:
    page.goto("/status")
    page.fill("form.subscribe-form input[name=email]", address)
    page.click("form.subscribe-form button[type=submit]")
    page.wait_for_url("**/status?subscribed=1#subscribe")
    expect(page.locator("#subscribe .notice")).to_have_text(NEUTRAL)
    expect(page.locator("#subscribe .error")).to_have_count(0)


def _subscribers(server) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    with make_session_factory(server.engine)() as s:
        rows = s.scalars(select(StatusSubscriber).order_by(StatusSubscriber.id)).all()
        return [(r.address, r.confirmed_at is not None) for r in rows]


def _publish_update(server) -> None:  # type: ignore[no-untyped-def]
    now = SystemClock().now()
    with transaction(make_session_factory(server.engine)) as session:
        incident = service.declare(
            session,
            title="Card payments slow",
            severity="SEV2",
            service="payment-platform",
            actor="hana",
            now=now,
            page=False,
        )
        publish.publish(
            session,
            incident=incident,
            title="Delayed card payments",
            message="Card payments are delayed; no charge is lost.",
            state="identified",
            services={"payment-platform": "partial_outage"},
            actor="hana",
            config=policy_service.current_config(session),
            now=now,
        )


def test_subscribe_confirm_receive_and_unsubscribe_in_the_browser(browser, server, deliver, smtp):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _subscribe(page, ADDRESS)
        [(rcpt, mail)] = deliver()
        assert rcpt == [ADDRESS] and mail["Subject"] == "Confirm your subscription to status updates"
        confirm = _link(mail, "Confirm")
        assert _subscribers(server) == [(ADDRESS, False)]

        page.goto(server.url + confirm)  # opening the link only asks
        expect(page.locator("h1")).to_have_text("Confirm your subscription?")
        assert _subscribers(server) == [(ADDRESS, False)]
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("h1")).to_have_text("Subscribed: you will receive status updates by email.")
        assert _subscribers(server) == [(ADDRESS, True)]

        _subscribe(page, ADDRESS)  # already subscribed: the very same answer, and no email
        assert deliver() == [] and _subscribers(server) == [(ADDRESS, True)]

        _publish_update(server)
        [(rcpt, update)] = deliver()
        assert rcpt == [ADDRESS] and update["Subject"] == "Identified: Delayed card payments"
        assert "Card payments are delayed; no charge is lost." in _text(update)
        assert "payment-platform: partial outage" in _text(update)
        page.goto("/status")
        expect(page.locator(".public-incident h3")).to_have_text("Delayed card payments")

        page.goto(server.url + _link(update, "Unsubscribe"))
        expect(page.locator("h1")).to_have_text("Unsubscribe from status updates?")
        assert _subscribers(server) == [(ADDRESS, True)]
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.locator("h1")).to_have_text("Unsubscribed: no more status emails will be sent to you.")
        assert _subscribers(server) == []
    finally:
        context.close()
