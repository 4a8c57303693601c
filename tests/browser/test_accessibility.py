"""Accessibility in Chromium (issue 18, item 4): axe-core finds no serious or critical violation on any
page at a phone's and a laptop's width, logged in and not; a skip link leads past the nav, so
Acknowledge is the incident page's second Tab stop; ``?`` lists the keyboard shortcuts, which act
(``g i``, ``g o``, ``a``) but never while typing in a field."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import service, timeline
from tests.browser import axe
from tests.browser.conftest import sign_in
from tests.browser.site import LAPTOP, PHONE, every_page

SERIOUS = ("serious", "critical")
# axe.run on the whole document; only what fails, of the impacts that block people
RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""
# form controls named only by a placeholder or a title (or not at all): a placeholder vanishes as
# soon as one types, and screen readers treat it as a hint
UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((el) => el.type !== "hidden" && el.type !== "submit" && el.type !== "button")
  .filter((el) => !el.labels.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
  .map((el) => el.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="session")
def axe_source() -> str:
    return axe.source()


def logged_in(browser: Any, server: Any, handle: str) -> Any:
    """A page logged in as ``handle`` whose context lets axe's script in past the pages' CSP."""
    context = browser.new_context(base_url=server.url, bypass_csp=True)
    return sign_in(context.new_page(), handle)


def violations(page: Any, source: str, path: str, viewport: dict[str, int]) -> list[str]:
    """The serious and critical violations axe finds on ``path``, a line each (rule, page, elements)."""
    page.set_viewport_size(viewport)
    response = page.goto(path, timeout=60_000)  # the metrics page draws its charts on first load
    expected = 404 if path.endswith("INC-404") else 200
    assert response is not None and response.status == expected, (path, response and response.status)
    page.add_script_tag(content=source)
    found = page.evaluate(RUN_AXE, list(SERIOUS))
    width = viewport["width"]
    unlabelled = [
        f"{path} at {width} px: a control without a label: {html}" for html in page.evaluate(UNLABELLED)
    ]
    return unlabelled + [
        f"{path} at {width} px: {v['impact']} {v['id']} ({v['help']}) on {len(v['targets'])}: "
        + ", ".join(v["targets"][:6])
        + (" …" if len(v["targets"]) > 6 else "")
        for v in found
    ]


def test_no_page_has_a_serious_or_critical_axe_violation(browser, server, db_url, axe_source):
    """Every page of the phone-layout walk, as the admin and without logging in, at both widths."""
    site = every_page(server, db_url)
    yuta = logged_in(browser, server, "yuta")
    anonymous = browser.new_context(base_url=server.url, bypass_csp=True).new_page()
    problems: list[str] = []
    for viewport in (PHONE, LAPTOP):
        for path in site.pages:
            problems += violations(yuta, axe_source, path, viewport)
        for path in site.public:
            problems += violations(anonymous, axe_source, path, viewport)
    yuta.context.close()
    anonymous.context.close()
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)


def declare(server: Any) -> str:
    """An open SEV2 nobody has acknowledged yet; its page."""
    sessions = make_session_factory(server.engine)
    with transaction(sessions) as session:
        service.declare(
            session,
            title="Checkout errors",
            severity="SEV2",
            service="payment-platform",
            actor="yuta",
            now=SystemClock().now(),
        )
    return "/incidents/INC-1"


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.textContent.trim()"))


def test_a_skip_link_then_acknowledge_within_three_tab_stops(browser, server):
    """On a phone and a laptop: Tab shows the skip link first, Enter skips the nav, the next Tab is on
    Acknowledge (two Tab presses)."""
    incident = declare(server)
    hana = logged_in(browser, server, "hana")
    for viewport in (PHONE, LAPTOP):
        hana.set_viewport_size(viewport)
        hana.goto(incident)
        skip = hana.get_by_role("link", name="Skip to content")
        expect(skip).not_to_be_in_viewport()
        hana.keyboard.press("Tab")
        assert focused(hana) == "Skip to content"
        expect(skip).to_be_in_viewport()
        hana.keyboard.press("Enter")
        assert hana.evaluate("document.activeElement.id") == "main"
        hana.keyboard.press("Tab")
        assert focused(hana) == "Acknowledge", viewport
    hana.context.close()


def test_question_mark_lists_the_shortcuts_which_act_but_not_while_typing(browser, server, axe_source, shot):
    incident = declare(server)
    hana = logged_in(browser, server, "hana")
    hana.set_viewport_size(LAPTOP)
    hana.goto(incident)
    shortcuts = hana.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_hidden()
    hana.keyboard.press("?")
    expect(shortcuts).to_be_visible()
    for listed in ("?", "a", "n", "g i", "g o", "Esc"):
        expect(shortcuts.locator("dt", has_text=re.compile(f"^{re.escape(listed)}$"))).to_have_count(1)
    hana.add_script_tag(content=axe_source)
    assert hana.evaluate(RUN_AXE, list(SERIOUS)) == []  # the open dialog too
    shot(hana, "shortcuts", full_page=False)
    hana.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    hana.get_by_role("button", name="Shortcuts").click()  # the same list, for a mouse
    expect(shortcuts).to_be_visible()
    shortcuts.get_by_role("button", name="Close").click()
    expect(shortcuts).to_be_hidden()

    # typed into a field, the keys are only text: no dialog, no ack, no navigation
    hana.keyboard.press("n")
    entry = hana.get_by_role("textbox", name="entry text")
    expect(entry).to_be_focused()
    hana.keyboard.type("a?go gi")
    expect(entry).to_have_value("a?go gi")
    expect(shortcuts).to_be_hidden()
    expect(hana.get_by_role("button", name="Acknowledge")).to_be_visible()
    expect(hana).to_have_url(f"{server.url}{incident}")

    hana.evaluate("document.activeElement.blur()")
    hana.keyboard.press("a")
    expect(hana.locator(".acked")).to_contain_text("Acknowledged by @hana")
    with transaction(make_session_factory(server.engine)) as session:
        assert timeline.incident(session, number=1).acknowledged_at is not None
    hana.keyboard.press("g")
    hana.keyboard.press("o")
    hana.wait_for_url(re.compile(r".*/oncall$"))
    hana.keyboard.press("g")
    hana.keyboard.press("i")
    hana.wait_for_url(re.compile(r".*/incidents$"))
    hana.keyboard.press("Control+g")  # the browser's own, with a modifier: not ours
    hana.keyboard.press("o")
    hana.wait_for_timeout(300)
    expect(hana).to_have_url(re.compile(r".*/incidents$"))
    hana.context.close()
