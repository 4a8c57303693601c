"""A drill started from the web (docs/drills.md) in a real Chromium: the "Practise it" form on a
resolved incident opens the drill incident, which says it is a drill; the original's page is as it
was, and the public status page never shows the drill."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_web_pages import seed

ORIGINAL = "/incidents/INC-1"  # resolved, published and resolved on /status (test_web_pages.seed)


def _as_seen(page) -> dict[str, str]:
    """What the original's page says of it: its head, its timeline, its status-page panel."""
    page.goto(ORIGINAL)
    return {
        part: page.locator(selector).first.inner_text()
        for part, selector in (("head", ".ihead"), ("timeline", "#timeline"), ("public", ".published"))
    }


def test_practise_it_opens_a_drill_that_leaves_the_original_and_the_status_page_alone(browser, login, server):
    seed(server)
    public = browser.new_context(base_url=server.url).new_page()
    public.set_default_timeout(10_000)
    public.goto("/status")
    status_before = public.locator("main").inner_text()
    feed_before = public.request.get("/status/feed.json").json()["items"]
    assert feed_before  # the original's public updates
    assert "Public: Payment webhooks piling up" in status_before  # the original is there, resolved

    hana = login("hana")
    before = _as_seen(hana)
    assert all(before.values()) and "piling up" in before["head"]
    form = hana.locator("section.drill-start")
    expect(form.get_by_role("heading", name="Practise it")).to_be_visible()
    form.get_by_label("Trainee").select_option("ken")
    form.get_by_label("Speed").fill("60")
    form.get_by_role("button", name="Start a drill").click()

    hana.wait_for_url(re.compile(r".*/incidents/INC-3$"))  # a new incident: the seed has INC-1 and INC-2
    expect(hana.locator("h1")).to_contain_text("[drill] Payment webhooks piling up")
    expect(hana.locator(".published")).to_contain_text(
        "A drill (label drill=true): never on the status page."
    )
    expect(hana.locator(".ihead .ic")).to_have_text("@ken")  # the trainee commands it
    expect(hana.locator("#timeline")).to_contain_text("drill of INC-1 at 60×")
    expect(hana.locator("section.drill-start")).to_have_count(0)  # no drill of a drill

    assert _as_seen(hana) == before  # the original's page is unchanged
    expect(hana.locator("section.drill-start")).to_have_count(1)  # and can be practised again

    public.goto("/status")
    status_after = public.locator("main").inner_text()
    assert "[drill]" not in status_after and "INC-3" not in status_after
    assert status_after == status_before
    assert public.request.get("/status/feed.json").json()["items"] == feed_before
    public.context.close()
