"""Shift swaps, covers and takes on both databases: who is on call changes for exactly the range
accepted, leads decide for their team, the overrides survive a rotation edit, both people are told,
and the handoff notice follows the swap."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.errors import Conflict, Forbidden, NotFound, ValidationFailed
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import service, swaps
from commandpost.oncall.models import Override, ShiftSwap
from commandpost.oncall.processors import HandoffNotices
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from tests.conftest import EXAMPLE_OPS

# Clock: Wed 2026-06-24 03:00 UTC. Primary: yuta until Mon 06-29 01:00 UTC, then hana; secondary: hana,
# then ken. Team payments (yuta, hana, ken, mei) is led by yuta; sato leads another team.
THU = datetime(2026, 6, 25, 0, 0, tzinfo=UTC)
NEXT_WEEK = datetime(2026, 6, 29, 1, 0, tzinfo=UTC)
PP = "payment-platform"


@pytest.fixture
def act(sessions: sessionmaker[Session], applied_ops: OpsConfig, clock: FrozenClock) -> Callable[..., Any]:
    """``act(swaps.accept, swap_id=1, actor="ken")``: one committed transaction, config and now given."""

    def run(verb: Callable[..., Any], **kw: Any) -> Any:
        with sessions() as s:
            out = verb(s, config=applied_ops, now=clock.now(), **kw)
            s.commit()
            return out.id if isinstance(out, ShiftSwap) else out

    return run


def who(
    sessions: sessionmaker[Session], config: OpsConfig, at: datetime, layer: str = "primary"
) -> str | None:
    with sessions() as s:
        return service.who_is_on_call(s, config=config, schedule=PP, layer=layer, at=at)


def swap_row(sessions: sessionmaker[Session], swap_id: int) -> ShiftSwap:
    with sessions() as s:
        row = s.get(ShiftSwap, swap_id)
        assert row is not None
        s.expunge(row)
        return row


def told(sessions: sessionmaker[Session], swap_id: int, event: str) -> set[str]:
    """Who got a message about the swap's ``event`` (on any channel)."""
    with sessions() as s:
        rows = s.scalars(
            select(OutgoingMessage).where(OutgoingMessage.key.like(f"swap/swap={swap_id}/event={event}/%"))
        ).all()
        return {r.person for r in rows if r.person}


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        swaps_n = s.scalar(select(func.count()).select_from(ShiftSwap)) or 0
        overrides_n = s.scalar(select(func.count()).select_from(Override)) or 0
        return swaps_n, overrides_n


def cover(
    act: Callable[..., Any], requester: str, target: str, start: datetime, end: datetime, **kw: Any
) -> int:
    return int(
        act(
            swaps.request_swap,
            schedule=PP,
            layer=kw.pop("layer", "primary"),
            requester=requester,
            target=target,
            start=start,
            end=end,
            **kw,
        )
    )


def test_cover_of_part_of_a_shift_changes_who_is_on_call_for_exactly_that_range(act, sessions, applied_ops):
    start, end = THU, THU + timedelta(hours=6)
    swap_id = cover(act, "yuta", "ken", start, end, note="dentist")
    assert told(sessions, swap_id, "requested") == {"ken"}
    assert who(sessions, applied_ops, start) == "yuta"  # nothing changes until accepted
    act(swaps.accept, swap_id=swap_id, actor="ken")
    assert who(sessions, applied_ops, start - timedelta(seconds=1)) == "yuta"
    assert who(sessions, applied_ops, start) == "ken"
    assert who(sessions, applied_ops, end - timedelta(seconds=1)) == "ken"
    assert who(sessions, applied_ops, end) == "yuta"
    row = swap_row(sessions, swap_id)
    assert (row.kind, row.state, row.decided_by, row.counter_override_id) == (
        "cover",
        "accepted",
        "ken",
        None,
    )
    with sessions() as s:
        override = s.get(Override, row.override_id)
        assert override is not None
        assert (override.person, override.starts_at, override.ends_at) == ("ken", start, end)
        assert f"swap {swap_id}" in override.note
        message = s.scalars(
            select(OutgoingMessage).where(
                OutgoingMessage.key == f"swap/swap={swap_id}/event=accepted/to=yuta/channel=email"
            )
        ).one()
    assert told(sessions, swap_id, "accepted") == {"yuta", "ken"}
    assert "@ken covers payment-platform primary Thu 2026-06-25 09:00 JST" in message.subject  # yuta's zone
    assert message.payload is not None and message.payload["event"] == "accepted"


def test_swap_trades_two_ranges(act, sessions, applied_ops):
    mine = (THU, THU + timedelta(days=1))
    theirs = (NEXT_WEEK, NEXT_WEEK + timedelta(days=1))
    swap_id = cover(act, "yuta", "hana", *mine, counter_start=theirs[0], counter_end=theirs[1])
    act(swaps.accept, swap_id=swap_id, actor="hana")
    assert who(sessions, applied_ops, mine[0] + timedelta(hours=1)) == "hana"
    assert who(sessions, applied_ops, theirs[0] + timedelta(hours=1)) == "yuta"
    assert who(sessions, applied_ops, theirs[1]) == "hana"
    row = swap_row(sessions, swap_id)
    assert row.kind == "swap" and row.override_id and row.counter_override_id
    assert told(sessions, swap_id, "accepted") == {"yuta", "hana"}


