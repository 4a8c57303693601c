"""Action items' tickets in the team's tracker (issue 21): create one, keep its state, and let "done
there" be done here.

- Creating a ticket is three steps, so that no transaction is open while the tracker answers (on
  SQLite one would hold the only write lock, and alert intake and pages would wait on GitHub):
  :func:`plan` reads what to ask in a short transaction, the caller asks the tracker
  (``Trackers.create``), and :func:`link` stores the link and the item's ``ticket`` (its URL) in a
  second one. The ticket's body ends with ``commandpost-action-item: #<id>`` so a person (or a later
  import) can match it back. A failure at the tracker raises before anything is stored. When a
  second request for the same item linked its ticket in between, :func:`link` answers 409 naming
  the linked ticket and the one just made (:func:`unlinked`), for a person to close.
- The state comes back two ways, both ending in :func:`apply`: the engine reads due tickets in
  batches (:func:`sync_due`, every ``tracker_sync_seconds``, pausing a tracker that rate-limits),
  and a verified webhook (:func:`on_webhook`) applies at once what the tracker says — once: its
  delivery id is remembered for :data:`DELIVERIES_KEPT` (:func:`remember`), so a replay changes
  nothing.
- Done (or closed) there → ``done`` here; closed as not planned / canceled → ``wontfix`` with a
  note; reopened there → ``open`` here, so the overdue tracking and the reminders pick it up
  again. Each change is one ``system`` line on the incident's timeline (not on a closed incident,
  which is read-only; the ticket row still holds the state and when it was read).

Services flush, never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.errors import CommandpostError, Conflict, RateLimited, Unavailable, ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import actions, states, tracker_hooks, trackers
from commandpost.postmortems.models import ActionItem, ActionTicket, Postmortem, TrackerDelivery

log = logging.getLogger("commandpost.postmortems")
BATCH = 50
MARKER = "commandpost-action-item"
DELIVERIES_KEPT = timedelta(days=7)
"""How long a webhook delivery id is remembered: trackers retry a failed delivery for hours, not days."""


def section(config: OpsConfig, tracker: str | None) -> tuple[str, Any]:
    """The tracker to use (``tracker`` or the org's default) and its section of commandpost.yaml."""
    configured = config.settings.trackers
    name = (tracker or configured.default or "").strip().lower()
    if not name:
        raise ValidationFailed(
            "no tracker configured: add trackers: to commandpost.yaml (see docs/postmortems.md)",
            details={"field": "tracker"},
        )
    if name not in trackers.TRACKERS:
        raise ValidationFailed(
            f"unknown tracker {name!r}; one of {', '.join(trackers.TRACKERS)}",
            details={"field": "tracker", "valid": list(trackers.TRACKERS)},
        )
    found = getattr(configured, name)
    if found is None:
        raise ValidationFailed(
            f"{trackers.LABELS[name]} is not configured: add trackers.{name} to commandpost.yaml",
            details={"field": "tracker", "value": name},
        )
    return name, found


def link_of(session: Session, item_id: int) -> ActionTicket | None:
    return session.scalars(select(ActionTicket).where(ActionTicket.action_item_id == item_id)).first()


def links_of(session: Session, item_ids: list[int]) -> dict[int, ActionTicket]:
    rows = session.scalars(select(ActionTicket).where(ActionTicket.action_item_id.in_(item_ids))).all()
    return {row.action_item_id: row for row in rows}


def link_dict(link: ActionTicket | None) -> dict[str, Any] | None:
    if link is None:
        return None
    return {
        "tracker": link.tracker,
        "key": link.key,
        "external_id": link.external_id,
        "url": link.url,
        "state": link.state,
        "status": link.status,
        "synced_at": link.synced_at,
        "last_error": link.last_error,
    }


def _body(item: ActionItem, number: str) -> str:
    lines = [
        f"From the {number} postmortem (commandpost).",
        f"Type {item.type} · owner @{item.owner} · due {item.due.isoformat()}",
    ]
    if item.verification:
        lines.append(f"Verification: {item.verification}")
    lines.append(f"{MARKER}: #{item.id}")
    return "\n\n".join(lines)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to ask the tracker for an item's ticket, read before it is asked."""

    item_id: int
    tracker: str
    section: Any
    title: str
    body: str


def _already(item_id: int, link: ActionTicket) -> str:
    return (
        f"action item #{item_id} already has ticket {link.key} in {trackers.LABELS[link.tracker]}: {link.url}"
    )


def plan(session: Session, *, item_id: int, tracker: str | None) -> Plan:
    """The ticket to ask for (404 no item, 409 it has a ticket, 422 no such tracker configured)."""
    item = actions.get(session, item_id=item_id)
    existing = link_of(session, item.id)
    if existing is not None:
        raise Conflict(_already(item.id, existing), details={"ticket": existing.url})
    name, found = section(policy_service.current_config(session), tracker)
    incident = session.get_one(Incident, item.incident_id)
    body = _body(item, incident_rules.format_number(incident.number))
    return Plan(item.id, name, found, item.title, body)


def unlinked(error: CommandpostError, ticket: trackers.Ticket) -> CommandpostError:
    """``error`` (storing the link failed) naming the ticket the tracker made, for a person to close."""
    label = trackers.LABELS[ticket.tracker]
    error.message += (
        f"; {label} ticket {ticket.key} was created but is not linked: close it there: {ticket.url}"
    )
    error.args = (error.message,)
    details = error.details if isinstance(error.details, dict) else {}
    error.details = {**details, "unlinked_ticket": ticket.url}
    return error


def link(
    session: Session,
    *,
    plan: Plan,
    ticket: trackers.Ticket,
    actor: str,
    now: datetime,
    sync_every: timedelta,
) -> ActionTicket:
    """Link the ticket the tracker made for ``plan``; 409 when another request linked one to the item
    since ``plan`` was read (seen under the item's row lock, or by the unique item id if two get past
    it). The caller names ``ticket`` in any error (:func:`unlinked`): the tracker has it, unlinked."""
    item = actions.get(session, item_id=plan.item_id, for_update=True)
    existing = link_of(session, item.id)
    if existing is not None:
        raise Conflict(_already(item.id, existing), details={"ticket": existing.url})
    link = ActionTicket(
        action_item_id=item.id,
        tracker=plan.tracker,
        external_id=ticket.external_id[:300],
        key=ticket.key[:300],
        url=ticket.url[:1000],
        state=ticket.state[:100],
        status=ticket.status,
        created_at=now,
        created_by=actor,
        synced_at=now,
        sync_due_at=now + sync_every,
    )
    try:
        with session.begin_nested():
            session.add(link)
    except IntegrityError:
        raise Conflict(f"action item #{item.id} was given a ticket by another request meanwhile") from None
    item.ticket = ticket.url[:500]
    item.updated_at = now
    session.flush()
    _record(
        session,
        item,
        f"action item #{item.id}: ticket {link.key} created in {trackers.LABELS[plan.tracker]} by @{actor}: "
        f"{link.url}",
        data={"action_item": item.id, "tracker": plan.tracker, "ticket": link.key, "url": link.url},
        now=now,
    )
    return link


def withdraw(session: Session, *, item_id: int) -> None:
    """Remove an item added only to have its ticket made, when the tracker refused: a refusal stores
    neither (unless a ticket got linked to it meanwhile). A runbook update request the item made on a
    Final postmortem stays: it is one per incident and runbook, not the item's own."""
    linked = exists().where(ActionTicket.action_item_id == ActionItem.id)
    session.execute(delete(ActionItem).where(ActionItem.id == item_id, ~linked))


def apply(
    session: Session, *, link: ActionTicket, state: str, status: trackers.Status, now: datetime, via: str
) -> bool:
    """Take the tracker's state; True when the action item's status changed."""
    link.state, link.status, link.synced_at, link.last_error = state[:100], status, now, None
    item = actions.get(session, item_id=link.action_item_id, for_update=True)
    label = trackers.LABELS[link.tracker]
    before = item.status
    if status == "done" and item.status != "done":
        item.status, item.done_at = "done", now
    elif status == "open" and item.status not in states.OPEN_ACTION_STATUSES:
        item.status, item.done_at = "open", None
    elif status == "dropped" and item.status in states.OPEN_ACTION_STATUSES:
        item.status, item.done_at = "wontfix", None
        item.note = f"{link.key} was closed as not planned in {label}"
    else:
        session.flush()
        return False
    item.updated_at = now
    session.flush()
    _record(
        session,
        item,
        f"action item #{item.id} is {item.status.replace('_', ' ')}: {link.key} is {state!r} in {label} "
        f"({via})",
        data={
            "action_item": item.id,
            "tracker": link.tracker,
            "ticket": link.key,
            "from": before,
            "to": item.status,
        },
        now=now,
    )
    return True


def _record(session: Session, item: ActionItem, text: str, *, data: dict[str, Any], now: datetime) -> None:
    """One line on the incident's timeline (a closed incident is read-only: nothing). The criteria
    are not re-run for it: a ticket's state is no new fact about the incident."""
    incident = session.get_one(Incident, item.incident_id)
    if incident.status == "closed":
        return
    pm = session.get_one(Postmortem, item.postmortem_id)
    current = pm.evaluated_for >= incident.updated_at
    incident_service.record(
        session,
        incident=incident,
        kind="system",
        text=text,
        author=incident_rules.SYSTEM_AUTHOR,
        now=now,
        data=data,
    )
    if current:
        pm.evaluated_for = incident.updated_at


# ---------------------------------------------------------------- state back: webhook and reads


def remember(session: Session, *, tracker: str, delivery_id: str, now: datetime) -> bool:
    """Note a webhook delivery by its id; False when it was already noted (a replay). Ids older than
    :data:`DELIVERIES_KEPT` are dropped here, as new ones arrive."""
    session.execute(delete(TrackerDelivery).where(TrackerDelivery.received_at < now - DELIVERIES_KEPT))
    try:
        with session.begin_nested():
            session.add(TrackerDelivery(tracker=tracker, delivery_id=delivery_id, received_at=now))
    except IntegrityError:
        return False
    return True


def on_webhook(session: Session, *, change: tracker_hooks.Change, now: datetime) -> ActionTicket | None:
    """Apply a verified delivery's state to the ticket it names (None: not one of ours)."""
    link = session.scalars(
        select(ActionTicket)
        .where(ActionTicket.tracker == change.tracker, ActionTicket.external_id == change.external_id)
        .with_for_update()
    ).first()
    if link is None:
        return None
    apply(session, link=link, state=change.state, status=change.status, now=now, via="webhook")
    return link


_FIRST_SYNC = select(func.min(ActionTicket.sync_due_at))
"""Built once: the engine asks every pass, twice (``has_work``, ``next_due``), and building it (and its
cache key) cost more than running it."""


def next_sync(session: Session) -> datetime | None:
    found: datetime | None = session.scalar(_FIRST_SYNC)
    return found


def sync_due(
    session: Session, *, client: trackers.Trackers, now: datetime, every: timedelta, batch: int = BATCH
) -> int:
    """Read up to ``batch`` tickets due by ``now``; a tracker that rate-limits is paused (its due
    tickets wait for its Retry-After, or GitHub's X-RateLimit-Reset). Returns the tickets read."""
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return 0
    rows = session.scalars(
        select(ActionTicket)
        .where(ActionTicket.sync_due_at <= now)
        .order_by(ActionTicket.sync_due_at, ActionTicket.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    paused: dict[str, datetime] = {}
    read = 0
    for link in rows:
        if link.tracker in paused:
            link.sync_due_at = paused[link.tracker]
            continue
        found = getattr(config.settings.trackers, link.tracker, None)
        if found is None:
            link.last_error = f"{trackers.LABELS[link.tracker]} is no longer configured in commandpost.yaml"
            link.sync_due_at = now + every
            continue
        try:
            reading = client.read(link.tracker, found, link.external_id, now=now)
        except RateLimited as exc:
            paused[link.tracker] = link.sync_due_at = now + timedelta(seconds=exc.retry_after)
            link.last_error = exc.message
            continue
        except (trackers.TrackerFailed, ValidationFailed) as exc:
            log.warning("ticket %s: %s", link.key, exc.message)
            link.last_error, link.sync_due_at = exc.message, now + every
            continue
        read += 1
        apply(
            session, link=link, state=reading.ticket.state, status=reading.ticket.status, now=now, via="read"
        )
        link.sync_due_at = now + every
        if reading.pause_until is not None and reading.pause_until > now:
            paused[link.tracker] = reading.pause_until
    session.flush()
    return read
