"""The metrics page in Chromium (issue 18, item 6), at a phone's width (390 px) and a laptop's
(1366 px): the charts fit without scrolling sideways and their smallest text stays readable, the
time range and service filters work from the form, each chart opens as a table, an overspent
error budget is named rather than drawn off the page, and axe-core finds no serious or critical
violation — with the tables open."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import service
from commandpost.web import charts
from tests.browser import axe
from tests.browser.conftest import PASSWORD
from tests.browser.site import LAPTOP, PHONE
from tests.browser.test_web_pages import seed

PATHS = ("/insights?days=90", "/insights?days=7&service=payment-platform", "/insights")
# each chart's right edge, and its smallest text's rendered size (SVG user units × the chart's scale)
GEOMETRY = """() => Array.from(document.querySelectorAll(".chart svg")).map((svg) => {
  const box = svg.getBoundingClientRect(), scale = box.width / svg.viewBox.baseVal.width;
  const sizes = Array.from(svg.querySelectorAll("text")).map((t) => Number(t.getAttribute("font-size")));
  return {label: svg.getAttribute("aria-label"), right: box.right, smallest: Math.min(...sizes) * scale};
})"""
# the page's own content (the nav and skip link are every page's, checked in test_accessibility)
SERIOUS_AXE = """async () => (await axe.run("main", {resultTypes: ["violations"]})).violations
  .filter((v) => v.impact === "serious" || v.impact === "critical")
  .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5)}`)"""


@pytest.fixture
def metrics(server) -> None:  # type: ignore[no-untyped-def]
    """The pages' small history, and a SEV1 on payment-platform 5 days ago that lasted 3 hours: its
    30-day availability budget (43 minutes) is overspent about 300 %."""
    seed(server)
    sessions = make_session_factory(server.engine)
    at = SystemClock().now() - timedelta(days=5)
    with transaction(sessions) as s:
        inc = service.declare(
            s,
            title="Every API answers 5xx",
            severity="SEV1",
            service="payment-platform",
            actor="yuta",
            now=at + timedelta(minutes=4),
            detected_at=at,
            page=False,
        )
        service.change_status(s, incident=inc, status="resolved", actor="yuta", now=at + timedelta(hours=3))


def logged_in(browser: Any, server: Any, viewport: dict[str, int]) -> Any:
    """@yuta's page; its context lets axe's script in past the CSP (the pages' own run under it
    in test_web_headers)."""
    context = browser.new_context(base_url=server.url, viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.fill("input[name=handle]", "yuta")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/incidents$"))
    return page


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1366px"])
def test_the_charts_fit_and_stay_readable(browser, server, metrics, shot, viewport):
    page = logged_in(browser, server, viewport)
    for path in PATHS:
        response = page.goto(path, timeout=60_000)
        assert response is not None and response.status == 200, path
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, "scrolls sideways", width)
        found = page.evaluate(GEOMETRY)
        assert len(found) == 6, found  # MTTA, MTTR, budget, load, noisy, toil
        for chart in found:
            assert chart["right"] <= viewport["width"], (path, chart)
            # 13 user units drawn at ≥ 11 px on the phone, and as written on a laptop
            assert 11 <= chart["smallest"] <= charts.FONT + 0.01, (path, chart)
    page.goto("/insights?days=90", timeout=60_000)
    shot(page, f"metrics-{viewport['width']}")
    page.context.close()


def test_the_filters_the_tables_and_the_off_scale_note(browser, server, metrics):
    page = logged_in(browser, server, LAPTOP)
    page.goto("/insights", timeout=60_000)
    expect(page.get_by_label("Time range")).to_have_value("30")
    expect(page.get_by_label("Service")).to_have_value("")
    page.get_by_label("Time range").select_option("7")
    page.get_by_label("Service").select_option("payment-platform")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/insights\?days=7&service=payment-platform$"))
    expect(page.locator(".hint").first).to_have_text("Showing the last 7 days for payment-platform.")
    expect(page.get_by_role("heading", name="MTTA — median per severity, by day")).to_be_visible()

    budget = page.locator("section", has=page.get_by_role("heading", name="Error budget burn-down (7 days)"))
    expect(budget.get_by_role("img", name="Error budget remaining")).to_be_visible()
    note = budget.locator("svg text", has_text="▼")
    expect(note).to_have_text(re.compile(r"^▼ payment-platform/availability: down to -\d{3} %$"))
    table = budget.get_by_role("table", name="Error budget remaining, % of budget left")
    expect(table).to_be_hidden()
    budget.get_by_text("as a table").click()
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Date", "payment-platform/availability", "payment-platform/charge-success"]
    )
    expect(table.get_by_role("row")).to_have_count(1 + 8)  # today and the 7 days before

    page.goto("/insights?days=14")
    expect(page.locator(".error-message")).to_have_text("days: '14' is not one of 7, 30, 90")
    page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1366px"])
def test_no_serious_or_critical_axe_violation_with_the_tables_open(browser, server, metrics, viewport):
    source = axe.source()
    page = logged_in(browser, server, viewport)
    problems: list[str] = []
    for path in PATHS:
        page.goto(path, timeout=60_000)
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        page.add_script_tag(content=source)
        problems += [f"{path}: {v}" for v in page.evaluate(SERIOUS_AXE)]
    assert not problems, "\n".join(problems)
    page.context.close()
