"""Notifications over HTTP: the delivery log, dead letters (``?status=failed``) and retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request

from commandpost.deps import ROW_ID_MAX, Reader, Responder, RowId, RowIdQuery
from commandpost.notify import service as notify_service
from commandpost.notify.schemas import NotificationOut

router = APIRouter(prefix="/api/v1", tags=["notifications"])


def _wake_engine(request: Request) -> None:
    """Run an engine pass now rather than at the next due time (called after the commit)."""
    runner = getattr(request.app.state, "engine_runner", None)
    if runner is not None:
        runner.wake()


@router.get(
    "/notifications",
    response_model=list[NotificationOut],
    summary="Outgoing messages, newest first; ?status=failed lists the dead letters",
)
def list_notifications(
    ctx: Reader,
    status: Annotated[
        str | None, Query(description="pending | sending | delivered | dead | failed (= dead)")
    ] = None,
    incident_id: RowIdQuery = None,
    channel: Annotated[str | None, Query(description="console | slack | email | webhook")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=ROW_ID_MAX, description="only ids below this (paging)")
    ] = None,
) -> list[NotificationOut]:
    rows = notify_service.list_messages(
        ctx.session, status=status, incident_id=incident_id, channel=channel, limit=limit, before_id=before
    )
    attempts = notify_service.attempts_for(ctx.session, message_ids=[r.id for r in rows])
    return [NotificationOut.of(r, attempts[r.id]) for r in rows]


@router.get("/notifications/{notification_id}", response_model=NotificationOut)
def get_notification(ctx: Reader, notification_id: RowId) -> NotificationOut:
    message = notify_service.get_message(ctx.session, message_id=notification_id)
    return NotificationOut.of(
        message, notify_service.attempts_for(ctx.session, message_ids=[message.id])[message.id]
    )


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationOut,
    summary="Send a dead letter again (or a waiting retry now) with a fresh budget of attempts",
)
def retry_notification(
    ctx: Responder, notification_id: RowId, request: Request, background: BackgroundTasks
) -> NotificationOut:
    settings = request.app.state.settings
    message = notify_service.retry(
        ctx.session, message_id=notification_id, now=ctx.now, max_attempts=settings.notify_max_attempts
    )
    ctx.audit_target(f"notification:{message.id}", key=message.key, channel=message.channel)
    background.add_task(_wake_engine, request)
    return NotificationOut.of(
        message, notify_service.attempts_for(ctx.session, message_ids=[message.id])[message.id]
    )
