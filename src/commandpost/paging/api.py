"""Escalation over HTTP: ``POST /incidents/{number}/escalate`` and ``GET /incidents/{number}/pages``.

Acknowledging is the incidents API's ``POST /incidents/{number}/ack``: the engine reads the
incident's acknowledgement when the next level falls due, so it needs no endpoint here. An
escalation wakes the engine after the commit (``engine.wakeup``), so its pages go out at once.
"""

from __future__ import annotations

from fastapi import APIRouter

from commandpost.deps import Ctx, Reader, Responder
from commandpost.engine import wakeup
from commandpost.errors import Forbidden
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.notify import service as notify_service
from commandpost.paging import page_test, service
from commandpost.paging.schemas import (
    EscalatedOut,
    EscalationOut,
    PageOut,
    PagesOut,
    PageTestMethodOut,
    PageTestOut,
)
from commandpost.policy import service as policy_service

router = APIRouter(prefix="/api/v1", tags=["paging"])


@router.post(
    "/incidents/{number}/escalate",
    response_model=EscalatedOut,
    summary="Page the next level now (when in doubt, escalate); 409 when nobody is left to page",
)
def escalate(number: str, ctx: Responder) -> EscalatedOut:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    ctx.audit_target(f"incident:{label}")
    done = service.escalate_now(
        ctx.session,
        incident=incident,
        actor=ctx.principal.person,
        now=ctx.now,
        base_url=ctx.request.app.state.settings.base_url(),
    )
    config = policy_service.current_config(ctx.session)
    return EscalatedOut(
        number=label, queued=done.queued, escalation=EscalationOut.of(done.escalation, incident, config)
    )


@router.get(
    "/incidents/{number}/pages",
    response_model=PagesOut,
    summary="Who was paged when, on which channel, delivered or not; and where escalation stands",
)
def pages(number: str, ctx: Reader) -> PagesOut:
    incident = timeline.incident(ctx.session, number=number)
    esc = service.escalation_of(ctx.session, incident=incident)
    config = policy_service.current_config(ctx.session)
    messages = notify_service.messages_for_incident(ctx.session, incident_id=incident.id)
    attempts = notify_service.attempts_for(ctx.session, message_ids=[m.id for m in messages])
    return PagesOut(
        number=incident_rules.format_number(incident.number),
        severity=incident.severity,
        escalation=EscalationOut.of(esc, incident, config) if esc else None,
        pages=[PageOut.of(m, attempts[m.id]) for m in messages],
    )


def _test_report(ctx: Ctx, handle: str) -> PageTestOut:
    test_id, methods = page_test.latest(ctx.session, person=handle)
    return PageTestOut(
        person=handle,
        test_id=test_id,
        methods=[PageTestMethodOut.model_validate(m, from_attributes=True) for m in methods],
    )


@router.post(
    "/people/{handle}/page-test",
    response_model=PageTestOut,
    status_code=202,
    summary="Send a test page through each of a person's methods (yourself; an admin: anyone)",
)
def send_page_test(handle: str, ctx: Responder) -> PageTestOut:
    person = handle.strip().lstrip("@")
    if person != ctx.principal.person and not ctx.principal.is_admin:
        raise Forbidden(
            f"you may test your own methods only (@{ctx.principal.person}); an admin may test anyone's"
        )
    ctx.audit_target(f"person:{person}")
    config = policy_service.current_config(ctx.session)
    page_test.send(ctx.session, config=config, person=person, by=ctx.principal.person, now=ctx.now)
    wakeup.request(ctx.session)
    return _test_report(ctx, person)


@router.get(
    "/people/{handle}/page-test",
    response_model=PageTestOut,
    summary="The newest test page of a person: delivered and acknowledged, per method",
)
def page_test_report(handle: str, ctx: Reader) -> PageTestOut:
    return _test_report(ctx, handle.strip().lstrip("@"))
