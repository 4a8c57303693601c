"""Roles and explicit handover on a real database: assign, offer, accept, decline, expire, races."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.errors import Conflict, Forbidden, ValidationFailed
from commandpost.incidents import roles, service, timeline
from commandpost.incidents.models import RoleOffer
from commandpost.incidents.processors import HandoverExpiry
from commandpost.policy import service as policy_service
from tests.conftest import EXAMPLE_OPS
from tests.factories import make_incident, make_offer


@pytest.fixture
def incident(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        return make_incident(s, now=clock.now())


def _held(sessions, clock, number=1):
    with transaction(sessions) as s:
        return {
            v.role: (v.holder, v.held_by_ic_by_default)
            for v in roles.view(s, incident=timeline.incident(s, number=number), now=clock.now())
        }


def _texts(sessions, number=1):
    with transaction(sessions) as s:
        return [e.text for e in timeline.all_entries(s, incident=timeline.incident(s, number=number))]


def _do(sessions, fn):
    with transaction(sessions) as s:
        return fn(s, timeline.incident(s, number=1, for_update=True))


def test_the_ic_holds_every_role_not_delegated(sessions, incident, clock):
    assert _held(sessions, clock) == {
        "ic": ("yuta", False),
        "ops": ("yuta", True),
        "comms": ("yuta", True),
        "planning": ("yuta", True),
    }


def test_only_the_ic_or_an_admin_assigns(sessions, incident, clock, applied_ops):
    def assign(role, person, actor, is_admin=False):
        return lambda s, i: roles.assign(
            s,
            incident=i,
            role=role,
            person=person,
            actor=actor,
            is_admin=is_admin,
            config=applied_ops,
            now=clock.now(),
        )

    view = _do(sessions, assign("ops", "mei", "yuta"))
    assert (view.holder, view.held_by_ic_by_default) == ("mei", False)
    before = _texts(sessions)
    with pytest.raises(Forbidden, match=r"only the IC \(@yuta\) or an admin token assigns roles on INC-1"):
        _do(sessions, assign("comms", "hana", "ken"))
    with pytest.raises(Forbidden, match="explicit handover"):
        _do(sessions, assign("ic", "hana", "yuta"))
    with pytest.raises(Conflict, match="@mei already holds Ops"):
        _do(sessions, assign("ops", "mei", "yuta"))
    with pytest.raises(ValidationFailed, match="unknown role 'scribe'; valid: ic, ops, comms, planning"):
        _do(sessions, assign("scribe", "mei", "yuta"))
    with pytest.raises(
        ValidationFailed, match="unknown person @nobody; valid: @hana, @ken, @mei, @sato, @yuta"
    ):
        _do(sessions, assign("ops", "nobody", "yuta"))
    assert _texts(sessions) == before
    _do(sessions, assign("comms", "hana", "admin", is_admin=True))
    _do(sessions, assign("ic", "ken", "admin", is_admin=True))  # forced takeover, recorded as such
    assert _held(sessions, clock) == {
        "ic": ("ken", False),
        "ops": ("mei", False),
        "comms": ("hana", False),
        "planning": ("ken", True),
    }
    assert _texts(sessions)[-2:] == [
        "INC-1: Comms assigned to @hana by @admin",
        "INC-1: IC assigned to @ken by @admin (forced by an admin, no handover)",
    ]
    # Giving a role to the IC returns it to the IC by default.
    _do(sessions, assign("ops", "ken", "ken"))
    assert _held(sessions, clock)["ops"] == ("ken", True)


def test_actions_only_from_the_ops_holder(sessions, incident, clock, applied_ops):
    def act(actor):
        return lambda s, i: service.add_entry(
            s, incident=i, kind="action", text="rolled back", actor=actor, now=clock.now()
        )

    _do(sessions, act("yuta"))  # the IC holds Ops by default
    with pytest.raises(Forbidden, match=r"Ops is held by the IC @yuta \(by default\)"):
        _do(sessions, act("mei"))
    _do(
        sessions,
        lambda s, i: roles.assign(
            s,
            incident=i,
            role="ops",
            person="mei",
            actor="yuta",
            is_admin=False,
            config=applied_ops,
            now=clock.now(),
        ),
    )
    before = _texts(sessions)
    with pytest.raises(Forbidden, match="only the Ops holder records actions on INC-1: Ops is held by @mei"):
        _do(sessions, act("yuta"))
    assert _texts(sessions) == before
    _do(sessions, act("mei"))
    _do(
        sessions,
        lambda s, i: service.add_entry(s, incident=i, kind="note", text="n", actor="ken", now=clock.now()),
    )


def test_offer_then_accept_hands_over_ic_explicitly(sessions, incident, clock):
    with transaction(sessions) as s:
        offer = make_offer(s, timeline.incident(s, number=1), now=clock.now())
    assert offer.expires_at == clock.now() + timedelta(minutes=15)
    assert _held(sessions, clock)["ic"] == ("yuta", False)  # stays until accepted
    with transaction(sessions) as s:
        pending = roles.view(s, incident=timeline.incident(s, number=1), now=clock.now())[0].pending_offer
        assert pending is not None and pending.to_person == "hana"
    clock.advance(minutes=3)
    _do(sessions, lambda s, i: roles.accept(s, incident=i, role="IC", actor="hana", now=clock.now()))
    held = _held(sessions, clock)
    assert held["ic"] == ("hana", False)
    assert held["ops"] == ("hana", True)  # undelegated roles move with the IC
    assert _texts(sessions)[-2:] == [
        "INC-1: IC offered to @hana by @yuta",
        "INC-1: @hana accepted IC from @yuta",
    ]
    with transaction(sessions) as s:
        row = s.scalars(select(RoleOffer)).one()
        assert (row.state, row.pending_marker, row.answered_at) == ("accepted", None, clock.now())


def test_decline_leaves_the_role_where_it_was(sessions, incident, clock):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), role="comms", person="ken", now=clock.now())
    _do(sessions, lambda s, i: roles.decline(s, incident=i, role="comms", actor="ken", now=clock.now()))
    assert _held(sessions, clock)["comms"] == ("yuta", True)
    assert _texts(sessions)[-1] == "INC-1: @ken declined Comms; it stays with @yuta"
    with pytest.raises(Conflict, match="no pending offer of Comms"):
        _do(sessions, lambda s, i: roles.accept(s, incident=i, role="comms", actor="ken", now=clock.now()))


def test_bad_offers_and_answers_change_nothing(sessions, incident, clock, applied_ops):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    before = _texts(sessions)

    def offer(person, actor="yuta", role="ic"):
        return lambda s, i: roles.offer(
            s,
            incident=i,
            role=role,
            person=person,
            actor=actor,
            is_admin=False,
            config=applied_ops,
            now=clock.now(),
        )

    with pytest.raises(Forbidden, match="the offer of IC on INC-1 is for @hana; you are @ken"):
        _do(sessions, lambda s, i: roles.accept(s, incident=i, role="ic", actor="ken", now=clock.now()))
    with pytest.raises(Forbidden, match="is for @hana"):
        _do(sessions, lambda s, i: roles.decline(s, incident=i, role="ic", actor="yuta", now=clock.now()))
    with pytest.raises(Conflict, match="already has a pending offer to @hana"):
        _do(sessions, offer("ken"))
    with pytest.raises(ValidationFailed, match="unknown person @ghost"):
        _do(sessions, offer("ghost", role="ops"))
    with pytest.raises(Forbidden, match=r"only the Ops holder \(@yuta\) or the IC \(@yuta\) may offer Ops"):
        _do(sessions, offer("mei", actor="ken", role="ops"))
    with pytest.raises(Conflict, match="@yuta already holds Ops"):
        _do(sessions, offer("yuta", role="ops"))
    assert _texts(sessions) == before
    assert _held(sessions, clock)["ic"] == ("yuta", False)


def test_unanswered_offer_expires_by_the_engine_and_lazily(sessions, incident, clock):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    clock.advance(minutes=15)
    # Lazily: readers already see no pending offer, and accepting is refused, before any engine pass.
    with transaction(sessions) as s:
        assert (
            roles.view(s, incident=timeline.incident(s, number=1), now=clock.now())[0].pending_offer is None
        )
    with pytest.raises(Conflict, match=r"expired at .*; IC stays with @yuta"):
        _do(sessions, lambda s, i: roles.accept(s, incident=i, role="ic", actor="hana", now=clock.now()))
    processor = HandoverExpiry()
    with transaction(sessions) as s:
        assert processor.next_due(s, clock.now()) == clock.now()
        assert processor.run(s, clock.now()) == 1
    with transaction(sessions) as s:
        assert processor.run(s, clock.now()) == 0  # idempotent
        assert processor.next_due(s, clock.now()) is None
        assert s.scalars(select(RoleOffer)).one().state == "expired"
    assert _held(sessions, clock)["ic"] == ("yuta", False)
    assert _texts(sessions)[-1] == "INC-1: offer of IC to @hana expired unanswered; IC stays with @yuta"
    # A new offer may follow once the old one is gone.
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), person="ken", now=clock.now())


def test_the_offer_ttl_comes_from_commandpost_yaml(sessions, clock, tmp_path):
    """``handover_offer_ttl`` is configurable: with 5m an offer expires at 5m, not the default 15m."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    settings = ops / "commandpost.yaml"
    assert "handover_offer_ttl: 15m" in settings.read_text()
    settings.write_text(settings.read_text().replace("handover_offer_ttl: 15m", "handover_offer_ttl: 5m"))
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
    with transaction(sessions) as s:
        offer = make_offer(s, make_incident(s, now=clock.now()), now=clock.now())
    assert offer.expires_at == clock.now() + timedelta(minutes=5)
    clock.advance(minutes=4, seconds=59)
    with transaction(sessions) as s:
        assert HandoverExpiry().run(s, clock.now()) == 0
    clock.advance(seconds=1)
    with transaction(sessions) as s:
        assert HandoverExpiry().run(s, clock.now()) == 1
    assert _held(sessions, clock)["ic"] == ("yuta", False)
    assert _texts(sessions)[-1] == "INC-1: offer of IC to @hana expired unanswered; IC stays with @yuta"


