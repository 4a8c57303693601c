"""The command post in a real Chromium: declare through the form, a live IC handover seen by another
browser without reload, Ops ticking a Mitigate step, a status-page publication on /status, CSRF refusals."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.incidents.models import Incident, TimelineEntry


def _count(server, model) -> int:
    with Session(server.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_declare_handover_live_mitigate_and_status(login, server, browser, shot):
    yuta = login("yuta")
    yuta.goto("/declare")
    yuta.fill("input[name=title]", "Payment webhooks piling up")
    yuta.check("input[name=severity][value=SEV2]")
    yuta.select_option("select[name=service]", "payment-platform")
    shot(yuta, "declare")
    yuta.click("button:has-text('Declare')")
    yuta.wait_for_url(re.compile(r".*/incidents/INC-1$"))
    expect(yuta.locator("h1")).to_have_text("Payment webhooks piling up")
    expect(yuta.locator(".ihead .ic")).to_have_text("@yuta")
    expect(yuta.locator(".timeline")).to_contain_text("INC-1 declared SEV2 on payment-platform by @yuta")

    # the page is never reloaded from here on: a marker on window would vanish with a reload
    yuta.evaluate("window.__stayed = true")
    yuta.select_option("form.attach-form select[name=slug]", "payment-webhook-backlog")
    yuta.click("form.attach-form button")
    expect(yuta.locator(".checklist [data-runbook=payment-webhook-backlog]")).to_be_visible()
    yuta.select_option("form.offer-form select[name=role]", "ic")
    yuta.select_option("form.offer-form select[name=person]", "hana")
    yuta.click("form.offer-form button")
    expect(yuta.locator(".timeline")).to_contain_text("IC offered to @hana by @yuta")

    hana = login("hana")
    hana.goto("/incidents/INC-1")
    accept = hana.locator("button.accept")
    expect(accept).to_have_text("Accept IC")
    expect(yuta.locator("button.accept")).to_have_count(0)  # only the person offered sees Accept
    accept.click()

    # the first browser sees the handover without reloading: timeline, header and roles
    expect(yuta.locator(".timeline .entry").first).to_contain_text("@hana accepted IC from @yuta")
    expect(yuta.locator(".ihead .ic")).to_have_text("@hana")
    expect(yuta.locator(".roles tr[data-role=ic] .holder")).to_contain_text("@hana")
    assert yuta.evaluate("window.__stayed") is True

    # Ops is the IC's by default, so @hana ticks the first Mitigate step; @yuta is refused
    first = hana.locator(".checklist li.step[data-step^='3.1-']")
    first.locator("button.tick").click()
    expect(hana.locator(".checklist li.step.done[data-step^='3.1-']")).to_be_visible()
    expect(hana.locator(".timeline")).to_contain_text("step 3.1")
    expect(yuta.locator(".checklist li.step.done[data-step^='3.1-']")).to_be_visible()
    yuta.locator(".checklist li.step[data-step^='3.2-'] button.tick").click()
    expect(yuta.locator("#flash")).to_contain_text("only the Ops holder")
    expect(yuta.locator(".checklist .caution").first).to_contain_text("must never do")

    # the Verify evidence beside the status control follows the checklist live
    evidence = yuta.locator(".actions [data-live=evidence]")
    expect(evidence).to_contain_text("no verification recorded yet")
    hana.locator(".checklist li.step[data-step^='4.1-'] button.tick").click()
    expect(evidence.locator("li.done[data-step^='4.1-']")).to_contain_text("done by @hana")
    expect(evidence).not_to_contain_text("no verification recorded yet")

    hana.select_option("form.comms-form select[name=audience]", "external")
    hana.fill("form.comms-form textarea[name=body]", "Card payments are delayed; no charge is lost.")
    hana.click("form.comms-form button")
    expect(hana.locator(".timeline .entry.k-comms").first).to_contain_text("no charge is lost")

    public = browser.new_context(base_url=server.url).new_page()
    public.goto("/status")
    expect(public.locator(".overall")).to_have_text("All systems operational")  # comms are not publishing
    hana.fill("form.publish-form input[name=title]", "Delayed card payments")
    hana.select_option("form.publish-form select[name=state]", "identified")
    hana.select_option(
        "form.publish-form select[data-service=payment-platform]", "payment-platform=partial_outage"
    )
    hana.fill("form.publish-form textarea[name=message]", "Card payments are delayed; no charge is lost.")
    hana.click("form.publish-form button")
    expect(hana.locator("[data-live=status-page] .public-state")).to_have_text("identified")
    shot(hana, "incident")

    public.goto("/status")
    expect(public.locator(".public-incident h3")).to_have_text("Delayed card payments")
    expect(public.locator(".update").first).to_contain_text("Card payments are delayed; no charge is lost.")
    expect(public.locator(".component[data-service=payment-platform] .state")).to_have_text("Partial outage")
    shot(public, "status")
    feed = public.request.get("/status/feed.atom")
    assert feed.ok and "no charge is lost" in feed.text()
    public.context.close()


def test_csrf_less_posts_are_refused(login, server):
    yuta = login("yuta")
    before = _count(server, Incident)
    refused = yuta.request.post("/declare", form={"title": "forged", "severity": "SEV1"})
    assert refused.status == 403 and "CSRF" in refused.text()
    wrong = yuta.request.post(
        "/declare", form={"title": "forged", "severity": "SEV1", "csrf_token": "x" * 43}
    )
    assert wrong.status == 403
    # a form built by another page's script, without the token, is refused the same way
    yuta.goto("/incidents")
    yuta.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/declare';
        const t = document.createElement('input'); t.name = 'title'; t.value = 'forged'; f.appendChild(t);
        document.body.appendChild(f); f.submit(); }"""
    )
    expect(yuta.locator(".error-page")).to_contain_text("CSRF")
    assert _count(server, Incident) == before
    entries = _count(server, TimelineEntry)
    logout = yuta.request.post("/logout", form={})
    assert logout.status == 403 and _count(server, TimelineEntry) == entries
