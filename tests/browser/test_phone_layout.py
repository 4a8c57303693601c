"""Every page on a phone (390×844) and a laptop (1366×768) in Chromium (issue 18, item 1): the page
never scrolls sideways — a failure names the page and the element sticking out furthest — the nav
folds behind a Menu button on the phone (which opens without JavaScript) and the timeline's text
gets the whole width of the phone's screen."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.site import LAPTOP, PHONE, every_page

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


def screen_name(path: str, viewport: dict[str, int]) -> str:
    """The gallery's file for ``path`` at ``viewport`` (docs/web.md): ``pages/phone-incidents-INC-3``."""
    size = "phone" if viewport == PHONE else "laptop"
    page = "page-link" if path.startswith("/a/") else re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    return f"pages/{size}-{page or 'home'}"


def sideways(page: Any, path: str, viewport: dict[str, int], shot: Any) -> str | None:
    """None when ``path`` fits ``viewport``; else what sticks out, to name in the failure. Each
    screen is kept (its first screenful) for the gallery in docs/web.md."""
    page.set_viewport_size(viewport)
    response = page.goto(path, timeout=60_000)  # the metrics page draws its charts on first load
    expected = 404 if path.endswith("INC-404") else 200
    assert response is not None and response.status == expected, (path, response and response.status)
    found = page.evaluate(WIDEST)
    shot(page, screen_name(path, viewport), full_page=False)
    assert found["inner"] == viewport["width"]
    if found["scroll"] <= found["client"]:
        return None
    by = found["scroll"] - found["client"]
    return f"{path} at {viewport['width']} px scrolls sideways by {by} px: {found['widest']}"


def test_no_page_scrolls_sideways_on_a_phone_or_a_laptop(browser, login, server, shot, db_url):
    """Every page of test_web_pages, plus a live incident, Declare, a filtered board, the 404 page and
    the public ones (login, status, a one-tap page link), each at both sizes."""
    site = every_page(server, db_url)
    incident, pages, public = site.incident, site.pages, site.public
    yuta = login("yuta")
    anonymous = browser.new_context(base_url=server.url).new_page()

    problems: list[str] = []
    for viewport in (PHONE, LAPTOP):
        problems += [p for path in pages if (p := sideways(yuta, path, viewport, shot))]
        problems += [p for path in public if (p := sideways(anonymous, path, viewport, shot))]
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