def test_a_new_offer_finalizes_an_expired_one_first(sessions, incident, clock):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    clock.advance(minutes=20)
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), person="ken", now=clock.now())
    assert _texts(sessions)[-2:] == [
        "INC-1: offer of IC to @hana expired unanswered; IC stays with @yuta",
        "INC-1: IC offered to @ken by @yuta",
    ]


def test_assign_and_close_supersede_pending_offers(sessions, incident, clock, applied_ops):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), role="ops", person="ken", now=clock.now())
        make_offer(s, timeline.incident(s, number=1), role="ic", person="hana", now=clock.now())
    _do(
        sessions,
        lambda s, i: roles.assign(
            s,
            incident=i,
            role="ops",
            person="mei",
            actor="yuta",
            is_admin=False,
            config=applied_ops,
            now=clock.now(),
        ),
    )
    _do(
        sessions,
        lambda s, i: service.change_status(s, incident=i, status="closed", actor="yuta", now=clock.now()),
    )
    with transaction(sessions) as s:
        states = {o.role: o.state for o in s.scalars(select(RoleOffer))}
    assert states == {"ops": "superseded", "ic": "superseded"}
    texts = _texts(sessions)
    assert "INC-1: offer of Ops to @ken superseded (assigned to @mei)" in texts
    assert texts[-1] == "INC-1: offer of IC to @hana superseded (INC-1 closed)"


