"""Seams where other domains plug into the incident lifecycle, without incidents importing them.

Each event is a list of callables run *inside* the caller's transaction, in order, after the
incident change and its timeline entry are flushed. A hook that raises rolls the whole change
back, so hooks should decide (insert rows), never send.

Who fills them in:
- ``incident_opened`` / ``severity_raised``: ``paging.service`` starts or restarts escalation (its FYI
  to the severity route's ``notify`` targets also announces the command post to the team channel);
  the incident service itself applies the comms cadence of the new severity.
- ``comms_overdue`` / ``role_offered`` / ``offer_closed``: ``notify.incident_notices`` tells the
  effective Comms holder, the person offered a role, and the offerer when the offer is declined or
  expires.
- ``comms_posted`` / ``command_post_opened``: nothing registered (the channel is announced by the FYI).

Register with ``hooks.severity_raised.append(fn)`` at import time of the registering module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from commandpost.incidents.models import Incident, RoleOffer, TimelineEntry

IncidentOpened = Callable[[Session, "Incident", datetime], None]
SeverityRaised = Callable[[Session, "Incident", str, str, datetime], None]
EntryHook = Callable[[Session, "Incident", "TimelineEntry", datetime], None]
OfferHook = Callable[[Session, "Incident", "RoleOffer", datetime], None]

incident_opened: list[IncidentOpened] = []
severity_raised: list[SeverityRaised] = []
command_post_opened: list[EntryHook] = []
comms_posted: list[EntryHook] = []
comms_overdue: list[EntryHook] = []
role_offered: list[OfferHook] = []
offer_closed: list[OfferHook] = []


def _run(hooks: list[Any], *args: Any) -> None:
    for hook in list(hooks):
        hook(*args)


def on_incident_opened(session: Session, incident: Incident, now: datetime) -> None:
    """An incident was declared by a person or opened from an alert."""
    _run(incident_opened, session, incident, now)


def on_severity_raised(session: Session, incident: Incident, old: str, new: str, now: datetime) -> None:
    """Severity went up (e.g. SEV2 → SEV1): the new severity's paging applies from now."""
    _run(severity_raised, session, incident, old, new, now)


def on_command_post_opened(session: Session, incident: Incident, entry: TimelineEntry, now: datetime) -> None:
    _run(command_post_opened, session, incident, entry, now)


def on_comms_posted(session: Session, incident: Incident, entry: TimelineEntry, now: datetime) -> None:
    _run(comms_posted, session, incident, entry, now)


def on_comms_overdue(session: Session, incident: Incident, entry: TimelineEntry, now: datetime) -> None:
    _run(comms_overdue, session, incident, entry, now)


def on_role_offered(session: Session, incident: Incident, offer: RoleOffer, now: datetime) -> None:
    _run(role_offered, session, incident, offer, now)


def on_offer_closed(session: Session, incident: Incident, offer: RoleOffer, now: datetime) -> None:
    """An offer was declined or expired unanswered: whoever made it should know the role stayed put."""
    _run(offer_closed, session, incident, offer, now)
