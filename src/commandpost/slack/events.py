"""What the command post hears (Events API): a 📌 puts a message on the timeline; a pasted secret is caught.

Slack retries an event it thinks was missed (``X-Slack-Retry-Num``), and two people may pin the same
message: each is recorded once per message, found by its ``ts`` among the incident's entries while the
incident's row is locked (so two deliveries at once still write one entry). Text is redacted by the
timeline before it is stored; for a secret, only its kind is kept, never the message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.incidents import roles, rules, service, timeline
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.security.redact import redact

PIN = "pushpin"
RECENT = 500
"""How many of the incident's newest entries are searched for an earlier delivery of the same message."""


def _already(session: Session, incident: Incident, *, kind: str, ts: str, what: str) -> bool:
    entries = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, TimelineEntry.kind == kind)
        .order_by(TimelineEntry.id.desc())
        .limit(RECENT)
    )
    return any((e.data or {}).get("slack_ts") == ts and e.data.get("slack") == what for e in entries)


def pin(
    session: Session,
    *,
    incident: Incident,
    text: str,
    author: str,
    pinned_by: str,
    ts: str,
    event_id: str,
    now: datetime,
) -> bool:
    """The pinned message as a note by its author (``pinned_by`` when they are nobody here); False when
    this message was pinned before."""
    incident = timeline.lock(session, incident=incident)
    if _already(session, incident, kind="note", ts=ts, what="pin"):
        return False
    by = "" if author == pinned_by else f" (pinned by @{pinned_by})"
    service.record(
        session,
        incident=incident,
        kind="note",
        text=f"{text}{by}",
        author=author,
        now=now,
        data={
            "slack": "pin",
            "slack_ts": ts,
            "slack_event": event_id,
            "pinned_by": pinned_by,
            "via": "Slack",
        },
    )
    return True


def secret_kinds(text: str) -> list[str]:
    """The kinds of secret ``text`` holds (the redaction detectors), none when it is clean."""
    return sorted(redact(text).kinds)


def secret_posted(
    session: Session,
    *,
    incident: Incident,
    who: str,
    kinds: list[str],
    ts: str,
    event_id: str,
    now: datetime,
) -> bool:
    """Tell the IC on the timeline (only the kinds are kept); False when this message was told before."""
    incident = timeline.lock(session, incident=incident)
    if _already(session, incident, kind="system", ts=ts, what="secret"):
        return False
    ic = roles.ic_holder(session, incident=incident)
    to = f"@{ic}: " if ic else ""
    service.record(
        session,
        incident=incident,
        kind="system",
        text=f"{rules.format_number(incident.number)}: {to}a secret ({', '.join(kinds)}) was posted in the "
        f"channel by {who}; ask them to delete it and rotate it",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={"slack": "secret", "slack_ts": ts, "slack_event": event_id, "kinds": kinds, "ic": ic},
    )
    return True


def warning(kinds: list[str], channel_name: str) -> str:
    """The ephemeral message the author sees: what was found and how to undo it."""
    return (
        f":warning: Your message in #{channel_name} holds a secret ({', '.join(kinds)}). "
        "Delete the message now (hover it, ⋯ → Delete message), then rotate the secret: everyone in "
        "the channel may have seen it, and Slack keeps it. commandpost stored nothing of it; the IC "
        "has been told. Share secrets through your secret manager, never in the channel."
    )
