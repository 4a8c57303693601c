"""The buttons on a page and on the opening message (Acknowledge, Escalate, Open), pressed in Slack.

Like a one-tap link (paging.actions): the person who pressed acts, via Slack; an incident someone
already acknowledged is not acknowledged again — the message says who did and when. The line that
replaces the buttons ("Acknowledged by @mei at 03:12") is built here; the adapter puts it in place.
"""

from __future__ import annotations

from typing import Any

from commandpost.incidents import rules, timeline
from commandpost.slack.command_rules import Command
from commandpost.slack.commands import Context, run

BUTTONS = ("ack", "escalate", "open")


def press(ctx: Context, *, action: str, number: int) -> str:
    """Acknowledge or escalate ``number`` as the caller; the line that replaces the buttons."""
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    label = rules.format_number(incident.number)
    tz = ctx.config.settings.timezone
    if action == "ack" and incident.acknowledged_at is not None:
        at = timeline.local(incident.acknowledged_at, tz, "%H:%M")
        return f"{label}: acknowledged by @{incident.acknowledged_by or 'someone'} at {at}"
    if not rules.is_open(incident.status):
        return f"{label} is {incident.status}; nothing was changed"
    run(ctx, Command(action, number))
    at = timeline.local(ctx.now, tz, "%H:%M")
    if action == "ack":
        return f"{label}: acknowledged by @{ctx.caller.person} at {at}"
    return f"{label}: escalated by @{ctx.caller.person} at {at}; the next level is being paged"


def replaced(blocks: Any, line: str) -> list[dict[str, Any]]:
    """The message's blocks with its Acknowledge/Escalate buttons gone and ``line`` beneath."""
    kept: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            rest = [e for e in block.get("elements") or [] if isinstance(e, dict) and e.get("url")]
            if rest:
                kept.append({**block, "elements": rest})
            continue
        kept.append(block)
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]
