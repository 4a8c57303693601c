"""Every page on a phone (390×844) and a laptop (1366×768) in Chromium (issue 18, item 1): the page
never scrolls sideways — a failure names the page and the element sticking out furthest — the nav
folds behind a Menu button on the phone (which opens without JavaScript) and the timeline's text
gets the whole width of the phone's screen."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import comms, roles, service, timeline
from commandpost.notify.models import OutgoingMessage
from commandpost.paging import page_test
from commandpost.runbooks import service as runbook_service
from commandpost.security import links
from commandpost.security.links import LinkSigner
from commandpost.settings import Settings
from tests.browser.conftest import PASSWORD
from tests.browser.test_web_pages import PAGES, seed

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
# unbroken strings as long as people paste them (a dashboard URL, an exception name)
LONG_URL = "https://grafana.example.com/d/payments?orgId=1&var-consumer=" + "payment_webhook_consumer_" * 4
LONG_WORD = "PaymentWebhookConsumerCrashLoopBackOff" * 2

# The page's width against the viewport, and what sticks out furthest (an element, or the text of
# one: a long word overflows its box without widening it), outermost first on a tie; anything inside
# a box that scrolls or clips it on screen does not count.
WIDEST = """() => {
  const root = document.documentElement, limit = root.clientWidth;
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const s = getComputedStyle(up);
      if (s.overflowX !== "visible" && up.getBoundingClientRect().right <= limit + 0.5) return true;
    }
    return false;
  };
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let worst = null, text = false, right = limit;
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const isText = node.nodeType === Node.TEXT_NODE;
    const el = isText ? node.parentElement : node;
    if (isText) range.selectNodeContents(node);
    const r = isText ? range.getBoundingClientRect() : node.getBoundingClientRect();
    if (r.width && r.right + window.scrollX > right + 0.5 && !clipped(isText ? node : el)) {
      worst = el; text = isText; right = r.right + window.scrollX;
    }
  }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    Array.from(el.classList).map((c) => "." + c).join("");
  if (!worst) return {scroll: root.scrollWidth, client: limit, inner: window.innerWidth, widest: "?"};
  const chain = [];
  for (let el = worst; el && el !== document.body && chain.length < 4; el = el.parentElement) {
    chain.unshift(name(el));
  }
  const words = (worst.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 60);
  const wide = Math.round(worst.getBoundingClientRect().width);
  const widest = `${chain.join(" > ")}${text ? "'s text" : ""} (${wide} px wide, reaching ` +
    `${Math.round(right)} px): "${words}"`;
  return {scroll: root.scrollWidth, client: limit, inner: window.innerWidth, widest};
}"""


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


def sideways(page: Any, path: str, viewport: dict[str, int]) -> str | None:
    """None when ``path`` fits ``viewport``; else what sticks out, to name in the failure."""
    page.set_viewport_size(viewport)
    response = page.goto(path, timeout=60_000)  # the metrics page draws its charts on first load
    expected = 404 if path.endswith("INC-404") else 200
    assert response is not None and response.status == expected, (path, response and response.status)
    found = page.evaluate(WIDEST)
    assert found["inner"] == viewport["width"]
    if found["scroll"] <= found["client"]:
        return None
    by = found["scroll"] - found["client"]
    return f"{path} at {viewport['width']} px scrolls sideways by {by} px: {found['widest']}"


def test_no_page_scrolls_sideways_on_a_phone_or_a_laptop(browser, login, server, shot, db_url):
    """Every page of test_web_pages, plus a live incident, Declare, a filtered board, the 404 page and
    the public ones (login, status, a one-tap page link), each at both sizes."""
    seed(server)
    incident, page_link = open_incident(server, db_url)
    pages = [path for path, _name, _selector in PAGES]
    pages += [incident, "/declare", "/action-items?owner=hana", "/incidents/INC-404"]
    yuta = login("yuta")
    anonymous = browser.new_context(base_url=server.url).new_page()
    public = ["/login", "/status", page_link]

    problems: list[str] = []
    for viewport in (PHONE, LAPTOP):
        problems += [p for path in pages if (p := sideways(yuta, path, viewport))]
        problems += [p for path in public if (p := sideways(anonymous, path, viewport))]
    assert not problems, "\n".join(problems)
    anonymous.context.close()

    # the timeline's text runs under the time, kind and author: the whole width of the list
    yuta.set_viewport_size(PHONE)
    yuta.goto(incident)
    widths = yuta.evaluate(
        """() => Array.from(document.querySelectorAll("#timeline, #timeline .entry .text"),
                            (el) => el.getBoundingClientRect().width)"""
    )
    assert widths[0] > 300 and len(widths) > 5
    assert min(widths[1:]) >= widths[0] - 8, widths
    yuta.evaluate("document.querySelector('.timeline-panel').scrollIntoView()")
    shot(yuta, "phone-incident", full_page=False)


def test_the_nav_folds_behind_a_menu_button_on_a_phone_without_javascript(browser, server, shot):
    """Script off (the <details> needs none): on a phone the links wait behind Menu; on a laptop they show."""
    context = browser.new_context(base_url=server.url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=handle]", "yuta")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/incidents$"))

    menu = page.locator(".menu > summary")
    nav_links = page.locator(".menu nav a")
    logout = page.get_by_role("button", name="Log out")
    expect(menu).to_be_visible()
    expect(menu).to_have_text("Menu")
    expect(nav_links).to_have_count(8)  # an admin sees Settings too
    for link in nav_links.all():
        expect(link).to_be_hidden()
    expect(logout).to_be_hidden()
    menu.click()
    for link in nav_links.all():
        expect(link).to_be_visible()
    expect(logout).to_be_visible()
    shot(page, "phone-menu", full_page=False)
    opened = page.evaluate(WIDEST)
    assert opened["scroll"] <= opened["client"], opened["widest"]  # the open menu fits the screen too
    page.get_by_role("link", name="On-call").click()
    page.wait_for_url(re.compile(r".*/oncall$"))
    expect(nav_links.first).to_be_hidden()  # a new page starts with the menu closed

    page.set_viewport_size(LAPTOP)
    expect(menu).to_be_hidden()
    for link in nav_links.all():
        expect(link).to_be_visible()
    expect(logout).to_be_visible()
    context.close()
