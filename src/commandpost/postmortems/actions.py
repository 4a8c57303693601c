"""Action items (guide §5-4): SMART when created, tracked to done, their owners reminded before and after due.

"An undone postmortem is just an essay": every item has an owner from ``people.yaml``, a due day in
the org's timezone, a ticket, and for ``prevent`` a verification. Reminders are *decided* here
(``notify.enqueue`` with the key ``action-item:{id}:{before|after}:{due}:{channel}``) and sent by
the notify sender. Services flush, never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, NotFound, Unavailable, ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import blameless, draft, reminders, smart, states
from commandpost.postmortems.models import ActionItem, Postmortem
from commandpost.runbooks import service as runbooks_service
from commandpost.security.redact import redact_text

log = logging.getLogger("commandpost.postmortems")

EDITABLE = ("title", "type", "owner", "due", "ticket", "verification", "runbook", "status", "note")
MAX_TEXT = 2000


def item_dict(item: ActionItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "type": item.type,
        "owner": item.owner,
        "due": item.due.isoformat(),
        "ticket": item.ticket,
        "status": item.status,
        "verification": item.verification,
        "runbook": item.runbook,
        "note": item.note,
        "origin": item.origin,
        "done_at": item.done_at.isoformat() if item.done_at else None,
    }


def _context(config: OpsConfig, now: datetime, **overrides: Any) -> smart.SmartContext:
    people = blameless.People.of(config.people)
    values: dict[str, Any] = {
        "today": reminders.local_today(now, config.settings.timezone),
        "timezone": config.settings.timezone,
        "vague_words": config.settings.postmortem.vague_words,
        "people": {p.handle for p in config.people},
        "runbooks": {rb.slug for rb in config.runbooks},
        "blame": lambda text: blameless.check_text(text, people),
    }
    values.update(overrides)
    return smart.SmartContext(**values)


def _text(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"text longer than {MAX_TEXT} characters")
    return redact_text(text) if text else None


def _owner(value: str | None) -> str | None:
    return incident_rules.clean_person(value) if value and value.strip() else None


def add(
    session: Session,
    *,
    pm: Postmortem,
    incident: Incident,
    title: str,
    type: str,
    owner: str | None,
    due: date | None,
    ticket: str | None,
    verification: str | None = None,
    runbook: str | None = None,
    ticket_follows: bool = False,
    actor: str,
    now: datetime,
) -> ActionItem:
    """A SMART action item (422 naming every rule broken; nothing stored). On a Final postmortem a
    named runbook is flagged for update at once. ``ticket_follows``: the caller then creates its ticket
    in the tracker (tickets.plan, then tickets.link), so none is asked for here."""
    if pm.status == "not_required":
        number = incident_rules.format_number(incident.number)
        raise Conflict(
            f"{number} has no postmortem draft; start one first: commandpost postmortem start {number}"
        )
    config = policy_service.current_config(session)
    candidate = smart.ActionDraft(
        title=(title or "").strip(),
        type=(type or "").strip().lower(),
        owner=_owner(owner),
        due=due,
        ticket=smart.normalize_ticket(ticket),
        verification=(verification or "").strip() or None,
        runbook=(runbook or "").strip() or None,
    )
    context = _context(config, now, require_ticket=not ticket_follows)
    smart.raise_if_not_smart(smart.smart_problems(candidate, context))
    item = ActionItem(
        postmortem_id=pm.id,
        incident_id=incident.id,
        title=redact_text(candidate.title),
        type=candidate.type,
        owner=candidate.owner or "",
        due=candidate.due,
        ticket=redact_text(candidate.ticket) if candidate.ticket else None,
        status="open",
        verification=_text(candidate.verification),
        runbook=candidate.runbook,
        note="",
        origin=None,
        created_at=now,
        created_by=actor,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    if pm.status == "final" and item.runbook:
        request_runbook_update(session, incident=incident, item=item, actor=actor, now=now)
    return item


def prefill(
    session: Session, *, pm: Postmortem, incident: Incident, spec: draft.ItemSpec, now: datetime
) -> ActionItem:
    """The machine's own item (no ticket yet: Final asks for one)."""
    item = ActionItem(
        postmortem_id=pm.id,
        incident_id=incident.id,
        title=spec.title,
        type=spec.type,
        owner=spec.owner,
        due=spec.due,
        ticket=None,
        status="open",
        verification=spec.verification,
        runbook=spec.runbook,
        note="",
        origin=spec.origin,
        created_at=now,
        created_by=incident_rules.SYSTEM_AUTHOR,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def get(session: Session, *, item_id: int, for_update: bool = False) -> ActionItem:
    query = select(ActionItem).where(ActionItem.id == item_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    item = session.scalars(query).first()
    if item is None:
        raise NotFound(f"no action item #{item_id}", details={"id": item_id})
    return item


def update_item(
    session: Session, *, item_id: int, changes: Mapping[str, Any], actor: str, now: datetime
) -> ActionItem:
    """Change fields or status; the result must still be SMART (a new due day must be in the future)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"cannot change {', '.join(unknown)}; editable: {', '.join(EDITABLE)}",
            details={"valid": list(EDITABLE)},
        )
    item = get(session, item_id=item_id, for_update=True)
    config = policy_service.current_config(session)
    merged = smart.ActionDraft(
        title=str(changes.get("title", item.title) or "").strip(),
        type=str(changes.get("type", item.type) or "").strip().lower(),
        owner=_owner(changes["owner"]) if "owner" in changes else item.owner,
        due=changes.get("due", item.due),
        ticket=smart.normalize_ticket(changes["ticket"]) if "ticket" in changes else item.ticket,
        verification=(str(changes.get("verification", item.verification) or "").strip() or None),
        runbook=(str(changes.get("runbook", item.runbook) or "").strip() or None),
    )
    ctx = _context(
        config,
        now,
        check_due="due" in changes and changes["due"] != item.due,
        require_ticket="ticket" in changes or item.ticket is not None,
    )
    smart.raise_if_not_smart(smart.smart_problems(merged, ctx), what=f"action item #{item.id}")
    note = str(changes.get("note") or "")
    status = states.check_action_status(item.status, str(changes.get("status", item.status)), note=note)
    runbook_added = merged.runbook is not None and merged.runbook != item.runbook
    assert merged.due is not None  # Time-bound refused a missing due day above
    item.title = redact_text(merged.title)
    item.type, item.owner, item.due = merged.type, merged.owner or item.owner, merged.due
    item.ticket = redact_text(merged.ticket) if merged.ticket else None
    item.verification = _text(merged.verification)
    item.runbook = merged.runbook
    if "note" in changes:
        item.note = _text(note) or ""
    if status != item.status:
        item.done_at = now if status == "done" else None
        item.status = status
    item.updated_at = now
    session.flush()
    pm = session.get_one(Postmortem, item.postmortem_id)
    if runbook_added and pm.status == "final":
        incident = session.get_one(Incident, item.incident_id)
        request_runbook_update(session, incident=incident, item=item, actor=actor, now=now)
    return item


def request_runbook_update(
    session: Session, *, incident: Incident, item: ActionItem, actor: str, now: datetime
) -> None:
    """The runbooks domain's RB015 seam: the runbook stays flagged until its last_updated moves on."""
    assert item.runbook is not None
    runbooks_service.request_update(
        session,
        slug=item.runbook,
        incident=incident,
        source=f"postmortem action item #{item.id}",
        by=actor,
        now=now,
        note=f"action item #{item.id}: {item.title}",
    )


# ---------------------------------------------------------------- tracking


def list_items(
    session: Session,
    *,
    now: datetime,
    overdue: bool = False,
    owner: str | None = None,
    status: str | None = None,
    incident: Incident | None = None,
    limit: int = 200,
) -> list[tuple[ActionItem, int]]:
    """``(item, incident number)`` by due day. ``overdue``: open or in progress, past its due day."""
    query = select(ActionItem, Incident.number).join(Incident, Incident.id == ActionItem.incident_id)
    if overdue:
        query = query.where(*_overdue(session, now))
    if owner:
        query = query.where(ActionItem.owner == incident_rules.clean_person(owner))
    if status:
        wanted = incident_rules.choose(status.strip().lower(), states.ACTION_STATUSES, "status")
        query = query.where(ActionItem.status == wanted)
    if incident is not None:
        query = query.where(ActionItem.incident_id == incident.id)
    rows = session.execute(
        query.order_by(ActionItem.due, ActionItem.id).limit(max(1, min(limit, 1000)))
    ).all()
    return [(item, number) for item, number in rows]


def _today(session: Session, now: datetime) -> date:
    try:
        timezone = policy_service.current_config(session).settings.timezone
    except Unavailable:
        timezone = "UTC"
    return reminders.local_today(now, timezone)


def _overdue(session: Session, now: datetime) -> tuple[Any, ...]:
    return (ActionItem.status.in_(states.OPEN_ACTION_STATUSES), ActionItem.due < _today(session, now))


def overdue_count(session: Session, *, now: datetime) -> int:
    """Open or in-progress items past their due day (the metrics page shows it)."""
    return session.scalar(select(func.count()).select_from(ActionItem).where(*_overdue(session, now))) or 0


def counts(session: Session, *, now: datetime) -> dict[str, int]:
    rows = session.execute(select(ActionItem.status, func.count()).group_by(ActionItem.status)).all()
    out = {status: 0 for status in states.ACTION_STATUSES}
    out.update({status: int(n) for status, n in rows})
    out["overdue"] = overdue_count(session, now=now)
    return out


def due_lines(session: Session, *, person: str, now: datetime, within_days: int = 7) -> list[str]:
    """One line per open item of ``person`` due within ``within_days`` or overdue (the on-call handoff
    notice lists them): ``#12 due 2026-07-01 (INC-7, overdue): Add the missing alert …``."""
    today = _today(session, now)
    rows = session.execute(
        select(ActionItem, Incident.number)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(
            ActionItem.owner == incident_rules.clean_person(person),
            ActionItem.status.in_(states.OPEN_ACTION_STATUSES),
            ActionItem.due <= today + timedelta(days=within_days),
        )
        .order_by(ActionItem.due, ActionItem.id)
    ).all()
    lines = []
    for item, number in rows:
        where = incident_rules.format_number(number) + (", overdue" if item.due < today else "")
        lines.append(f"#{item.id} due {item.due.isoformat()} ({where}): {item.title}")
    return lines


# ---------------------------------------------------------------- reminders (engine)


def remind_due(session: Session, *, now: datetime) -> int:
    """Queue the reminders owed at ``now``: two days before the due day, and the morning after it."""
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return 0
    timezone = config.settings.timezone
    horizon = reminders.local_today(now, timezone) + reminders.REMIND_BEFORE  # later due days owe nothing yet
    rows = session.execute(
        select(ActionItem, Incident)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.status.in_(states.OPEN_ACTION_STATUSES), ActionItem.due <= horizon)
        .order_by(ActionItem.due, ActionItem.id)
    ).all()
    done = 0
    for item, incident in rows:
        kind = reminders.due_reminder(
            item.due,
            now,
            timezone,
            before_sent_for=item.reminded_before_for,
            after_sent_for=item.reminded_after_for,
        )
        if kind is None or not _claim(session, item, kind):
            continue
        _enqueue(session, config, item, incident, kind, now=now)
        done += 1
    return done


def _claim(session: Session, item: ActionItem, kind: reminders.Kind) -> bool:
    """A conditional update: exactly one engine pass writes each reminder."""
    column = ActionItem.reminded_before_for if kind == "before" else ActionItem.reminded_after_for
    result = session.execute(
        update(ActionItem)
        .where(
            ActionItem.id == item.id,
            ActionItem.due == item.due,
            ActionItem.status.in_(states.OPEN_ACTION_STATUSES),
            or_(column.is_(None), column != item.due),
        )
        .values({column.key: item.due})
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.refresh(item)
    return True


def reminder_text(item: ActionItem, number: str, kind: reminders.Kind) -> tuple[str, str]:
    when = (
        f"is due {item.due.isoformat()}" if kind == "before" else f"is overdue (due {item.due.isoformat()})"
    )
    subject = f"Action item #{item.id} from the {number} postmortem {when}"
    ticket = item.ticket or "none yet"
    body = (
        f"{item.title}\n"
        f"Type {item.type} · owner @{item.owner} · ticket {ticket} · status {item.status.replace('_', ' ')}\n"
        f"Done? commandpost action done {item.id}   "
        f"New date? commandpost action update {item.id} --due YYYY-MM-DD"
    )
    return subject, body


def _enqueue(
    session: Session,
    config: OpsConfig,
    item: ActionItem,
    incident: Incident,
    kind: reminders.Kind,
    *,
    now: datetime,
) -> None:
    number = incident_rules.format_number(incident.number)
    subject, body = reminder_text(item, number, kind)
    try:
        destinations = notify_service.destinations_for_person(config, item.owner, None)
    except NotFound:
        log.warning(
            "action item #%s: owner @%s is not in people.yaml; reminder not sent", item.id, item.owner
        )
        return
    for channel, destination in destinations:
        notify_service.enqueue(
            session,
            key=f"action-item:{item.id}:{kind}:{item.due.isoformat()}:{channel}",
            channel=channel,  # type: ignore[arg-type]
            destination=destination,
            subject=subject,
            body=body,
            severity=None,
            incident_id=incident.id,
            person=item.owner,
            payload={"action_item": item.id, "kind": kind, "due": item.due.isoformat(), "incident": number},
            now=now,
        )


_OPEN_DUES = select(ActionItem.due, ActionItem.reminded_before_for, ActionItem.reminded_after_for).where(
    ActionItem.status.in_([literal(status, ActionItem.status.type) for status in states.OPEN_ACTION_STATUSES])
)
"""Built once: :func:`next_reminder` runs twice an idle engine pass (``has_work``, ``next_due``). The
open statuses as bound literals: an ``IN`` of plain values is an expanding parameter, rendered into
the SQL anew on every execution (a third of this query's cost); the SQL is the same ``IN (?, ?)``."""


def next_reminder(session: Session) -> datetime | None:
    """The earliest instant :func:`remind_due` has work. The engine asks every pass: with no open
    action item it answers from one query, without reading the ops revision."""
    rows = session.execute(_OPEN_DUES).all()
    if not rows:
        return None
    try:
        timezone = policy_service.current_config(session).settings.timezone
    except Unavailable:
        return None
    times = [
        reminders.next_reminder_at(due, timezone, before_sent_for=before, after_sent_for=after)
        for due, before, after in rows
    ]
    return min((t for t in times if t is not None), default=None)
