"""Wheel of Misfortune (issue 21): a drill replays a past incident, pages only its trainee and game
master, stays out of metrics and the status page, and is scored against the original. On both
databases; time moves on a FrozenClock."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from commandpost.drills import service
from commandpost.drills.processors import DrillPrompts
from commandpost.errors import Conflict, NotFound, ValidationFailed
from commandpost.incidents import publish, roles, timeline
from commandpost.incidents import service as incidents_service
from commandpost.metrics.models import IncidentResponse
from commandpost.notify.models import OutgoingMessage
from commandpost.runbooks import service as runbooks
from tests.drill_support import past_incident
from tests.paging_support import EXAMPLE_OPS, ack, act, apply, processor, resolve, run_until


@pytest.fixture
def drill_setup(sessions, clock):
    apply(sessions, clock)
    t0 = clock.now()
    act(sessions, lambda s: past_incident(s, t0))
    clock.advance(timedelta(days=1))
    return t0


def _start(sessions, clock, **kw):
    values = {"source": "INC-1", "game_master": "mei", "trainee": "ken", "speed": 2, **kw}
    return act(sessions, lambda s: service.start(s, now=clock.now(), **values).incident_id)


def _texts(sessions, number):
    return act(
        sessions,
        lambda s: [e.text for e in timeline.all_entries(s, incident=timeline.incident(s, number=number))],
    )


def test_a_drill_pages_only_the_trainee_and_the_game_master(sessions, session, clock, drill_setup):
    _start(sessions, clock)
    run_until(sessions, clock, clock.now() + timedelta(minutes=30), processor())  # the escalation engine
    session.rollback()
    messages = session.scalars(select(OutgoingMessage)).all()
    assert {m.person for m in messages} == {"ken", "mei"}  # never @yuta, on call now
    assert {m.key.split("/")[0] for m in messages} == {"drill"}
    drill = act(sessions, lambda s: timeline.incident(s, number=2))
    assert drill.labels == {"drill": "true", "drill_of": "INC-1"}
    assert drill.created_by == "mei" and drill.acknowledged_at is None
    assert act(sessions, lambda s: roles.ic_holder(s, incident=timeline.incident(s, number=2))) == "ken"


def test_prompts_follow_the_original_at_the_drill_speed(sessions, clock, drill_setup):
    start = clock.now()
    _start(sessions, clock)
    texts = _texts(sessions, 2)
    assert any("[drill prompt T+0m00s] alert CheckoutErrors fired on payment-platform" in t for t in texts)
    assert not any("roll back release 42" in t for t in texts)  # +10 min in the original: +5 min at 2×
    prompts = DrillPrompts()
    with sessions() as s:  # @yuta took IC 4 min into the original: 2 min into the drill
        assert prompts.next_due(s, clock.now()) == start + timedelta(minutes=2)
    clock.advance(timedelta(minutes=5) - timedelta(seconds=1))
    assert act(sessions, lambda s: prompts.run(s, clock.now())) == 1
    assert not any("roll back release 42" in t for t in _texts(sessions, 2))
    clock.advance(timedelta(seconds=1))
    assert act(sessions, lambda s: prompts.run(s, clock.now())) == 1
    assert any("T+10m00s] in the original:" in t and "roll back release 42" in t for t in _texts(sessions, 2))


def test_a_drill_is_left_out_of_metrics_and_the_status_page(sessions, clock, drill_setup):
    _start(sessions, clock)
    with sessions() as s:
        drill = timeline.incident(s, number=2)
        # MTTx, the response targets and the SLO budgets' incident windows all read incident_response
        rows = {r.incident_id for r in s.scalars(select(IncidentResponse))}
        assert timeline.incident(s, number=1).id in rows and drill.id not in rows
        assert publish.is_drill(drill)
        with pytest.raises(Conflict, match="drill"):
            publish.publish(
                s,
                incident=drill,
                message="x",
                actor="ken",
                config=incidents_service.config_of(s),
                now=clock.now(),
            )


def test_the_scorecard_compares_the_drill_with_the_original(sessions, clock, drill_setup):
    start = clock.now()
    _start(sessions, clock)
    act(sessions, ack(2, "ken", start + timedelta(minutes=2)))
    with sessions() as s:
        card = service.scorecard(s, number="INC-2")
        assert not card.complete
    act(sessions, resolve(2, "ken", start + timedelta(minutes=20)))
    clock.advance(timedelta(hours=1))
    assert act(sessions, lambda s: DrillPrompts().run(s, clock.now())) > 0  # dropped: the drill is over
    assert not any("roll back" in t for t in _texts(sessions, 2))
    with sessions() as s:
        card = service.scorecard(s, number=2)
        lines = {line.measure: line for line in card.lines}
        assert card.complete
        assert (lines["time to ack"].drill, lines["time to ack"].original, lines["time to ack"].target) == (
            120,
            240,
            120,
        )
        assert lines["time to ack"].verdict == "as fast"
        assert (lines["time to mitigation"].drill, lines["time to mitigation"].original) == (1200, 1200)
        assert lines["time to mitigation"].verdict == "slower"  # 20 min against 10 at 2×
        assert lines["handover done explicitly"].drill is False
        assert lines["comms on cadence"].verdict == "yes"
        assert [v.incident.number for v in service.list_drills(s)] == [2]


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"source": "INC-99"}, NotFound, "no incident INC-99"),
        ({"speed": 0}, ValidationFailed, "speed"),
        ({"speed": -3}, ValidationFailed, "speed"),
        ({"speed": 10**9}, ValidationFailed, "speed"),
        ({"speed": True}, ValidationFailed, "speed"),
        ({"trainee": "nobody"}, ValidationFailed, "unknown person @nobody"),
        ({"trainee": "ke\x00n"}, ValidationFailed, "person"),
    ],
)
def test_bad_starts_say_why_and_store_nothing(sessions, clock, drill_setup, changes, error, words):
    with pytest.raises(error, match=words):
        _start(sessions, clock, **changes)
    with sessions() as s:
        assert service.list_drills(s) == []
        assert s.scalars(select(OutgoingMessage)).all() == []


def test_a_drill_of_a_drill_and_of_an_open_incident_are_refused(sessions, clock, drill_setup):
    _start(sessions, clock)
    with pytest.raises(Conflict, match="INC-2 is itself a drill"):
        _start(sessions, clock, source="INC-2")
    act(sessions, resolve(2, "ken", clock.now()))
    with pytest.raises(Conflict, match="INC-2 is itself a drill"):
        _start(sessions, clock, source="INC-2")
    act(
        sessions,
        lambda s: incidents_service.declare(s, title="live", severity="SEV3", actor="yuta", now=clock.now()),
    )
    with pytest.raises(Conflict, match="INC-3 is investigating: a drill replays a past incident"):
        _start(sessions, clock, source="INC-3")
    with pytest.raises(NotFound, match="INC-1 is not a drill"), sessions() as s:
        service.scorecard(s, number=1)


def test_a_postmortem_of_a_drill_uses_the_short_blameless_template(sessions, clock, drill_setup):
    from commandpost.postmortems import service as postmortems
    from commandpost.postmortems.draft import NOT_A_REAL_INCIDENT

    _start(sessions, clock)
    act(sessions, resolve(2, "ken", clock.now() + timedelta(minutes=20)))
    pm = act(
        sessions,
        lambda s: postmortems.start(s, number=2, actor="mei", now=clock.now() + timedelta(minutes=21)),
    )
    assert pm.sections["user_impact"] == NOT_A_REAL_INCIDENT
    assert "Drill of INC-1: @ken worked it, @mei was the game master" in pm.sections["summary"]
    assert "postmortem of INC-1" in pm.sections["root_cause"]
    left = sorted(name for name, text in pm.sections.items() if not text)
    assert left == ["process_factor", "went_poorly", "went_well"]  # what the drill showed: people write it
    with sessions() as s:  # declared by the game master, yet no "add the missing alert" item
        assert postmortems.items_of(s, pm=pm) == []


RUNBOOK = "payment-webhook-backlog"  # its Mitigate section: 3.1, 3.2, then 3.3 "First move: scale out…"


def _mark(s, number, step, at, by):
    incident = timeline.incident(s, number=number)
    runbooks.attach(s, incident=incident, slug=RUNBOOK, by=by, now=at)
    runbooks.mark_step(s, incident=incident, slug=RUNBOOK, step_ref=step, state="done", by=by, now=at)


def test_the_first_move_is_the_step_the_runbook_names_not_the_first_step_marked(sessions, clock):
    apply(sessions, clock)
    t0 = clock.now()
    act(
        sessions,
        lambda s: incidents_service.declare(
            s, title="webhooks stuck", severity="SEV3", actor="yuta", now=t0, service="payment-platform"
        ),
    )
    act(sessions, lambda s: _mark(s, 1, "3.1", t0 + timedelta(minutes=5), "yuta"))
    act(sessions, lambda s: _mark(s, 1, "3.3", t0 + timedelta(minutes=8), "yuta"))
    act(sessions, resolve(1, "yuta", t0 + timedelta(minutes=30)))
    clock.advance(timedelta(days=1))
    start = clock.now()
    _start(sessions, clock)  # at 2×: the original's 8 min first move is a 4 min target
    act(sessions, lambda s: _mark(s, 2, "3.1", start + timedelta(minutes=1), "ken"))
    act(sessions, lambda s: _mark(s, 2, "3.3", start + timedelta(minutes=3), "ken"))
    with sessions() as s:
        card = service.scorecard(s, number=2)
    line = next(x for x in card.lines if x.measure == "time to the runbook's first move")
    assert (line.drill, line.original, line.target, line.verdict) == (180, 480, 240, "faster")
    assert line.note is None
    assert (card.drill.first_step, card.original.first_step) == (60, 300)  # the first step marked, kept
    for facts in (card.drill, card.original):
        assert facts.move is not None and facts.move_note is None
        assert facts.move["runbook"] == RUNBOOK and facts.move["named"] is True
        assert str(facts.move["step"]).startswith("3.3-")
        assert str(facts.move["text"]).startswith("First move: scale out the consumer")


def test_an_original_without_a_runbook_says_no_first_move_named(sessions, clock, drill_setup):
    start = clock.now()
    _start(sessions, clock)  # INC-1 was opened with no runbook
    act(sessions, lambda s: _mark(s, 2, "3.1", start + timedelta(minutes=1), "ken"))  # not the first move
    with sessions() as s:
        card = service.scorecard(s, number=2)
    line = next(x for x in card.lines if x.measure == "time to the runbook's first move")
    assert (line.drill, line.original, line.verdict) == (None, None, "neither")  # 3.1 is never counted
    assert line.note == "original: no first move named: no runbook on this incident"
    assert card.original.move is None and card.original.first_move is None
    assert card.drill.move is not None and card.drill.first_step == 60 and card.drill.first_move is None
    assert card.drill.to_dict()["first_move_note"] is None
    assert card.original.to_dict()["first_move_note"] == "no first move named: no runbook on this incident"


def test_a_runbook_without_a_labelled_first_move_is_timed_on_its_first_mitigate_step_and_says_so(
    sessions, clock, tmp_path
):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    runbook = ops / "runbooks" / f"{RUNBOOK}.md"
    runbook.write_text(runbook.read_text().replace("- [ ] First move: scale", "- [ ] Scale"))
    apply(sessions, clock, ops)
    t0 = clock.now()
    act(
        sessions,
        lambda s: incidents_service.declare(
            s, title="webhooks stuck", severity="SEV3", actor="yuta", now=t0, service="payment-platform"
        ),
    )
    act(sessions, lambda s: _mark(s, 1, "3.1", t0 + timedelta(minutes=6), "yuta"))
    act(sessions, resolve(1, "yuta", t0 + timedelta(minutes=30)))
    clock.advance(timedelta(days=1))
    _start(sessions, clock)
    with sessions() as s:
        card = service.scorecard(s, number=2)
    line = next(x for x in card.lines if x.measure == "time to the runbook's first move")
    assert line.original == 360 and card.original.move is not None
    assert card.original.move["named"] is False and str(card.original.move["step"]).startswith("3.1-")
    assert line.note == (
        "drill: no first move named: no runbook on this incident; original: no first move named in "
        f"runbook {RUNBOOK}: its first Mitigate step stands in, as on the page"
    )
