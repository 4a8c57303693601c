"""Alert intake endpoints and heartbeat pings (no bearer token: the integration key is the credential)
and the alerts API.

Intake endpoints read the raw body and leave parsing to the source (orjson, no pydantic model on
the hot path); they answer 2xx only once the events are committed (see ``intake/committer.py``).
``intake_router`` has no ``/api/v1`` prefix: PagerDuty clients post to ``<base>/v2/enqueue``.

The app serves the intake paths ahead of its middleware stack (:mod:`commandpost.alerts.intake.front`):
FastAPI's per-request machinery costs more CPU than storing the event. The operations below
document the endpoints in OpenAPI and answer the same way should a request reach them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from commandpost.alerts import service, subscriptions
from commandpost.alerts.intake.pipeline import Intake, IntakeReply
from commandpost.alerts.schemas import (
    AlertDetailOut,
    AlertOut,
    ChangeOut,
    IncidentChangesOut,
    SubscriptionOut,
    incident_ref,
)
from commandpost.deps import ROW_ID_MAX, Admin, Reader, RowId

intake_router = APIRouter(tags=["intake"])
router = APIRouter(prefix="/api/v1", tags=["alerts"])

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
_INTAKE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "committed; the body says what each event did (outcome, incident)"},
    400: {"description": "malformed body"},
    404: {"description": "unknown source, or no active integration with this key"},
    413: {"description": "body over the size limit"},
    422: {"description": "well-formed but invalid event; every problem listed with its path"},
    429: {"description": "over the integration's rate limit (Retry-After)"},
    503: {"description": "Alertmanager over its rate limit, or the database is unavailable (Retry-After)"},
}


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.alert_intake  # created with the app (create_app)
    return intake


def _respond(reply: IntakeReply) -> Response:
    return Response(
        reply.content(), status_code=reply.status, media_type="application/json", headers=reply.headers
    )


@intake_router.post(
    "/v2/enqueue",
    status_code=202,
    summary="PagerDuty Events API v2: trigger / acknowledge / resolve (routing_key = integration key)",
    openapi_extra=_BODY,
    responses={202: _INTAKE_RESPONSES[202], 400: {"description": "invalid event (PagerDuty's shape)"}},
)
async def pagerduty_enqueue(request: Request) -> Response:
    return _respond(await _intake(request).pagerduty(await request.body()))


@intake_router.post(
    "/v2/change/enqueue",
    status_code=202,
    summary="PagerDuty change events (deploys …): shown as recent changes on the service's incidents",
    openapi_extra=_BODY,
    responses={202: _INTAKE_RESPONSES[202], 400: {"description": "invalid event (PagerDuty's shape)"}},
)
async def pagerduty_change_enqueue(request: Request) -> Response:
    return _respond(await _intake(request).pagerduty(await request.body(), change=True))


@intake_router.post(
    "/api/v1/intake/{source}/{key}",
    status_code=202,
    summary="Alerts in a source's native format: alertmanager, grafana, sns, generic",
    openapi_extra=_BODY,
    responses=_INTAKE_RESPONSES,
)
async def intake(source: str, key: str, request: Request) -> Response:
    body = await request.body()
    return _respond(await _intake(request).receive(source, key, body, request.headers))


_HEARTBEAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "pinged: the heartbeat's name, its next due time, whether a miss was resolved"},
    404: {"description": "no active heartbeat has this key (the same answer for any unknown key)"},
    413: {"description": "body over the size limit (the body is not read otherwise)"},
    429: {"description": "over the rate limit (Retry-After)"},
}


@intake_router.get(
    "/api/v1/heartbeats/{key}",
    summary="Ping a heartbeat (the key is the credential): due again one interval + grace from now",
    responses=_HEARTBEAT_RESPONSES,
)
async def heartbeat_get(key: str, request: Request) -> Response:
    return _respond(await _intake(request).heartbeat(key))


@intake_router.post(
    "/api/v1/heartbeats/{key}",
    summary="Ping a heartbeat, as GET does; a body (curl -d, a webhook's JSON) is accepted and ignored",
    responses=_HEARTBEAT_RESPONSES,
)
async def heartbeat_post(key: str, request: Request) -> Response:
    await request.body()  # read, so the body limit applies (413), then ignored
    return _respond(await _intake(request).heartbeat(key))


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def list_alerts(
    ctx: Reader,
    status: Annotated[str | None, Query(description="triggered | acknowledged | resolved | open")] = None,
    service_name: Annotated[str | None, Query(alias="service")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=ROW_ID_MAX, description="alert id cursor: only alerts older than it")
    ] = None,
) -> list[AlertOut]:
    rows = service.list_alerts(ctx.session, status=status, service=service_name, limit=limit, before=before)
    return [AlertOut.of(a) for a in rows]


@router.get("/alerts/{alert_id}", response_model=AlertDetailOut)
def get_alert(alert_id: RowId, ctx: Reader) -> AlertDetailOut:
    return AlertDetailOut.of(service.get_alert(ctx.session, alert_id=alert_id))


@router.get(
    "/incidents/{number}/changes",
    response_model=IncidentChangesOut,
    summary="Recent changes of the incident's service: from 24 h before detection until now, newest first",
)
def incident_changes(number: str, ctx: Reader) -> IncidentChangesOut:
    incident, changes = service.incident_changes(ctx.session, number=number, now=ctx.now)
    return IncidentChangesOut(
        incident=incident_ref(incident.number) or number,
        service=incident.service,
        since=incident.detected_at - service.CHANGES_BEFORE_DETECTION if incident.service else None,
        changes=[ChangeOut.model_validate(c) for c in changes],
    )


@router.get("/incidents/{number}/alerts", response_model=list[AlertOut], summary="The incident's alerts")
def incident_alerts(number: str, ctx: Reader) -> list[AlertOut]:
    return [AlertOut.of(a) for a in service.incident_alerts(ctx.session, number=number)]


@router.get(
    "/integrations/subscriptions",
    response_model=list[SubscriptionOut],
    summary="SNS subscription confirmations awaiting an operator, newest first (admin: URLs hold tokens)",
)
def list_subscriptions(
    ctx: Admin,
    include_all: Annotated[
        bool, Query(alias="all", description="every state, not only those awaiting confirmation")
    ] = False,
) -> list[SubscriptionOut]:
    rows = subscriptions.list_subscriptions(ctx.session, include_all=include_all)
    return [SubscriptionOut.of(r) for r in rows]


@router.post(
    "/integrations/subscriptions/{subscription_id}/confirm",
    response_model=SubscriptionOut,
    summary="Confirm an SNS subscription: GET its SubscribeURL (AWS SNS hosts only), record the answer",
    responses={
        403: {"description": "not admin, or the URL is not an AWS SNS ConfirmSubscription URL"},
        409: {"description": "already confirmed, or superseded by a later confirmation"},
        503: {"description": "AWS could not be reached or refused; nothing changed, try again"},
    },
)
def confirm_subscription(subscription_id: RowId, ctx: Admin) -> SubscriptionOut:
    target = subscriptions.confirmable(ctx.session, subscription_id=subscription_id)
    # No transaction stays open while AWS answers (up to 10 s; on SQLite it would hold the write lock
    # intake needs): this ends the one that authenticated the token, and the change commits with its
    # audit row in the next, when the request ends — as every mutating request's do.
    ctx.session.commit()
    arn = subscriptions.perform(target, now=ctx.now)
    row = subscriptions.mark_confirmed(
        ctx.session,
        subscription_id=subscription_id,
        subscription_arn=arn,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(
        f"sns-subscription:{row.id}", topic_arn=row.topic_arn, subscription_arn=row.subscription_arn
    )
    return SubscriptionOut.of(row)
