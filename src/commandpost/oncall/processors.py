"""The engine processor that sends handoff notices: at every handoff, the outgoing and the incoming
person get ``handoff_notice`` on each of their contact methods (``notify.destinations_for_person``).

A layer that a stack of its schedule stacks sends none: the stack's handoffs (changes of who it
pages) are noticed instead, so one change reaches people once (docs/oncall.md, "Stacked layers").

It decides only: one outgoing message per (schedule, layer, handoff instant, person, channel),
its idempotency key, so a second pass or a second replica enqueues nothing twice. A handoff
missed while the engine was down is still noticed up to ``LOOKBACK`` later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.errors import Unavailable
from commandpost.notify import rules as notify_rules
from commandpost.notify import service as notify_service
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import handoff_notice
from commandpost.oncall import service as oncall_service
from commandpost.oncall.rules import Handoff
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig

LOOKBACK = timedelta(hours=6)
LOOKAHEAD = timedelta(days=8)
_TICK = timedelta(microseconds=1)


def _keys(config: OpsConfig, handoff: Handoff) -> list[tuple[str, str, str, str]]:
    """(person, channel, destination, key) for everyone the handoff's notice goes to."""
    schedule = handoff.schedule.encode("ascii", "backslashreplace").decode()
    out = []
    for person in (handoff.outgoing, handoff.incoming):
        if config.person(person) is None:
            continue
        for channel, destination in notify_service.destinations_for_person(config, person, None):
            key = notify_rules.message_key(
                "handoff",
                schedule=schedule,
                layer=handoff.layer,
                at=handoff.at.strftime("%Y%m%dT%H%M%SZ"),
                person=person,
                channel=channel,
            )
            out.append((person, channel, destination, key))
    return out


def _unnoticed(
    session: Session, config: OpsConfig, now: datetime
) -> Iterator[tuple[Handoff, list[tuple[str, str, str, str]]]]:
    """Handoffs of the last ``LOOKBACK`` whose notices are not all queued yet, with their targets."""
    for handoff in oncall_service.handoffs_between(
        session, config=config, start=now - LOOKBACK, end=now + _TICK, noticed=True
    ):
        targets = _keys(config, handoff)
        keys = [key for *_rest, key in targets]
        done = session.scalar(
            select(func.count()).select_from(OutgoingMessage).where(OutgoingMessage.key.in_(keys))
        )
        if targets and done != len(targets):
            yield handoff, targets


class HandoffNotices:
    name = "oncall.handoff_notices"

    def has_work(self, session: Session, now: datetime) -> bool:
        try:
            config = policy_service.current_config(session)
        except Unavailable:
            return False
        return next(_unnoticed(session, config, now), None) is not None

    def run(self, session: Session, now: datetime) -> int:
        try:
            config = policy_service.current_config(session)
        except Unavailable:
            return 0
        queued = 0
        for handoff, targets in _unnoticed(session, config, now):
            notice = handoff_notice.build(session, config, handoff, now=now)
            for person, channel, destination, key in targets:
                message = notify_service.enqueue(
                    session,
                    key=key,
                    channel=cast(notify_service.ChannelName, channel),
                    destination=destination,
                    subject=notice.subject(person),
                    body=notice.body(person),
                    severity=None,
                    incident_id=None,
                    person=person,
                    payload=notice.payload(),
                    now=now,
                )
                queued += message is not None
        return queued

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        try:
            config = policy_service.current_config(session)
        except Unavailable:
            return None
        upcoming = oncall_service.handoffs_between(
            session, config=config, start=now + _TICK, end=now + LOOKAHEAD, noticed=True
        )
        return upcoming[0].at if upcoming else None
