"""Random sequences of declare / transition / severity / assign / offer / accept / decline / note / expire.

After every step, on SQLite and PostgreSQL: exactly one IC holder, the timeline strictly ordered
and only appended to, every state change with its entry (and refusals with none), and no
timestamp moving backwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.errors import CommandpostError
from commandpost.incidents import roles, rules, service, timeline
from commandpost.incidents.models import Incident, IncidentRole, RoleOffer
from commandpost.incidents.processors import CommsReminders, HandoverExpiry
from tests.factories import DEFAULT_NOW

PEOPLE = ["yuta", "hana", "ken", "mei"]
MILESTONES = (
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "identified_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
)
Entry = tuple[int, datetime, str, str]


class IncidentMachine(RuleBasedStateMachine):
    incidents = Bundle("incidents")

    def __init__(self, sessions: Any, config: Any) -> None:
        super().__init__()
        self.sessions, self.config = sessions, config
        self.clock = FrozenClock(DEFAULT_NOW)
        self.numbers: list[int] = []
        self.entries: dict[int, list[Entry]] = {}
        self.stamps: dict[int, dict[str, datetime | None]] = {}
        self.expect: dict[int, str | None] = {}
        self.accepted: dict[int, tuple[str, str]] = {}

    # -------------------------------------------------------------- helpers

    def _apply(self, number: int, change: Callable[[Session, Incident], Any], kind: str) -> bool:
        """Run one change; the invariant then checks it appended a ``kind`` entry, or nothing if refused."""
        try:
            with transaction(self.sessions) as s:
                change(s, timeline.incident(s, number=number, for_update=True))
        except CommandpostError:
            self.expect[number] = None
            return False
        self.expect[number] = kind
        return True

    def _now(self) -> datetime:
        return self.clock.now()

    # -------------------------------------------------------------- rules

    @precondition(lambda self: len(self.numbers) < 3)
    @rule(target=incidents, severity=st.sampled_from(rules.SEVERITIES), ic=st.sampled_from([None, *PEOPLE]))
    def declare(self, severity: str, ic: str | None) -> int:
        with transaction(self.sessions) as s:
            number = service.declare(
                s, title="Payment webhooks failing", severity=severity, actor="yuta", ic=ic, now=self._now()
            ).number
        self.numbers.append(number)
        self.expect[number] = "role"
        return number

    @rule(number=incidents, target_status=st.sampled_from([*rules.STATUSES, "reopen"]))
    def transition(self, number: int, target_status: str) -> None:
        self._apply(
            number,
            lambda s, i: service.change_status(
                s, incident=i, status=target_status, actor="yuta", now=self._now()
            ),
            "status",
        )

    @rule(number=incidents, severity=st.sampled_from(rules.SEVERITIES))
    def severity(self, number: int, severity: str) -> None:
        self._apply(
            number,
            lambda s, i: service.change_severity(
                s, incident=i, severity=severity, reason="impact changed", actor="yuta", now=self._now()
            ),
            "severity",
        )

    @rule(
        number=incidents,
        role=st.sampled_from(rules.ROLES),
        person=st.sampled_from(PEOPLE),
        actor=st.sampled_from(PEOPLE),
        admin=st.booleans(),
    )
    def assign(self, number: int, role: str, person: str, actor: str, admin: bool) -> None:
        self._apply(
            number,
            lambda s, i: roles.assign(
                s,
                incident=i,
                role=role,
                person=person,
                actor=actor,
                is_admin=admin,
                config=self.config,
                now=self._now(),
            ),
            "role",
        )

    @rule(
        number=incidents,
        role=st.sampled_from(rules.ROLES),
        person=st.sampled_from(PEOPLE),
        actor=st.sampled_from(PEOPLE),
    )
    def offer(self, number: int, role: str, person: str, actor: str) -> None:
        self._apply(
            number,
            lambda s, i: roles.offer(
                s,
                incident=i,
                role=role,
                person=person,
                actor=actor,
                is_admin=False,
                config=self.config,
                now=self._now(),
            ),
            "handover",
        )

    @rule(number=incidents, role=st.sampled_from(rules.ROLES), person=st.sampled_from(PEOPLE))
    def offer_as_ic(self, number: int, role: str, person: str) -> None:
        """The usual handover: the IC offers a role."""
        with transaction(self.sessions) as s:
            ic = roles.ic_holder(s, incident=timeline.incident(s, number=number)) or "yuta"
        self.offer(number, role, person, ic)

    @rule(number=incidents, role=st.sampled_from(rules.ROLES), answer=st.sampled_from(["accept", "decline"]))
    def answer_as_receiver(self, number: int, role: str, answer: str) -> None:
        """The person an offer is for answers it (often after it expired, which must be refused)."""
        with transaction(self.sessions) as s:
            incident = timeline.incident(s, number=number)
            pending = s.scalars(
                select(RoleOffer.to_person).where(
                    RoleOffer.incident_id == incident.id, RoleOffer.role == role, RoleOffer.state == "pending"
                )
            ).first()
        if answer == "accept":
            self.accept(number, role, pending or "hana")
        else:
            self.decline(number, role, pending or "hana")

    @rule(number=incidents, role=st.sampled_from(rules.ROLES), actor=st.sampled_from(PEOPLE))
    def accept(self, number: int, role: str, actor: str) -> None:
        if self._apply(
            number,
            lambda s, i: roles.accept(s, incident=i, role=role, actor=actor, now=self._now()),
            "handover",
        ):
            with transaction(self.sessions) as s:
                assert roles.holder(s, incident=timeline.incident(s, number=number), role=role)[0] == actor

    @rule(number=incidents, role=st.sampled_from(rules.ROLES), actor=st.sampled_from(PEOPLE))
    def decline(self, number: int, role: str, actor: str) -> None:
        self._apply(
            number,
            lambda s, i: roles.decline(s, incident=i, role=role, actor=actor, now=self._now()),
            "handover",
        )

    @rule(number=incidents, kind=st.sampled_from(rules.POSTABLE_KINDS), actor=st.sampled_from(PEOPLE))
    def note(self, number: int, kind: str, actor: str) -> None:
        self._apply(
            number,
            lambda s, i: service.add_entry(
                s, incident=i, kind=kind, text=f"{kind} by {actor}", actor=actor, now=self._now()
            ),
            kind,
        )

    @rule(minutes=st.integers(min_value=0, max_value=40))
    def expire(self, minutes: int) -> None:
        """Time passes and the engine runs: due offers expire (one entry each), comms reminders follow."""
        self.clock.advance(minutes=minutes)
        now = self._now()
        with transaction(self.sessions) as s:
            due = set(
                s.scalars(
                    select(RoleOffer.id).where(RoleOffer.state == "pending", RoleOffer.expires_at <= now)
                )
            )
            HandoverExpiry().run(s, now)
            CommsReminders().run(s, now)
        with transaction(self.sessions) as s:
            assert not s.scalars(
                select(RoleOffer.id).where(RoleOffer.state == "pending", RoleOffer.expires_at <= now)
            ).all()
            for offer_id in due:
                offer = s.get_one(RoleOffer, offer_id)
                texts = [
                    e.data for e in timeline.all_entries(s, incident=s.get_one(Incident, offer.incident_id))
                ]
                assert {"offer_id": offer_id, "state": "expired"}.items() <= next(
                    d for d in texts if d.get("offer_id") == offer_id and d.get("state") == "expired"
                ).items()

    # -------------------------------------------------------------- invariants

    @invariant()
    def exactly_one_ic_ordered_append_only_timeline_and_monotonic_time(self) -> None:
        with transaction(self.sessions) as s:
            for number in self.numbers:
                self._check(s, number)

    def _check(self, s: Session, number: int) -> None:
        incident = timeline.incident(s, number=number)
        entries = [(e.id, e.at, e.kind, e.text) for e in timeline.all_entries(s, incident=incident)]
        previous = self.entries.get(number, [])
        assert entries[: len(previous)] == previous, "the timeline was rewritten"
        new = entries[len(previous) :]
        if number in self.expect:
            kind = self.expect.pop(number)
            if kind is None:
                assert new == [], f"a refused change wrote {new}"
            else:
                assert kind in {e[2] for e in new}, f"no {kind} entry for a {kind} change: {new}"
        self.entries[number] = entries
        ids = [e[0] for e in entries]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        ats = [e[1] for e in entries]
        assert ats == sorted(ats), "entry times go backwards"
        assert incident.updated_at == ats[-1]

        ics = s.scalar(
            select(func.count())
            .select_from(IncidentRole)
            .where(IncidentRole.incident_id == incident.id, IncidentRole.role == "ic")
        )
        assert ics == 1, f"INC-{number} has {ics} IC holders"
        if number in self.accepted:
            role, actor = self.accepted.pop(number)
            assert roles.holder(s, incident=incident, role=role)[0] == actor
        pending = s.scalars(
            select(RoleOffer.role).where(RoleOffer.incident_id == incident.id, RoleOffer.state == "pending")
        ).all()
        assert len(pending) == len(set(pending)), "two pending offers for one role"

        stamps = {name: getattr(incident, name) for name in MILESTONES}
        for name, value in self.stamps.get(number, {}).items():
            if value is not None:
                assert stamps[name] == value, f"{name} moved"
        for value in stamps.values():
            assert value is None or value <= ats[-1]
        self.stamps[number] = stamps


def test_random_sequences_keep_the_invariants(sessions, applied_ops):
    run_state_machine_as_test(
        lambda: IncidentMachine(sessions, applied_ops),
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            derandomize=True,
        ),
    )
