"""A day of paging on the example ops folder, on both databases, with a frozen clock driven to every
due time: rotations (the Monday 10:00 JST handoff), an override, pages, escalations, acks, a
resolve mid-chain, a severity raise, a hand escalation and a SEV3 deferred to business hours —
and the exact list of messages it queues (who, channel, when, which level)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.oncall import service as oncall_service
from tests.paging_support import (
    ack,
    act,
    apply,
    escalate,
    expand,
    open_alert,
    outbox,
    page_entries,
    processor,
    resolve,
    run_until,
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


# 2026-06-29 01:00 UTC is Monday 10:00 JST: primary yuta → hana, secondary hana → ken.
SCRIPT_START = at(28, 12)
SCRIPT_END = at(29, 12)


def test_a_day_of_rotations_overrides_pages_escalations_and_acks(sessions, session, clock):
    clock.set(at(28, 11))
    config = apply(sessions, clock)
    esc = processor()

    def step(when: datetime, fn) -> object:  # type: ignore[no-untyped-def]
        run_until(sessions, clock, when, esc)
        return act(sessions, fn(when))

    # INC-1 SEV2 (Sunday 21:00 JST): primary yuta, no ack for 15m → secondary hana; acked at +20m.
    step(
        at(28, 12),
        lambda t: lambda s: open_alert(s, severity="SEV2", title="Webhook backlog", now=t, group="a"),
    )
    step(at(28, 12, 20), lambda t: ack(1, "hana", t))
    # INC-2 SEV3 declared on Sunday 22:00 JST: the channel hears at Monday 09:00 JST (business hours).
    step(
        at(28, 13),
        lambda t: (
            lambda s: incidents_service.declare(
                s, title="CSV export slow", severity="SEV3", actor="mei", now=t, service="payment-platform"
            )
        ),
    )
    # ken covers the primary 18:00–20:00 UTC.
    step(
        at(28, 17),
        lambda t: (
            lambda s: oncall_service.add_override(
                s,
                config=config,
                schedule="payment-platform",
                layer="primary",
                person="ken",
                start=at(28, 18),
                end=at(28, 20),
                actor="yuta",
                now=t,
            )
        ),
    )
    # INC-3 SEV1 during the override: FYI to sato, page ken; ken acks within 3 minutes.
    step(
        at(28, 18, 30),
        lambda t: lambda s: open_alert(s, severity="SEV1", title="DB exhausted", now=t, group="b"),
    )
    step(at(28, 18, 33), lambda t: ack(3, "ken", t))
    # INC-4 SEV1: page ken; resolved at +3m, before the 5m escalation.
    step(at(28, 19), lambda t: lambda s: open_alert(s, severity="SEV1", title="DB again", now=t, group="c"))
    step(at(28, 19, 3), lambda t: resolve(4, "ken", t))
    # INC-5 SEV2 ten minutes before the handoff: primary yuta, then secondary of the *new* week: ken.
    step(
        at(29, 0, 50), lambda t: lambda s: open_alert(s, severity="SEV2", title="Receipts", now=t, group="d")
    )
    step(at(29, 1, 10), lambda t: ack(5, "ken", t))
    # INC-6 SEV2 → raised to SEV1 after 10m: the SEV1 chain starts over (FYI, primary), then both.
    step(at(29, 3), lambda t: lambda s: open_alert(s, severity="SEV2", title="Charges", now=t, group="f"))
    step(
        at(29, 3, 10),
        lambda t: (
            lambda s: incidents_service.change_severity(
                s,
                incident=timeline.incident(s, number=6, for_update=True),
                severity="SEV1",
                reason="double charges",
                actor="hana",
                now=t,
            )
        ),
    )
    step(at(29, 3, 20), lambda t: ack(6, "hana", t))
    # INC-7 SEV2: hana acks, then escalates by hand ("when in doubt, escalate"): ken now, nothing after.
    step(at(29, 6), lambda t: lambda s: open_alert(s, severity="SEV2", title="Refunds", now=t, group="g"))
    step(at(29, 6, 2), lambda t: ack(7, "hana", t))
    step(at(29, 6, 4), lambda t: escalate(7, "hana", t))
    run_until(sessions, clock, SCRIPT_END, esc)

    expected = sorted(
        [
            *expand(at(28, 12), "INC-1", "page", 1, "yuta"),
            *expand(at(28, 12, 15), "INC-1", "page", 2, "hana"),
            *expand(at(29, 0), "INC-2", "fyi", None, "#payments"),
            *expand(at(28, 18, 30), "INC-3", "fyi", None, "sato"),
            *expand(at(28, 18, 30), "INC-3", "page", 1, "ken"),
            *expand(at(28, 19), "INC-4", "fyi", None, "sato"),
            *expand(at(28, 19), "INC-4", "page", 1, "ken"),
            *expand(at(29, 0, 50), "INC-5", "page", 1, "yuta"),
            *expand(at(29, 1, 5), "INC-5", "page", 2, "ken"),
            *expand(at(29, 3), "INC-6", "page", 1, "hana"),
            *expand(at(29, 3, 10), "INC-6", "fyi", None, "sato"),
            *expand(at(29, 3, 10), "INC-6", "page", 1, "hana"),
            *expand(at(29, 3, 15), "INC-6", "page", 2, "ken", "yuta"),
            *expand(at(29, 6), "INC-7", "page", 1, "hana"),
            *expand(at(29, 6, 4), "INC-7", "page", 2, "ken"),
        ]
    )
    assert outbox(session) == expected

    # The timeline tells the same story, kind "page".
    assert page_entries(session, 1) == [
        "INC-1: SEV2 paged level 1 of 2: @yuta (primary_oncall) via slack, email, push, console. "
        "Next: secondary_oncall at 21:15 JST unless acknowledged",
        "INC-1: SEV2 paged level 2 of 2: @hana (secondary_oncall) via slack, email, push, console. "
        "This is the last level: nobody else is paged unless someone escalates by hand",
    ]
    assert page_entries(session, 3)[-1] == (
        "INC-3 acknowledged at 03:33 JST: escalation stopped (secondary_oncall, team_lead not paged)"
    )
    assert page_entries(session, 2) == [
        "INC-2: SEV3 pages nobody; oncall_channel will hear at Mon 2026-06-29 09:00 JST, "
        "when business hours start",
        "INC-2: SEV3 FYI (no ack needed) to #payments (oncall_channel) via slack, console",
    ]
    assert page_entries(session, 7)[-1].startswith(
        "INC-7: escalated by @hana — SEV2 paged level 2 of 2: @ken"
    )


def test_every_page_says_severity_runbook_and_first_move_and_how_to_ack(sessions, session, clock):
    apply(sessions, clock)
    act(
        sessions,
        lambda s: open_alert(
            s,
            severity="SEV1",
            title="DB exhausted",
            now=clock.now(),
            group="x",
            runbook="db-connection-exhaustion",
        ),
    )
    act(sessions, lambda s: open_alert(s, severity="SEV2", title="Mystery", now=clock.now(), group="y"))
    run_until(sessions, clock, clock.now(), processor())
    session.rollback()
    from sqlalchemy import select

    from commandpost.notify.models import OutgoingMessage

    pages = {
        m.key.split("/")[1]: m
        for m in session.scalars(select(OutgoingMessage).where(OutgoingMessage.key.like("page/%")))
        if m.channel == "email"
    }
    runbooked = pages["incident=INC-1"]
    assert runbooked.subject == "[SEV1] INC-1 payment-platform: DB exhausted"
    lines = runbooked.body.splitlines()
    assert lines[0] == "[SEV1] INC-1 payment-platform: DB exhausted"
    assert "Runbook: https://runbooks.internal/db-connection-exhaustion" in lines
    assert any(line.startswith("First move: rate-limit the runaway caller") for line in lines)
    assert "Incident: https://commandpost.example/incidents/INC-1" in lines
    assert "Ack: commandpost ack INC-1 — or open https://commandpost.example/incidents/INC-1" in lines
    bare = pages["incident=INC-2"]
    assert bare.body.splitlines()[0].startswith("NO RUNBOOK — no runbook is linked")
    assert "NO RUNBOOK" in bare.subject
    assert runbooked.payload["runbook_url"] == "https://runbooks.internal/db-connection-exhaustion"
    assert bare.payload["no_runbook"] is True


def test_the_next_page_goes_to_whoever_is_on_call_at_that_instant(sessions, session, clock):
    """INC-1 opens before the Monday handoff and escalates after it: the secondary is the new one."""
    clock.set(at(29, 0, 55))
    apply(sessions, clock)
    act(sessions, lambda s: open_alert(s, severity="SEV1", title="DB", now=clock.now(), group="z"))
    run_until(sessions, clock, at(29, 1, 0) + timedelta(minutes=1), processor())
    assert outbox(session) == sorted(
        [
            *expand(at(29, 0, 55), "INC-1", "fyi", None, "sato"),
            *expand(at(29, 0, 55), "INC-1", "page", 1, "yuta"),
            *expand(at(29, 1, 0), "INC-1", "page", 2, "ken", "yuta"),
        ]
    )