def test_a_lead_accepts_on_behalf_and_nobody_else_may(act, sessions, applied_ops):
    swap_id = cover(act, "hana", "ken", THU, THU + timedelta(hours=4), layer="secondary")
    for stranger in ("mei", "sato"):  # a teammate who is no lead; the lead of another team
        with pytest.raises(Forbidden, match=r"only @ken or a lead of their team \(@yuta\) can accept"):
            act(swaps.accept, swap_id=swap_id, actor=stranger)
    assert counts(sessions) == (1, 0)
    act(swaps.accept, swap_id=swap_id, actor="yuta")
    assert swap_row(sessions, swap_id).decided_by == "yuta"
    assert who(sessions, applied_ops, THU, "secondary") == "ken"
    assert told(sessions, swap_id, "accepted") == {"hana", "ken"}
    # a lead never approves their own request on someone else's behalf
    own = cover(act, "yuta", "hana", THU, THU + timedelta(hours=2))
    with pytest.raises(Forbidden, match="only @hana can accept"):
        act(swaps.accept, swap_id=own, actor="yuta")


def test_decline_withdraw_and_acting_on_a_decided_swap(act, sessions, applied_ops):
    first = cover(act, "yuta", "ken", THU, THU + timedelta(hours=2))
    act(swaps.decline, swap_id=first, actor="ken")
    assert swap_row(sessions, first).state == "declined"
    assert told(sessions, first, "declined") == {"yuta"}
    with pytest.raises(Conflict, match=f"swap {first} is already declined by @ken"):
        act(swaps.accept, swap_id=first, actor="ken")
    second = cover(act, "yuta", "mei", THU, THU + timedelta(hours=2))  # the range is free again
    with pytest.raises(Forbidden, match="only @yuta, who asked, can withdraw"):
        act(swaps.withdraw, swap_id=second, actor="mei")
    act(swaps.withdraw, swap_id=second, actor="yuta")
    assert swap_row(sessions, second).state == "withdrawn"
    assert told(sessions, second, "withdrawn") == {"mei"}
    with pytest.raises(Conflict, match="already withdrawn"):
        act(swaps.decline, swap_id=second, actor="mei")
    with pytest.raises(NotFound, match="no shift swap with id 99"):
        act(swaps.accept, swap_id=99, actor="ken")
    assert counts(sessions) == (2, 0)
    assert who(sessions, applied_ops, THU) == "yuta"


def test_requests_that_cannot_be_granted_are_refused_and_store_nothing(act, sessions, applied_ops):
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        (
            {"requester": "ken", "target": "mei"},
            ValidationFailed,
            "@ken is not on call for payment-platform/primary",
        ),
        ({"target": "nobody"}, ValidationFailed, "unknown person 'nobody'"),
        ({"target": "yuta"}, ValidationFailed, "cannot ask yourself"),
        ({"schedule": "nope"}, ValidationFailed, "unknown schedule 'nope'"),
        ({"layer": "tertiary"}, ValidationFailed, "has no layer 'tertiary'"),
        ({"schedule": "pay\x00ment"}, ValidationFailed, "unknown schedule"),
        ({"end": THU - timedelta(hours=1)}, ValidationFailed, "is not after 'start'"),
        ({"start": THU.replace(tzinfo=None)}, ValidationFailed, "has no timezone"),
        ({"end": NEXT_WEEK + timedelta(hours=1)}, ValidationFailed, "@hana from 2026-06-29T01:00:00Z"),
        ({"end": THU + timedelta(days=400)}, ValidationFailed, "at most 92 per request"),
        ({"note": "x" * 5000}, ValidationFailed, "at most 2000"),
        ({"counter_start": NEXT_WEEK}, ValidationFailed, "needs both counter_start and counter_end"),
        ({"requester": "outsider"}, Forbidden, "not in people.yaml"),
    ]
    for change, error, message in bad:
        body = {
            "schedule": PP,
            "layer": "primary",
            "requester": "yuta",
            "target": "ken",
            "start": THU,
            "end": THU + timedelta(hours=2),
        } | change
        with pytest.raises(error, match=message):
            act(swaps.request_swap, **body)
    assert counts(sessions) == (0, 0)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutgoingMessage)) == 0


