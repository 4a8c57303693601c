"""The public status page in a real Chromium (issue 18): it says only what a person published.

An unacknowledged SEV1 opened by an alert leaves /status "All systems operational" (as it is, with
no raw alert title, SEV or INC number); it changes when the IC publishes from the incident page,
each update with its own state; resolving prompts for the resolved update; a drill never shows.
"""

from __future__ import annotations

from playwright.sync_api import expect

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import service

ALERT_TITLE = "KubePodCrashLooping payments-api-7f9c (SEV1)"


def _alert_opened_sev1(server) -> None:
    with transaction(make_session_factory(server.engine)) as session:
        _incident, created = service.open_or_attach(
            session,
            service="payment-platform",
            severity="SEV1",
            title=ALERT_TITLE,
            group_key="crashloop",
            impact_started_at=None,
            detected_at=None,
            runbook=None,
            no_runbook=True,
            source_summary=ALERT_TITLE,
            now=SystemClock().now(),
        )
        assert created


def _drill(server) -> None:
    with transaction(make_session_factory(server.engine)) as session:
        service.declare(
            session,
            title="Game day: payments failover",
            severity="SEV1",
            service="payment-platform",
            actor="hana",
            now=SystemClock().now(),
            labels={"drill": "true"},
            page=False,
        )


def _operational(public) -> None:
    public.goto("/status")
    expect(public.locator(".overall")).to_have_text("All systems operational")
    expect(public.locator(".component[data-service=payment-platform] .state")).to_have_text("Operational")
    expect(public.locator(".empty")).to_have_text("No incidents reported in the last 7 days.")
    body = public.locator("body").inner_text()
    for internal in (ALERT_TITLE, "KubePodCrashLooping", "Game day", "INC-", "SEV1"):
        assert internal not in body


def test_status_changes_only_on_publish_and_a_drill_never_shows(browser, login, server, shot):
    _alert_opened_sev1(server)
    _drill(server)
    public = browser.new_context(base_url=server.url).new_page()
    public.set_default_timeout(10_000)
    _operational(public)  # an unacknowledged alert-opened SEV1 and a drill: nothing published
    assert public.request.get("/status/feed.json").json()["items"] == []

    hana = login("hana")
    hana.goto("/incidents/INC-2")  # the drill: no publish form, and it says why
    expect(hana.locator(".status-publish")).to_contain_text("never on the status page")
    expect(hana.locator("form.publish-form")).to_have_count(0)

    hana.goto("/incidents/INC-1")
    expect(hana.locator(".not-published")).to_be_visible()
    hana.click("button.ack-button")
    expect(hana.locator(".ihead .ic")).to_have_text("@hana")  # the first acker is IC: hers to publish
    _operational(public)  # acknowledged is not published either

    hana.fill("form.publish-form input[name=title]", "Card payments failing")
    hana.select_option(
        "form.publish-form select[data-service=payment-platform]", "payment-platform=major_outage"
    )
    hana.fill(
        "form.publish-form textarea[name=message]", "Card payments fail <b>for everyone</b>; we are on it."
    )
    hana.click("form.publish-form button")
    expect(hana.locator("[data-live=status-page] .public-state")).to_have_text("investigating")

    public.goto("/status")
    expect(public.locator(".overall")).to_have_text("Major outage")
    expect(public.locator(".component[data-service=payment-platform] .state")).to_have_text("Major outage")
    expect(public.locator(".public-incident h3")).to_have_text("Card payments failing")
    today = public.locator(".component[data-service=payment-platform] svg.uptime rect").last
    expect(today).to_have_attribute("data-state", "major_outage")  # the 90-day bars: today's
    expect(public.locator(".update-text")).to_have_text(
        "Card payments fail <b>for everyone</b>; we are on it."
    )
    expect(public.locator(".update-text b")).to_have_count(0)  # escaped text, not markup
    expect(public.locator(".empty")).to_have_count(0)
    assert ALERT_TITLE not in public.content() and "INC-1" not in public.content()

    # resolving prompts for the resolved update; the public page is unchanged until it is published
    hana.select_option(".actions form[action$='/status'] select[name=status]", "resolved")
    hana.click(".actions form[action$='/status'] button")
    expect(hana.locator("#flash")).to_contain_text("the status page still shows INC-1 as investigating")
    public.goto("/status")
    expect(public.locator(".overall")).to_have_text("Major outage")

    hana.reload()
    expect(hana.locator("[data-live=status-page] .resolve-prompt")).to_contain_text(
        "publish the resolved update"
    )
    expect(hana.locator("form.publish-form select[name=state]")).to_have_value("resolved")
    expect(hana.locator("form.publish-form select[data-service=payment-platform]")).to_have_value(
        "payment-platform=operational"
    )
    hana.fill("form.publish-form textarea[name=message]", "Card payments work again.")
    hana.click("form.publish-form button")
    expect(hana.locator("[data-live=status-page] .resolve-prompt")).to_have_count(0)

    public.goto("/status")
    expect(public.locator(".overall")).to_have_text("All systems operational")
    states = public.locator(".public-incident .update .update-state")
    expect(states).to_have_text(["Resolved", "Investigating"])  # each update keeps its own state
    shot(public, "status-published")
    assert "Game day" not in public.content()
    public.context.close()
