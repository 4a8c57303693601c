"""Publishing to the public status page (issue 18): the public reads only what a person decided.

Nothing of an incident reaches ``/status`` until the Comms holder or the IC publishes: a public
title and message of their own (the internal title, SEV and INC number stay internal), the public
state (investigating → identified → monitoring → resolved) and the affected services, each with its
state at that moment (operational, degraded, partial outage, major outage, maintenance). Each
update keeps the state it was published with, so an "investigating" message reads "investigating"
for ever. A drill is never published, and one labelled a drill later drops off the page.

A publication is also a comms update (``comms.post``, audience external): it restarts the cadence
and is on the timeline, and is emailed to the page's confirmed subscribers (:mod:`subscribers`).
Closing an incident the page still shows unresolved is refused, and the resolved-but-not-published
state is a prompt (:func:`resolve_prompt`) on the incident page and in the answer to the status change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, ValidationFailed
from commandpost.incidents import comms, inputs, roles, rules, subscribers, timeline
from commandpost.incidents.models import Incident, PublicUpdate
from commandpost.policy.opsfiles import OpsConfig

PUBLIC_STATES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved")
SERVICE_STATES: tuple[str, ...] = ("operational", "degraded", "partial_outage", "major_outage", "maintenance")
STATE_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
SERVICE_LABELS = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "maintenance": "Under maintenance",
}
_RANK = {"operational": 0, "maintenance": 1, "degraded": 2, "partial_outage": 3, "major_outage": 4}
MAX_MESSAGE = 5000
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Control characters (NUL, terminal escapes; XML 1.0 forbids most of them in the feed) and the
bidirectional overrides that make public text read other than it is written."""


def is_drill(incident: Incident) -> bool:
    """Label ``drill`` is ``true`` (the string, any case, or JSON true), as the metrics read it."""
    return rules.is_drill(incident.labels)


def worst(states: Iterable[str]) -> str:
    """The worst of service states (``operational`` when there are none)."""
    return max(states, key=lambda s: _RANK.get(s, 0), default="operational")


def service_state(value: str) -> str:
    """``partial outage``, ``Partial-Outage`` and ``partial_outage`` are one state (422 naming the valid)."""
    cleaned = re.sub(r"[\s-]+", "_", str(value).strip().lower())
    return rules.choose(cleaned, SERVICE_STATES, "service state")


def pairs(values: Iterable[str]) -> dict[str, str]:
    """``["payment-platform=partial_outage", ""]`` (the form's selects, blank: not affected) as a map."""
    out: dict[str, str] = {}
    for value in values:
        if not value.strip():
            continue
        name, sep, state = value.partition("=")
        if not sep or not name.strip():
            raise ValidationFailed(
                f"services: {value[:80]!r} is not SERVICE=STATE, e.g. payment-platform=partial_outage",
                details={"field": "services"},
            )
        out[name.strip()] = state
    return out


def public_text(value: str | None, field: str, *, limit: int, required: bool) -> str:
    if value and _UNSAFE.search(value):
        raise ValidationFailed(
            f"{field} holds a control character (a NUL, an escape or a direction override); "
            "public text may break lines, nothing else",
            details={"field": field},
        )
    return inputs.text(value, field, required=required, limit=limit)


