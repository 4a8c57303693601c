"""Runbooks run inside incidents, on both databases: attach, step state with timeline entries, Ops-only
Mitigate steps, unknown steps, and the RB015 seam (update requests written the way postmortems will)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.errors import Conflict, Forbidden, NotFound, ValidationFailed
from commandpost.incidents import roles, timeline
from commandpost.incidents import service as incidents
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from commandpost.runbooks import service
from commandpost.runbooks.models import IncidentRunbook, RunbookStepState, RunbookUpdateRequest
from tests.conftest import EXAMPLE_OPS
from tests.factories import make_alert_incident, make_incident

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SLUG = "payment-webhook-backlog"


@pytest.fixture
def ops(sessions: sessionmaker[Session], clock: FrozenClock):  # type: ignore[no-untyped-def]
    """The example ops folder applied on 2026-11-27 (its runbooks are dated 2026-11-01)."""
    clock.set(NOW)
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=NOW, actor="test")
    return clock


@pytest.fixture
def reads(engine: Engine) -> sessionmaker[Session]:
    """Read-only sessions for assertions (on SQLite they never take the write lock)."""
    return make_session_factory(engine, read_only=True)


def _incident(sessions: sessionmaker[Session], **overrides: object) -> int:
    with transaction(sessions) as s:
        return make_incident(s, now=NOW, **overrides).number


def _load(s: Session, number: int) -> Incident:
    return timeline.incident(s, number=number)


def _steps(reads: sessionmaker[Session], slug: str = SLUG) -> list[str]:
    with reads() as s:
        return [step.id for step in service.applied(s).get(slug).steps]


def _mark(sessions: sessionmaker[Session], number: int, slug: str, step: str, **kwargs: object) -> None:
    with transaction(sessions) as s:
        service.mark_step(s, incident=_load(s, number), slug=slug, step_ref=step, **{"now": NOW, **kwargs})  # type: ignore[arg-type]


def _entries(s: Session, number: int, kind: str) -> list[TimelineEntry]:
    return [e for e in timeline.all_entries(s, incident=_load(s, number)) if e.kind == kind]


def test_attach_is_idempotent_and_pins_the_version(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)
    with transaction(sessions) as s:
        first = service.attach(s, incident=_load(s, number), slug=SLUG, by="yuta", now=NOW)
        again = service.attach(s, incident=_load(s, number), slug=SLUG, by="hana", now=NOW)
        assert again.id == first.id and again.attached_by == "yuta"
    with reads() as s:
        rows = s.scalars(select(IncidentRunbook)).all()
        assert len(rows) == 1 and rows[0].source == "manual"
        assert [st["id"] for sec in rows[0].snapshot["sections"] for st in sec["steps"]] == _steps(reads)
        [entry] = [e for e in _entries(s, number, "system") if e.data.get("event") == "attached"]
        assert "first move: First move: scale out the consumer" in entry.text


def test_attach_unknown_runbook_names_the_known_ones(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)
    with (
        pytest.raises(
            NotFound, match="no runbook 'nope' \\(runbooks: db-connection-exhaustion, payment-webhook"
        ),
        transaction(sessions) as s,
    ):
        service.attach(s, incident=_load(s, number), slug="nope", by="yuta", now=NOW)


def test_step_states_record_who_when_and_write_timeline_entries(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)
    verify = [s for s in _steps(reads) if s.startswith("4.")]
    with transaction(sessions) as s:
        service.attach(s, incident=_load(s, number), slug=SLUG, by="yuta", now=NOW)
    ops.advance(minutes=5)
    with transaction(sessions) as s:
        marked = service.mark_step(
            s,
            incident=_load(s, number),
            slug=SLUG,
            step_ref=verify[0],
            state="done",
            by="hana",
            now=ops.now(),
            note="depth 12",
        )
        assert marked.changed and marked.state.marked_by == "hana"
    with transaction(sessions) as s:  # the same mark again changes nothing
        assert not service.mark_step(
            s,
            incident=_load(s, number),
            slug=SLUG,
            step_ref=verify[0],
            state="done",
            by="hana",
            now=ops.now(),
            note="depth 12",
        ).changed
    ops.advance(minutes=1)
    with transaction(sessions) as s:  # a later mark replaces the state; the timeline keeps both
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="4.2", state="failed", by="ken", now=ops.now()
        )
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="4.2", state="done", by="ken", now=ops.now()
        )
    with reads() as s:
        entries = _entries(s, number, "runbook_step")
        assert [(e.author, e.data["step"], e.data["state"], e.data["previous"]) for e in entries] == [
            ("hana", verify[0], "done", None),
            ("ken", verify[1], "failed", None),
            ("ken", verify[1], "done", "failed"),
        ]
        assert entries[0].text.endswith("— depth 12") and entries[0].at == NOW.replace(minute=5)
        states = {r.step_id: r for r in s.scalars(select(RunbookStepState))}
        assert {k: (v.state, v.marked_by) for k, v in states.items()} == {
            verify[0]: ("done", "hana"),
            verify[1]: ("done", "ken"),
        }
        assert states[verify[1]].entry_id == entries[2].id
        evidence = service.verify_evidence(s, incident=_load(s, number))
        assert [e.step_id for e in evidence] == verify[:2]


def test_mitigate_steps_need_the_ops_holder(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)  # IC @yuta holds Ops by default
    first_move = next(s for s in _steps(reads) if s.startswith("3.3"))
    with transaction(sessions) as s:
        service.attach(s, incident=_load(s, number), slug=SLUG, by="yuta", now=NOW)
    with pytest.raises(
        Forbidden, match=r"only the Ops holder marks it .* Ops is held by the IC @yuta"
    ) as exc:
        _mark(sessions, number, SLUG, first_move, state="done", by="hana")
    assert exc.value.details["holder"] == "yuta" and exc.value.details["step"] == first_move
    with transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref=first_move, state="done", by="yuta", now=NOW
        )
    with transaction(sessions) as s:
        incident = timeline.lock(s, incident=_load(s, number))
        roles.assign(
            s, incident=incident, role="ops", person="hana", actor="yuta", is_admin=False,
            config=policy_service.current_config(s), now=NOW,
        )  # fmt: skip
    with pytest.raises(Forbidden, match="Ops is held by @hana"), transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="3.4", state="failed", by="yuta", now=NOW
        )
    with transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="3.4", state="failed", by="hana", now=NOW
        )
    with reads() as s:
        assert [e.author for e in _entries(s, number, "runbook_step")] == ["yuta", "hana"]


def test_unknown_step_is_404_naming_the_steps(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)
    with transaction(sessions) as s:
        service.attach(s, incident=_load(s, number), slug=SLUG, by="yuta", now=NOW)
    with pytest.raises(NotFound) as exc, transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="9.9", state="done", by="yuta", now=NOW
        )
    assert exc.value.details["steps"] == _steps(reads)
    assert "has no step '9.9'; its steps: 3.1-" in exc.value.message
    with pytest.raises(NotFound, match="'db-connection-exhaustion' is not attached to INC-1"):
        _mark(sessions, number, "db-connection-exhaustion", "3.1", state="done", by="yuta")
    with pytest.raises(ValidationFailed, match="unknown step state 'finished'"):
        _mark(sessions, number, SLUG, "4.1", state="finished", by="yuta")
    with reads() as s:
        assert s.scalar(select(func.count()).select_from(RunbookStepState)) == 0


def test_the_incidents_own_runbook_counts_as_attached(ops, sessions, reads):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        number = make_alert_incident(s, now=NOW).number  # runbook from the alert rule, no IC yet
    with reads() as s:
        [own] = service.attachments(s, incident=_load(s, number))
        assert (own.slug, own.source, own.row) == (SLUG, "alert", None)  # attached by the alert
    with pytest.raises(Forbidden, match="nobody holds Ops on INC-1 yet"), transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="3.3", state="done", by="hana", now=NOW
        )
    with transaction(sessions) as s:
        incidents.acknowledge(s, incident=_load(s, number), person="hana", now=NOW)
    with transaction(sessions) as s:
        service.mark_step(
            s, incident=_load(s, number), slug=SLUG, step_ref="3.3", state="done", by="hana", now=NOW
        )
    with reads() as s:
        [row] = s.scalars(select(IncidentRunbook)).all()
        assert (row.slug, row.source) == (SLUG, "alert")
        [stored] = service.attachments(s, incident=_load(s, number))
        assert stored.row is not None and list(stored.states) == [
            next(i for i in _steps(reads) if i[:3] == "3.3")
        ]


def test_closed_incidents_are_read_only(ops, sessions, reads):  # type: ignore[no-untyped-def]
    number = _incident(sessions)
    with transaction(sessions) as s:
        incidents.change_status(s, incident=_load(s, number), status="closed", actor="yuta", now=NOW)
    with pytest.raises(Conflict, match="closed"), transaction(sessions) as s:
        service.attach(s, incident=_load(s, number), slug=SLUG, by="yuta", now=NOW)


# ---------------------------------------------------------------- RB015: update requested by a postmortem


def _resolve(sessions: sessionmaker[Session], number: int, when: datetime) -> None:
    with transaction(sessions) as s:
        incidents.change_status(s, incident=_load(s, number), status="resolved", actor="yuta", now=when)


def test_update_request_flags_the_runbook_until_it_is_updated(ops, sessions, reads, tmp_path: Path):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        number = make_incident(s, now=datetime(2026, 11, 19, 3, 0, tzinfo=UTC)).number
    with reads() as s:
        assert service.runbooks_flagged_for_update(s, app=service.applied(s)) == {}  # nothing asked yet
    _resolve(sessions, number, datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    with transaction(sessions) as s:  # the way the postmortems domain will write it
        request = service.request_update(
            s,
            slug=SLUG,
            incident=_load(s, number),
            source="postmortem:7",
            by="yuta",
            now=NOW,
            note="add DLQ step",
        )
        again = service.request_update(
            s, slug=SLUG, incident=_load(s, number), source="postmortem:7", by="yuta", now=NOW
        )
        assert again.id == request.id
    with reads() as s:
        app = service.applied(s)
        assert service.runbooks_flagged_for_update(s, app=app) == {
            SLUG: "postmortem:7 of INC-1 (resolved 2026-11-20) asked for an update"
        }
        findings = service.lint_applied(s, app=app, now=NOW)
        assert [(f.rule, f.line) for f in findings[SLUG]] == [("RB015", 4)]
        assert findings["db-connection-exhaustion"] == []
        assert s.scalar(select(func.count()).select_from(RunbookUpdateRequest)) == 1
    # the owner updates the runbook and bumps last_updated to the resolution day: the flag clears
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    path = folder / "runbooks" / f"{SLUG}.md"
    path.write_text(path.read_text().replace("last_updated: 2026-11-01", "last_updated: 2026-11-20"))
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=folder, now=NOW, actor="test")
    with reads() as s:
        app = service.applied(s)
        assert service.runbooks_flagged_for_update(s, app=app) == {}
        assert service.lint_applied(s, app=app, now=NOW)[SLUG] == []
