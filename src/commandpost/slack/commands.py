"""What each ``/inc`` subcommand does: the same service calls the API makes, as the person who typed it.

An edge like ``api.py`` (it reaches paging and comms, which no domain imports): the caller opens one
transaction, :func:`run` acts and writes one audit row (``via: Slack``), and a refusal of the services
(409, 403, 404, 422) comes back as the exception, which the caller turns into an ephemeral sentence
after rolling back. The rules are the services' own: only the Ops holder ticks Mitigate steps, IC
moves only when the new IC accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import SectionBlock
from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import Forbidden, NotFound, ValidationFailed
from commandpost.incidents import comms, publish, roles, rules, service, timeline
from commandpost.incidents.models import Incident
from commandpost.paging import service as paging_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.runbooks import service as runbooks_service
from commandpost.security import service as security_service
from commandpost.slack.command_rules import Command, Target, help_text
from commandpost.slack.models import SlackChannel
from commandpost.slack.people import Caller

VIA = "Slack"


@dataclass(frozen=True)
class Reply:
    """The answer Slack shows: to the caller only (ephemeral) or to the channel."""

    text: str
    in_channel: bool = False
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        blocks = self.blocks or [SectionBlock(text=self.text[:3000]).to_dict()]
        return {
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            "text": self.text,
            "blocks": blocks,
        }


@dataclass(frozen=True)
class Context:
    """Where the command was typed and what it acts with."""

    session: Session
    caller: Caller
    config: OpsConfig
    now: datetime
    base_url: str
    channel_id: str = ""
    channel_name: str = ""
    command: str = "/inc"


def incident_at(session: Session, *, channel_id: str, channel_name: str) -> Incident | None:
    """The incident whose command post is this channel: by its Slack id (``slack_channel``), else by
    name (the incident's ``channel``, for a channel made by hand before Slack was set up)."""
    query = select(Incident).with_for_update()
    if channel_id:
        found = session.scalars(
            query.join(SlackChannel, SlackChannel.incident_id == Incident.id).where(
                SlackChannel.channel_id == channel_id
            )
        ).first()
        if found is not None:
            return found
    if not channel_name:
        return None
    return session.scalars(
        query.where(Incident.channel == channel_name).order_by(Incident.number.desc()).limit(1)
    ).first()


def incident_in(ctx: Context, number: int | None) -> Incident:
    """The incident named, else this channel's (locked for the change); 404 saying how to name one."""
    if number is not None:
        return timeline.incident(ctx.session, number=number, for_update=True)
    found = incident_at(ctx.session, channel_id=ctx.channel_id, channel_name=ctx.channel_name)
    if found is None:
        raise NotFound(
            f"#{ctx.channel_name or 'this channel'} is no incident's command post: name the incident, "
            f"e.g. `{ctx.command} ack INC-7`"
        )
    return found


def _handle(target: Target | None) -> str:
    """The caller resolves a mention to a handle before the transaction (it may ask Slack)."""
    if target is None or target.handle is None:
        raise ValidationFailed("name a person: @handle, or mention them")
    return target.handle


def _audit(ctx: Context, verb: str, number: str, **details: Any) -> None:
    security_service.record_audit(
        ctx.session,
        principal=ctx.caller.principal,
        action=f"slack {ctx.command} {verb}",
        target=f"incident:{number}",
        now=ctx.now,
        details={"via": VIA, **details},
    )


def run(ctx: Context, command: Command) -> Reply:
    """Act on ``command``; a refusal of the services propagates (the caller answers it ephemerally)."""
    if command.verb == "help":
        return Reply(help_text(ctx.command))
    if ctx.caller.scope not in ("responder", "admin"):
        raise Forbidden(
            f"@{ctx.caller.person}, your login and tokens are read-only, so you cannot act on incidents; "
            "ask an admin for the responder role"
        )
    if command.verb == "declare":
        return _declare(ctx, command)
    incident = incident_in(ctx, command.number)
    return _VERBS[command.verb](ctx, command, incident)


def _declare(ctx: Context, command: Command) -> Reply:
    found = ctx.config.service(command.service) if command.service else None
    severity = command.severity or (found.default_severity if found else "SEV3")
    incident = service.declare(
        ctx.session,
        title=command.text,
        severity=severity,
        service=command.service,
        actor=ctx.caller.person,
        now=ctx.now,
    )
    number = rules.format_number(incident.number)
    _audit(ctx, "declare", number, severity=incident.severity, service=incident.service)
    return declared(incident, ctx.caller.person, defaulted=command.severity is None)


def declared(incident: Incident, person: str, *, defaulted: bool = False) -> Reply:
    number = rules.format_number(incident.number)
    where = f" on {incident.service}" if incident.service else ""
    note = f" ({incident.severity} by default: `sev` changes it)" if defaulted else ""
    return Reply(
        f"{number} declared {incident.severity}{where} by @{person}: {incident.title}{note} — "
        f"command post #{incident.channel}; IC @{person}",
        in_channel=True,
    )


def _ack(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    already = incident.acknowledged_by
    service.acknowledge(ctx.session, incident=incident, person=ctx.caller.person, now=ctx.now, via=VIA)
    _audit(ctx, "ack", number)
    if already:
        return Reply(f"{number} was already acknowledged by @{already}; your ack is on the timeline")
    return Reply(f"{number} acknowledged by @{ctx.caller.person}", in_channel=True)


def _status(ctx: Context, command: Command, incident: Incident) -> Reply:
    assert command.status is not None
    number = rules.format_number(incident.number)
    old = incident.status
    service.change_status(
        ctx.session,
        incident=incident,
        status=command.status,
        note=command.text or None,
        actor=ctx.caller.person,
        now=ctx.now,
    )
    _audit(ctx, "status", number, status=command.status)
    note = f": {command.text}" if command.text else ""
    return Reply(f"{number} {old} → {command.status} by @{ctx.caller.person}{note}", in_channel=True)


def _sev(ctx: Context, command: Command, incident: Incident) -> Reply:
    assert command.severity is not None
    number = rules.format_number(incident.number)
    old = incident.severity
    service.change_severity(
        ctx.session,
        incident=incident,
        severity=command.severity,
        reason=command.text,
        actor=ctx.caller.person,
        now=ctx.now,
    )
    _audit(ctx, "sev", number, severity=command.severity)
    return Reply(
        f"{number} severity {old} → {command.severity} by @{ctx.caller.person}: {command.text}",
        in_channel=True,
    )


def _ic(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    me = ctx.caller.person
    if command.answer == "offer":
        assert command.target is not None
        to = _handle(command.target)
        roles.offer(
            ctx.session,
            incident=incident,
            role="ic",
            person=to,
            actor=me,
            is_admin=False,
            config=ctx.config,
            now=ctx.now,
        )
        _audit(ctx, "ic offer", number, to=to)
        return Reply(
            f"@{me} offers IC of {number} to @{to}; it stays with its holder until @{to} answers "
            f"`{ctx.command} ic accept` (or `decline`)",
            in_channel=True,
        )
    if command.answer == "accept":
        offer = roles.accept(ctx.session, incident=incident, role="ic", actor=me, now=ctx.now)
        _audit(ctx, "ic accept", number, offer_id=offer.id)
        was = f" from @{offer.from_person}" if offer.from_person else ""
        return Reply(f"@{me} is now IC of {number}{was}", in_channel=True)
    offer = roles.decline(ctx.session, incident=incident, role="ic", actor=me, now=ctx.now)
    _audit(ctx, "ic decline", number, offer_id=offer.id)
    return Reply(f"@{me} declined IC of {number}; it stays with @{offer.from_person}", in_channel=True)


def _role(ctx: Context, command: Command, incident: Incident) -> Reply:
    assert command.role is not None and command.target is not None
    number = rules.format_number(incident.number)
    to = _handle(command.target)
    view = roles.assign(
        ctx.session,
        incident=incident,
        role=command.role,
        person=to,
        actor=ctx.caller.person,
        is_admin=False,
        config=ctx.config,
        now=ctx.now,
    )
    _audit(ctx, "role", number, role=command.role, to=to)
    return Reply(f"{view.label} of {number} is now @{to} (by @{ctx.caller.person})", in_channel=True)


def _note(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    entry = service.add_entry(
        ctx.session, incident=incident, kind="note", text=command.text, actor=ctx.caller.person, now=ctx.now
    )
    _audit(ctx, "note", number, entry=entry.id)
    return Reply(f"Noted on {number}'s timeline: {entry.text}")


def _update(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    if command.public:  # the status page: as last published, with this message (publish.publish's rules)
        published = publish.publish(
            ctx.session, incident=incident, message=command.text, actor=ctx.caller.person, config=ctx.config,
            now=ctx.now,
        )  # fmt: skip
        _audit(ctx, "update", number, audience="public", state=published.state)
        return Reply(
            f"Public update (status page, {published.state}) on {number} by @{ctx.caller.person}: "
            f"{published.message}",
            in_channel=True,
        )
    entry = comms.post(
        ctx.session,
        incident=incident,
        kind="update",
        audience="internal",
        body=command.text,
        actor=ctx.caller.person,
        config=ctx.config,
        now=ctx.now,
    )
    _audit(ctx, "update", number, audience="internal")
    return Reply(f"Update on {number} by @{ctx.caller.person}: {entry.text}", in_channel=True)


def _escalate(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    done = paging_service.escalate_now(
        ctx.session, incident=incident, actor=ctx.caller.person, now=ctx.now, base_url=ctx.base_url
    )
    _audit(ctx, "escalate", number, queued=done.queued)
    return Reply(
        f"{number} escalated by @{ctx.caller.person}: paging level {done.escalation.level + 1} now",
        in_channel=True,
    )


def _runbook(ctx: Context, command: Command, incident: Incident) -> Reply:
    number = rules.format_number(incident.number)
    attached = runbooks_service.attachments(ctx.session, incident=incident)
    if not attached:
        raise NotFound(f"{number} has no runbook attached; attach one on its page or with the API")
    book = attached[0]
    if command.step is None:
        lines = [f"*{book.title}* ({book.slug}) on {number}:"]
        for step in book.view.steps:
            state = book.states.get(step.id)
            mark = {"done": "✅", "skipped": "⏭", "failed": "❌"}.get(state.state, "⬜") if state else "⬜"
            lines.append(f"{mark} {_short_id(step.id)} [{step.section}] {step.text}")
        return Reply("\n".join(lines)[:3000])
    assert command.state is not None
    marked = runbooks_service.mark_step(
        ctx.session,
        incident=incident,
        slug=book.slug,
        step_ref=command.step,
        state=command.state,
        by=ctx.caller.person,
        now=ctx.now,
    )
    _audit(ctx, "runbook", number, runbook=book.slug, step=marked.step.id, state=command.state)
    return Reply(
        f"{book.slug} step {_short_id(marked.step.id)} {command.state} by @{ctx.caller.person}: "
        f"{marked.step.text}",
        in_channel=True,
    )


def _short_id(step: str) -> str:
    """``3.2-a1b2c3`` → ``3.2``: what a person types back (the hash only tells edited steps apart)."""
    return step.split("-", 1)[0]


def _page(ctx: Context, command: Command, incident: Incident) -> Reply:
    raise ValidationFailed(
        f"`{ctx.command} page` is not available yet; `{ctx.command} escalate` pages the next level now"
    )


_VERBS: dict[str, Callable[[Context, Command, Incident], Reply]] = {
    "ack": _ack,
    "status": _status,
    "sev": _sev,
    "ic": _ic,
    "role": _role,
    "note": _note,
    "update": _update,
    "escalate": _escalate,
    "runbook": _runbook,
    "page": _page,
}