def _services(config: OpsConfig, given: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, state in given.items():
        service = inputs.service_name(config, str(name))
        if service is None:
            raise ValidationFailed("services: a service name is blank", details={"field": "services"})
        out[service] = service_state(state)
    return out


def latest(session: Session, *, incident: Incident) -> PublicUpdate | None:
    """The update the status page shows for the incident now (None: never published)."""
    query = select(PublicUpdate).where(PublicUpdate.incident_id == incident.id)
    return session.scalars(query.order_by(PublicUpdate.id.desc()).limit(1)).first()


def history(session: Session, *, incident: Incident) -> list[PublicUpdate]:
    """Every update published for the incident, newest first."""
    query = select(PublicUpdate).where(PublicUpdate.incident_id == incident.id)
    return list(session.scalars(query.order_by(PublicUpdate.id.desc())))


def affected(services: Mapping[str, str]) -> str:
    """``payment-platform: partial outage, ledger: degraded`` (or ``no service named``)."""
    if not services:
        return "no service named"
    return ", ".join(f"{name}: {SERVICE_LABELS.get(s, s).lower()}" for name, s in sorted(services.items()))


def publish(
    session: Session,
    *,
    incident: Incident,
    message: str,
    actor: str,
    config: OpsConfig,
    now: datetime,
    title: str | None = None,
    state: str | None = None,
    services: Mapping[str, str] | None = None,
) -> PublicUpdate:
    """Publish an update to the status page as the Comms holder or the IC (403 for anyone else).

    A later update may leave out the title, the state and the services: they stay as last published
    (a resolved update sets the services it names, or the last ones, to operational). The first one
    names them all (422 otherwise). A drill, and a closed incident, are refused (409)."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    number = rules.format_number(incident.number)
    if is_drill(incident):
        raise Conflict(
            f"{number} is a drill (label drill=true): drills are never published to the status page",
            details={"number": number, "drill": True},
        )
    roles.require_comms_or_ic(session, incident=incident, person=actor)
    previous = latest(session, incident=incident)
    text = public_text(message, "message", limit=MAX_MESSAGE, required=True)
    public_title = public_text(title, "title", limit=inputs.MAX_TITLE, required=False)
    public_title = public_title or (previous.title if previous else "")
    chosen = _services(config, services or {})
    first = (
        f"publish the first one on the incident page or with `commandpost incident publish {number} "
        "--title … --service SERVICE=STATE --message …`"
    )
    if not public_title:
        raise ValidationFailed(
            f"{number} is not on the status page yet: its first update needs a public title (the "
            f"incident's own title stays internal) — {first}",
            details={"field": "title"},
        )
    if not chosen and previous is None:
        raise ValidationFailed(
            f"{number} is not on the status page yet: its first update names the affected services with "
            f"their state — {first}",
            details={"field": "services"},
        )
    if state is not None and state.strip():
        public_state = rules.choose(state.strip().lower(), PUBLIC_STATES, "state")
    else:
        public_state = previous.state if previous else "investigating"
    if not chosen and previous is not None:
        chosen = dict(previous.services)
        if public_state == "resolved":
            chosen = dict.fromkeys(chosen, "operational")
    if public_state == "resolved" and (down := sorted(n for n, s in chosen.items() if s != "operational")):
        raise ValidationFailed(
            f"a resolved update leaves every service it names operational, not {', '.join(down)}",
            details={"field": "services", "value": down},
        )
    kind = "initial" if previous is None else ("resolved" if public_state == "resolved" else "update")
    entry = comms.post(
        session,
        incident=incident,
        kind=kind,
        audience="external",
        body=f"Status page · {STATE_LABELS[public_state]} · {affected(chosen)}\n{public_title}\n{text}",
        actor=actor,
        config=config,
        now=now,
        data={"status_page": True, "public_state": public_state, "services": chosen},
    )
    update = PublicUpdate(
        incident_id=incident.id,
        entry_id=entry.id,
        at=entry.at,
        author=actor,
        title=public_title,
        message=text,
        state=public_state,
        services=chosen,
    )
    session.add(update)
    session.flush()
    subscribers.announce(
        session,
        key=f"status-update:{update.id}",
        subject=f"{STATE_LABELS[public_state]}: {public_title}",
        body=f"{text}\n\n{affected(chosen)}",
        now=now,
    )
    return update


def shown_unresolved(session: Session, *, incident: Incident) -> PublicUpdate | None:
    """The update the status page shows while it does not say resolved (None: nothing to resolve)."""
    if is_drill(incident):
        return None
    shown = latest(session, incident=incident)
    return shown if shown is not None and shown.state != "resolved" else None


def resolve_prompt(session: Session, *, incident: Incident) -> str | None:
    """Once the incident is resolved, while the status page still shows it unresolved: what to do."""
    if rules.is_open(incident.status):
        return None
    shown = shown_unresolved(session, incident=incident)
    if shown is None:
        return None
    number = rules.format_number(incident.number)
    return (
        f"the status page still shows {number} as {shown.state} ({affected(shown.services)}): publish "
        f"the resolved update — commandpost incident publish {number} --state resolved --message …"
    )


def require_resolved_in_public(session: Session, *, incident: Incident) -> None:
    """Closing is refused while the status page shows the incident unresolved: once closed nobody
    could publish, and the page would show the outage for ever (409 saying what to publish)."""
    shown = shown_unresolved(session, incident=incident)
    if shown is None:
        return
    number = rules.format_number(incident.number)
    raise Conflict(
        f"{number} is still '{shown.state}' on the public status page ({affected(shown.services)}): "
        f"publish the resolved update first — commandpost incident publish {number} --state resolved "
        "--message …",
        details={"number": number, "public_state": shown.state},
    )
