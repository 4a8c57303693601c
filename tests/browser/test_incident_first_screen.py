"""The incident page's first screen on a phone, in Chromium at 390×844 (issue 18, item 2): an
Alertmanager alert opens a SEV2 and pages the primary; the responder logs in on the phone and, without
scrolling, reads the SEV, the status, how long, the IC, who is on call (primary and secondary), the
escalation's next step and when, the first move, the command post channel and the alert's source —
and reaches Acknowledge in the first viewport. The ack replaces the button with "Acknowledged by
@hana HH:MM"; Copy puts the first move's command on the clipboard; the list's Ack acknowledges a row;
Escalate now asks before it pages."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
from playwright.sync_api import expect
from sqlalchemy import select

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import service as oncall_service
from commandpost.policy import service as policy_service
from tests.alert_support import PAYLOADS
from tests.browser.conftest import sign_in
from tests.browser.test_phone_layout import WIDEST
from tests.paging_support import processor

PHONE = {"width": 390, "height": 844}
GENERATOR = "http://prometheus.example:9090/graph?g0.expr=webhook_backlog%3E1000&g0.tab=1"
MOVE = "aws ecs update-service --cluster payments --service payment-webhook-consumer --desired-count 12"


def fire(server: Any, alertname: str, fingerprint: str) -> None:
    """Alertmanager's webhook (v4), as Alertmanager posts it, for one alert of payment-platform."""
    sessions = make_session_factory(server.engine)
    with sessions() as s:
        key = next(k.key for k in policy_service.list_integrations(s) if k.source == "alertmanager")
    body = orjson.loads((PAYLOADS / "alertmanager-0.25-firing.json").read_bytes())
    alert = body["alerts"][0]
    alert["labels"]["alertname"] = body["groupLabels"]["alertname"] = alertname
    alert["generatorURL"], alert["fingerprint"] = GENERATOR, fingerprint
    r = httpx.post(f"{server.url}/api/v1/intake/alertmanager/{key}", content=orjson.dumps(body), timeout=10)
    assert r.status_code == 202, r.text


def on_call_now(server: Any) -> tuple[str | None, str | None]:
    """Who the (week-shifted) rotation puts on primary and secondary right now."""
    sessions = make_session_factory(server.engine)
    with sessions() as s:
        config = policy_service.current_config(s)
        now = SystemClock().now()
        return tuple(  # type: ignore[return-value]
            oncall_service.who_is_on_call(s, config=config, schedule="payment-platform", layer=layer, at=now)
            for layer in ("primary", "secondary")
        )


def phone(browser: Any, server: Any, handle: str) -> Any:
    """A phone-sized page, logged in, allowed to write and read the clipboard."""
    context = browser.new_context(viewport=PHONE, base_url=server.url, has_touch=True, is_mobile=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    return sign_in(context.new_page(), handle)


def in_first_viewport(page: Any, selector: str) -> None:
    """Visible, and wholly inside the first 390×844 screen (the page is not scrolled)."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not rendered"
    assert page.evaluate("window.scrollY") == 0
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)


def test_the_first_phone_screen_acknowledge_and_copy(browser, server, shot):
    fire(server, "WebhookBacklogHigh", "7b571dabecb56201")
    fire(server, "DBConnectionsExhausted", "7b571dabecb56202")
    with transaction(make_session_factory(server.engine)) as s:
        processor().run(s, SystemClock().now())  # level 1 pages the primary at once
    primary, secondary = on_call_now(server)
    with make_session_factory(server.engine)() as s:
        paged = s.scalars(
            select(OutgoingMessage.person).where(OutgoingMessage.incident_id.is_not(None))
        ).all()
    assert primary in paged

    hana = phone(browser, server, "hana")
    hana.goto("/incidents/INC-1")
    expect(hana.locator(".ihead .sev")).to_have_text("SEV2")
    expect(hana.locator(".ihead .status")).to_have_text("investigating")
    expect(hana.locator(".ihead .age")).to_contain_text("since detected")
    expect(hana.locator(".first-screen .ic")).to_contain_text("nobody yet")
    expect(hana.locator(".first-screen .on-call")).to_have_text(
        f"primary @{primary} · secondary @{secondary}"
    )
    expect(hana.locator(".first-screen .next-step")).to_have_text(
        re.compile(rf"^next: level 2/2 → @{secondary} at \d\d:\d\d \(in 1[45]m\)$")
    )
    expect(hana.locator(".first-screen .first-move")).to_contain_text("scale out the consumer")
    expect(hana.locator("#first-move-command")).to_have_text(MOVE)
    expect(hana.locator(".first-screen .channel")).to_contain_text("#inc-")
    source = hana.locator(".first-screen .source a")
    expect(source).to_have_attribute("href", GENERATOR)
    ack = hana.get_by_role("button", name="Acknowledge", exact=True)
    for selector in (
        ".ihead .sev",
        ".ihead .status",
        ".ihead .age",
        ".first-screen .ic",
        ".first-screen .on-call",
        ".first-screen .next-step",
        ".first-screen .first-move",
        ".first-screen .channel",
        ".first-screen .source",
        "button.ack-button",
    ):
        in_first_viewport(hana, selector)
    wide = hana.evaluate(WIDEST)
    assert wide["scroll"] <= wide["client"], wide["widest"]  # nothing sideways
    shot(hana, "phone-incident-first-screen", full_page=False)

    # Copy: the first move's command on the clipboard
    hana.locator(".first-move button.copy").click()
    expect(hana.locator(".first-move button.copy")).to_have_text("Copied")
    assert hana.evaluate("navigator.clipboard.readText()") == MOVE
    hana.locator(".channel button.copy").click()
    channel = hana.locator(".first-screen .channel code").inner_text()
    assert hana.evaluate("navigator.clipboard.readText()") == channel

    # Acknowledge: the button gives way to who acked and when, without a reload
    hana.evaluate("window.__stayed = true")
    ack.click()
    expect(hana.locator(".ihead .acked")).to_have_text(re.compile(r"^Acknowledged by @hana \d\d:\d\d$"))
    expect(ack).to_have_count(0)
    expect(hana.locator(".first-screen .ic")).to_have_text("@hana")
    expect(hana.locator(".first-screen .next-step")).to_have_text(re.compile(r"^stopped: acknowledged"))
    in_first_viewport(hana, ".ihead .acked")
    assert hana.evaluate("window.__stayed") is True
    shot(hana, "phone-incident-acknowledged", full_page=False)

    # Escalate now asks first; only "Yes" pages
    hana.get_by_text("Escalate now…").click()
    confirm = hana.get_by_role("button", name="Yes, escalate now")
    expect(confirm).to_be_visible()
    expect(hana.locator(".confirm-body")).to_contain_text(f"Page level 2/2 (@{secondary}) now")
    confirm.click()
    expect(hana.locator("#flash")).to_contain_text("escalated")
    expect(confirm).to_be_hidden()  # the question closes once answered

    # the list: Ack on the unacknowledged row only; it acknowledges and the row loses its button
    hana.goto("/incidents")
    expect(hana.locator("tr[data-number=INC-1] button", has_text="Ack")).to_have_count(0)
    row_ack = hana.locator("tr[data-number=INC-2]").get_by_role("button", name="acknowledge INC-2")
    expect(row_ack).to_be_visible()
    row_ack.click()
    expect(hana.locator("tr[data-number=INC-2] .badges")).not_to_contain_text("unacknowledged")
    expect(row_ack).to_have_count(0)
    hana.goto("/incidents/INC-2")
    expect(hana.locator(".ihead .acked")).to_contain_text("Acknowledged by @hana")
    hana.context.close()