def test_overlapping_open_requests_and_a_range_no_longer_held(act, sessions, applied_ops, clock):
    swap_id = cover(act, "yuta", "ken", THU, THU + timedelta(hours=6))
    with pytest.raises(Conflict, match=f"swap {swap_id} \\(to @ken\\) already asks about part of this range"):
        cover(act, "yuta", "mei", THU + timedelta(hours=5), THU + timedelta(hours=8))
    # someone else is put on call for part of the range meanwhile: accepting would be a lie
    act(
        service.add_override,
        schedule=PP,
        layer="primary",
        person="mei",
        start=THU + timedelta(hours=1),
        end=THU + timedelta(hours=2),
        actor="yuta",
    )
    with pytest.raises(Conflict, match=r"@yuta no longer holds payment-platform/primary .*: @mei from"):
        act(swaps.accept, swap_id=swap_id, actor="ken")
    assert swap_row(sessions, swap_id).state == "requested"
    assert counts(sessions) == (1, 1)


def test_an_unanswered_request_expires(act, sessions, applied_ops, clock):
    mine = (THU, THU + timedelta(hours=2))
    swap_id = cover(
        act, "yuta", "hana", *mine, counter_start=NEXT_WEEK, counter_end=NEXT_WEEK + timedelta(hours=2)
    )
    clock.set(THU)  # a swap expires when the first of its ranges begins
    with sessions() as s:
        assert [swaps.state_of(r, clock.now()) for r in swaps.list_swaps(s, now=clock.now())] == ["expired"]
        assert [r.id for r in swaps.list_swaps(s, now=clock.now(), state="expired")] == [swap_id]
        assert swaps.list_swaps(s, now=clock.now(), state="requested") == []
    with pytest.raises(Conflict, match="expired at 2026-06-25T00:00:00Z unanswered"):
        act(swaps.accept, swap_id=swap_id, actor="hana")
    assert counts(sessions) == (1, 0)


def test_a_cover_accepted_part_way_starts_at_the_acceptance(act, sessions, applied_ops, clock):
    swap_id = cover(act, "yuta", "ken", THU, THU + timedelta(hours=6))
    clock.set(THU + timedelta(hours=2))
    act(swaps.accept, swap_id=swap_id, actor="ken")
    assert who(sessions, applied_ops, THU + timedelta(hours=1)) == "yuta"
    assert who(sessions, applied_ops, THU + timedelta(hours=2)) == "ken"


def test_take_the_rest_of_this_shift_now(act, sessions, applied_ops, clock):
    now = clock.now()
    swap_id = act(swaps.take, schedule=PP, layer="primary", actor="mei", note="go to sleep")
    assert who(sessions, applied_ops, now) == "mei"
    assert who(sessions, applied_ops, NEXT_WEEK - timedelta(seconds=1)) == "mei"
    assert who(sessions, applied_ops, NEXT_WEEK) == "hana"  # the next shift is untouched
    row = swap_row(sessions, swap_id)
    assert (row.kind, row.state, row.requester, row.target, row.ends_at) == (
        "take",
        "accepted",
        "mei",
        "yuta",
        NEXT_WEEK,
    )
    assert told(sessions, swap_id, "taken") == {"yuta", "mei"}
    with pytest.raises(Conflict, match="you are already on call"):
        act(swaps.take, schedule=PP, layer="primary", actor="mei")
    with pytest.raises(ValidationFailed, match="has no layer"):
        act(swaps.take, schedule=PP, layer="nope", actor="ken")
    # the person relieved is told in their own time zone
    with sessions() as s:
        subject = s.scalars(
            select(OutgoingMessage.subject).where(
                OutgoingMessage.key.like(f"swap/swap={swap_id}/event=taken/to=yuta/%")
            )
        ).first()
    assert subject == "[take] @mei took over payment-platform primary from you until Mon 2026-06-29 10:00 JST"


def test_an_accepted_swap_survives_a_later_edit_of_the_rotation(act, sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
    start, end = THU, THU + timedelta(hours=12)
    swap_id = cover(act, "yuta", "ken", start, end)
    act(swaps.accept, swap_id=swap_id, actor="ken")
    path = ops / "schedules" / "payment-platform.yaml"
    path.write_text(path.read_text().replace("[yuta, hana, ken, mei]", "[mei, ken, hana, yuta]", 1))
    clock.advance(hours=1)
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
        config = policy_service.current_config(s)
    assert who(sessions, config, start) == "ken"
    assert who(sessions, config, end) == "yuta"


def test_the_handoff_notice_names_the_person_swapped_in(act, sessions, applied_ops, clock):
    start, end = THU, THU + timedelta(hours=6)
    swap_id = cover(act, "yuta", "ken", start, end)
    act(swaps.accept, swap_id=swap_id, actor="ken")
    clock.set(start)
    with sessions() as s:
        HandoffNotices().run(s, clock.now())
        s.commit()
        notices = {
            m.person: m.subject
            for m in s.scalars(
                select(OutgoingMessage).where(OutgoingMessage.key.like("handoff/%channel=email"))
            )
        }
    at = "Thu 2026-06-25 09:00 JST"
    assert notices == {
        "yuta": f"[handoff] your payment-platform primary shift ends {at}: hand over to @ken",
        "ken": f"[handoff] you are on call for payment-platform primary from {at} (from @yuta)",
    }
