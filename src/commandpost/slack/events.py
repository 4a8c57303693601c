"""What the command post hears (Events API): a 📌 puts a message on the timeline; a pasted secret is caught.

Slack retries an event it thinks was missed (``X-Slack-Retry-Num``), and two people may pin the same
message: each is recorded once per message, found by its ``ts`` among the incident's entries while the
incident's row is locked (so two deliveries at once still write one entry). Text is redacted by the
timeline before it is stored; for a secret, only its kind is kept, never the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.incidents import roles, rules, service, timeline
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.security.redact import redact

PIN = "pushpin"
RECENT = 500
"""How many of the incident's newest entries are searched for an earlier delivery of the same message."""
MAX_PINNED = 20_000
"""A pinned message is cut here (Slack allows 40,000 characters; a note typed on the page 20,000)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain(text: str) -> str:
    """The message as the timeline keeps it: a NUL or another control character (a terminal escape)
    becomes U+FFFD, as a NUL does in every stored column; line breaks and tabs stay."""
    text = _CONTROL.sub("\ufffd", text)
    return text if len(text) <= MAX_PINNED else text[: MAX_PINNED - 1] + "…"


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
        text=f"{_plain(text)}{by}",
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


@dataclass(frozen=True)
class Caught:
    """A secret posted in ``number``'s channel, and who holds IC there (to be told)."""

    number: str
    ic: str | None


def secret_posted(
    session: Session,
    *,
    incident: Incident,
    who: str,
    kinds: list[str],
    ts: str,
    event_id: str,
    now: datetime,
) -> Caught | None:
    """Note it on the timeline for the IC (only the kinds are kept); None when this message was caught
    before. A closed incident's timeline is read-only: nothing is noted, the author is still warned."""
    incident = timeline.lock(session, incident=incident)
    number = rules.format_number(incident.number)
    ic = roles.ic_holder(session, incident=incident)
    if incident.status == "closed":
        return Caught(number, ic)
    if _already(session, incident, kind="system", ts=ts, what="secret"):
        return None
    to = f"@{ic}: " if ic else ""
    service.record(
        session,
        incident=incident,
        kind="system",
        text=f"{number}: {to}a secret ({', '.join(kinds)}) was posted in the channel by {who}; ask them "
        "to delete it and rotate it",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={"slack": "secret", "slack_ts": ts, "slack_event": event_id, "kinds": kinds, "ic": ic},
    )
    return Caught(number, ic)


def warning(kinds: list[str], channel_name: str, *, ic: str | None, author: str | None) -> str:
    """The ephemeral message the author sees: what was found, how to undo it, and who knows."""
    if ic is None:
        told = "Nobody holds IC yet."
    elif ic == author:
        told = "You are the IC: make sure it is rotated."
    else:
        told = f"The IC (@{ic}) has been told."
    return (
        f":warning: Your message in #{channel_name} holds a secret ({', '.join(kinds)}). "
        "Delete the message now (hover it, ⋯ → Delete message), then rotate the secret: everyone in "
        "the channel may have seen it, and Slack keeps it. commandpost stored only its kind, never the "
        f"message. {told} Share secrets through your secret manager, never in the channel."
    )


def ic_notice(caught: Caught, kinds: list[str], *, who: str, channel_name: str) -> str:
    """What the IC is told (the secret itself never)."""
    return (
        f":warning: {caught.number}: {who} posted a secret ({', '.join(kinds)}) in #{channel_name}. They "
        "were told to delete the message and rotate the secret; make sure it is rotated."
    )
