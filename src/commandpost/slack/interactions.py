"""The buttons on a page and on the opening message (Acknowledge, Escalate, Open), pressed in Slack.

Like a one-tap link (paging.actions): the person who pressed acts, via Slack; an incident someone
already acknowledged is not acknowledged again — the message says who did and when. The line that
replaces the buttons ("acknowledged by @mei at 03:12") is built here; the adapter puts it in place.
After an escalation the buttons stay beneath the line: the incident still waits for its ack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commandpost.incidents import rules, timeline
from commandpost.slack.command_rules import Command
from commandpost.slack.commands import Context, run

BUTTONS = ("ack", "escalate", "open")


@dataclass(frozen=True)
class Pressed:
    line: str
    settled: bool
    """The buttons have done their work: the incident is acknowledged or no longer open."""


def press(ctx: Context, *, action: str, number: int) -> Pressed:
    """Acknowledge or escalate ``number`` as the caller; the line for the message."""
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    label = rules.format_number(incident.number)
    tz = ctx.config.settings.timezone
    if action == "ack" and incident.acknowledged_at is not None:
        at = timeline.local(incident.acknowledged_at, tz, "%H:%M")
        return Pressed(f"{label}: acknowledged by @{incident.acknowledged_by or 'someone'} at {at}", True)
    if not rules.is_open(incident.status):
        return Pressed(f"{label} is {incident.status}; nothing was changed", True)
    run(ctx, Command(action, number))
    at = timeline.local(ctx.now, tz, "%H:%M")
    if action == "ack":
        return Pressed(f"{label}: acknowledged by @{ctx.caller.person} at {at}", True)
    line = f"{label}: escalated by @{ctx.caller.person} at {at}; the next level is being paged"
    return Pressed(line, incident.acknowledged_at is not None)


def replaced(blocks: Any, pressed: Pressed) -> list[dict[str, Any]]:
    """The message's blocks with ``pressed.line`` beneath; once settled, its Acknowledge/Escalate
    buttons gone (a link button such as Open stays)."""
    kept: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions" and pressed.settled:
            rest = [e for e in block.get("elements") or [] if isinstance(e, dict) and e.get("url")]
            if rest:
                kept.append({**block, "elements": rest})
            continue
        kept.append(block)
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": pressed.line}]}]