def test_concurrent_accepts_of_one_offer_have_exactly_one_winner(sessions, incident, clock):
    with transaction(sessions) as s:
        make_offer(s, timeline.incident(s, number=1), now=clock.now())
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def accept() -> None:
        barrier.wait()
        try:
            with transaction(sessions) as s:
                roles.accept(
                    s,
                    incident=timeline.incident(s, number=1, for_update=True),
                    role="ic",
                    actor="hana",
                    now=clock.now(),
                )
            outcomes.append("won")
        except Conflict as exc:
            outcomes.append(f"lost: {exc.message}")

    threads = [threading.Thread(target=accept) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "won" and outcomes.count("won") == 1, outcomes
    assert all("already answered (accepted)" in o or "no pending offer" in o for o in outcomes if o != "won")
    assert sum("accepted IC" in t for t in _texts(sessions)) == 1
    assert _held(sessions, clock)["ic"] == ("hana", False)


def test_conditional_update_alone_refuses_a_second_answer(sessions, incident, clock):
    """Without the incident lock a stale reader still loses: the UPDATE matches no pending row."""
    with transaction(sessions) as s:
        offer_id = make_offer(s, timeline.incident(s, number=1), now=clock.now()).id
    with transaction(sessions) as s:
        stale = s.get_one(RoleOffer, offer_id)  # read while pending; the transaction ends, the object stays
        incident = timeline.incident(s, number=1)
    _do(sessions, lambda s, i: roles.accept(s, incident=i, role="ic", actor="hana", now=clock.now()))
    assert stale.state == "pending"
    with pytest.raises(Conflict, match=r"already answered \(accepted\)"), transaction(sessions) as s:
        roles._answer(s, s.merge(incident, load=False), s.merge(stale, load=False), "declined", clock.now())
    with transaction(sessions) as s:
        assert s.get_one(RoleOffer, offer_id).state == "accepted"
