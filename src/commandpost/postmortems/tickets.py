"""Action items' tickets in the team's tracker (issue 21): create one, keep its state, and let "done
there" be done here.

- :func:`create` asks the org's tracker (``trackers:`` in commandpost.yaml) for a ticket and stores
  the link in the same transaction as the item's ``ticket`` (its URL). The ticket's body ends with
  ``commandpost-action-item: #<id>`` so a person (or a later import) can match it back. A failure
  at the tracker raises before anything is stored: the item is unchanged.
- The state comes back two ways, both ending in :func:`apply`: the engine reads due tickets in
  batches (:func:`sync_due`, every ``tracker_sync_seconds``, pausing a tracker that rate-limits),
  and a verified webhook (:func:`on_webhook`) applies at once what the tracker says.
- Done (or closed) there → ``done`` here; closed as not planned / canceled → ``wontfix`` with a
  note; reopened there → ``open`` here, so the overdue tracking and the reminders pick it up
  again. Each change is one ``system`` line on the incident's timeline (not on a closed incident,
  which is read-only; the ticket row still holds the state and when it was read).

Services flush, never commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, RateLimited, Unavailable, ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import actions, rules, tracker_hooks, trackers
from commandpost.postmortems.models import ActionItem, ActionTicket, Postmortem

log = logging.getLogger("commandpost.postmortems")
BATCH = 50
MARKER = "commandpost-action-item"


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


def create(
    session: Session,
    *,
    item_id: int,
    tracker: str | None,
    client: trackers.Trackers,
    actor: str,
    now: datetime,
    sync_every: timedelta,
) -> ActionTicket:
    """The item's ticket, created in the tracker and linked (409 when it already has one)."""
    item = actions.get(session, item_id=item_id, for_update=True)
    existing = link_of(session, item.id)
    if existing is not None:
        raise Conflict(
            f"action item #{item.id} already has ticket {existing.key} in "
            f"{trackers.LABELS[existing.tracker]}: {existing.url}",
            details={"ticket": existing.url},
        )
    name, found = section(policy_service.current_config(session), tracker)
    incident = session.get_one(Incident, item.incident_id)
    number = incident_rules.format_number(incident.number)
    ticket = client.create(name, found, title=item.title, body=_body(item, number), now=now)
    link = ActionTicket(
        action_item_id=item.id,
        tracker=name,
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
    session.add(link)
    item.ticket = ticket.url[:500]
    item.updated_at = now
    session.flush()
    _record(
        session,
        item,
        f"action item #{item.id}: ticket {link.key} created in {trackers.LABELS[name]} by @{actor}: "
        f"{link.url}",
        data={"action_item": item.id, "tracker": name, "ticket": link.key, "url": link.url},
        now=now,
    )
    return link


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
    elif status == "open" and item.status not in rules.OPEN_ACTION_STATUSES:
        item.status, item.done_at = "open", None
    elif status == "dropped" and item.status in rules.OPEN_ACTION_STATUSES:
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


def next_sync(session: Session) -> datetime | None:
    found: datetime | None = session.scalar(select(func.min(ActionTicket.sync_due_at)))
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
