"""On-call over HTTP: who is on call, schedules and shifts, overrides, shift swaps, iCal feeds.

``router`` is under ``/api/v1`` with bearer tokens. ``ical_router`` serves ``/ical/{token}.ics``
without one: the feed's own secret is the only credential a calendar app can send.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from commandpost.deps import Ctx, IsoAwareDatetime, PublicRead, Reader, Responder, RowId
from commandpost.errors import NotFound
from commandpost.oncall import feeds, swaps
from commandpost.oncall import service as oncall_service
from commandpost.oncall.models import ShiftSwap
from commandpost.oncall.schemas import (
    FeedCreated,
    FeedIn,
    FeedOut,
    OnCallLayer,
    OnCallOut,
    OverrideIn,
    OverrideOut,
    ScheduleOut,
    ShiftOut,
    ShiftsOut,
    SwapIn,
    SwapOut,
    TakeIn,
)
from commandpost.policy import service as policy_service

router = APIRouter(prefix="/api/v1", tags=["on-call"])
ical_router = APIRouter(tags=["on-call"])

When = Annotated[IsoAwareDatetime | None, Query(description="ISO 8601 with a timezone; default: now")]


def _base_url(request: Request) -> str:
    return request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


@router.get(
    "/oncall", response_model=OnCallOut, summary="Who is on call at an instant, every schedule and layer"
)
def oncall(ctx: Reader, at: When = None, schedule: str | None = None) -> OnCallOut:
    instant = at or ctx.now
    config = policy_service.current_config(ctx.session)
    layers = oncall_service.on_call(ctx.session, config=config, at=instant, schedule=schedule)
    return OnCallOut(at=instant, oncall=[OnCallLayer.of(item) for item in layers])


@router.get("/schedules", response_model=list[ScheduleOut], summary="Schedules as applied from ops/")
def schedules(ctx: Reader) -> list[ScheduleOut]:
    return [ScheduleOut.of(s) for s in policy_service.current_config(ctx.session).schedules]


@router.get("/schedules/{name}", response_model=ScheduleOut)
def schedule(ctx: Reader, name: str) -> ScheduleOut:
    return ScheduleOut.of(oncall_service.get_schedule(policy_service.current_config(ctx.session), name))


@router.get(
    "/schedules/{name}/shifts",
    response_model=ShiftsOut,
    response_model_by_alias=True,
    summary="Shifts over [from, to) with overrides applied (at most 366 days; default: the next 7 days)",
)
def shifts(
    ctx: Reader,
    name: str,
    start: Annotated[IsoAwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[IsoAwareDatetime | None, Query(alias="to")] = None,
    layer: str | None = None,
) -> ShiftsOut:
    start = start or ctx.now
    end = end or start + timedelta(days=7)
    config = policy_service.current_config(ctx.session)
    found = oncall_service.schedule_shifts(
        ctx.session, config=config, schedule=name, start=start, end=end, layer=layer
    )
    return ShiftsOut(schedule=name, start=start, end=end, shifts=[ShiftOut.model_validate(s) for s in found])


# ------------------------------------------------------------------ overrides


@router.get("/overrides", response_model=list[OverrideOut], summary="Overrides not yet over (or all)")
def list_overrides(
    ctx: Reader,
    schedule: str | None = None,
    layer: str | None = None,
    person: str | None = None,
    include_past: bool = False,
) -> list[OverrideOut]:
    rows = oncall_service.list_overrides(
        ctx.session, now=ctx.now, schedule=schedule, layer=layer, person=person, include_past=include_past
    )
    return [OverrideOut.model_validate(r) for r in rows]


@router.post("/overrides", response_model=OverrideOut, status_code=201, summary="Person X covers a layer")
def add_override(ctx: Responder, body: OverrideIn) -> OverrideOut:
    config = policy_service.current_config(ctx.session)
    row = oncall_service.add_override(
        ctx.session,
        config=config,
        schedule=body.schedule,
        layer=body.layer,
        person=body.person,
        start=body.start,
        end=body.end,
        note=body.note,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"override:{row.id}", schedule=row.schedule, layer=row.layer, person=row.person)
    return OverrideOut.model_validate(row)


@router.delete("/overrides/{override_id}", response_model=OverrideOut, summary="Remove an override")
def remove_override(ctx: Responder, override_id: RowId) -> OverrideOut:
    row = oncall_service.remove_override(ctx.session, override_id=override_id)
    ctx.audit_target(f"override:{override_id}", schedule=row.schedule, layer=row.layer, person=row.person)
    return OverrideOut.model_validate(row)


# ------------------------------------------------------------------ shift swaps and cover


@router.get("/oncall/swaps", response_model=list[SwapOut], summary="Shift swaps, newest first")
def list_swaps(
    ctx: Reader,
    state: str | None = Query(
        default=None, description="requested | accepted | declined | withdrawn | expired"
    ),
    person: str | None = Query(default=None, description="who asked or was asked"),
    schedule: str | None = None,
) -> list[SwapOut]:
    rows = swaps.list_swaps(ctx.session, now=ctx.now, state=state, person=person, schedule=schedule)
    return [SwapOut.of(r, ctx.now) for r in rows]


@router.get("/oncall/swaps/{swap_id}", response_model=SwapOut, summary="One shift swap")
def get_swap(ctx: Reader, swap_id: RowId) -> SwapOut:
    return SwapOut.of(swaps.get_swap(ctx.session, swap_id=swap_id), ctx.now)


@router.post(
    "/oncall/swaps",
    response_model=SwapOut,
    status_code=201,
    summary="Ask someone to cover (part of) your shift, or to swap ranges with you",
)
def request_swap(ctx: Responder, body: SwapIn) -> SwapOut:
    row = swaps.request_swap(
        ctx.session,
        config=policy_service.current_config(ctx.session),
        schedule=body.schedule,
        layer=body.layer,
        requester=ctx.principal.person,
        target=body.target,
        start=body.start,
        end=body.end,
        counter_start=body.counter_start,
        counter_end=body.counter_end,
        note=body.note,
        now=ctx.now,
    )
    return _swap_done(ctx, row)


@router.post("/oncall/swaps/{swap_id}/accept", response_model=SwapOut, summary="Accept: it becomes overrides")
def accept_swap(ctx: Responder, swap_id: RowId) -> SwapOut:
    config = policy_service.current_config(ctx.session)
    return _swap_done(
        ctx,
        swaps.accept(ctx.session, config=config, swap_id=swap_id, actor=ctx.principal.person, now=ctx.now),
    )


@router.post("/oncall/swaps/{swap_id}/decline", response_model=SwapOut, summary="Decline a request")
def decline_swap(ctx: Responder, swap_id: RowId) -> SwapOut:
    config = policy_service.current_config(ctx.session)
    return _swap_done(
        ctx,
        swaps.decline(ctx.session, config=config, swap_id=swap_id, actor=ctx.principal.person, now=ctx.now),
    )


@router.post("/oncall/swaps/{swap_id}/withdraw", response_model=SwapOut, summary="Withdraw your request")
def withdraw_swap(ctx: Responder, swap_id: RowId) -> SwapOut:
    config = policy_service.current_config(ctx.session)
    return _swap_done(
        ctx,
        swaps.withdraw(ctx.session, config=config, swap_id=swap_id, actor=ctx.principal.person, now=ctx.now),
    )


@router.post(
    "/oncall/take",
    response_model=SwapOut,
    status_code=201,
    summary="Take the rest of the current shift now from whoever is on call",
)
def take_shift(ctx: Responder, body: TakeIn) -> SwapOut:
    row = swaps.take(
        ctx.session,
        config=policy_service.current_config(ctx.session),
        schedule=body.schedule,
        layer=body.layer,
        actor=ctx.principal.person,
        note=body.note,
        now=ctx.now,
    )
    return _swap_done(ctx, row)


def _swap_done(ctx: Ctx, row: ShiftSwap) -> SwapOut:
    ctx.audit_target(
        f"swap:{row.id}", state=row.state, kind=row.kind, requester=row.requester, asked=row.target
    )
    return SwapOut.of(row, ctx.now)


# ------------------------------------------------------------------ iCal feeds


@router.get(
    "/feeds", response_model=list[FeedOut], summary="iCal feeds (their secrets are never shown again)"
)
def list_feeds(ctx: Reader) -> list[FeedOut]:
    return [FeedOut.model_validate(r) for r in feeds.list_feeds(ctx.session)]


@router.post(
    "/feeds", response_model=FeedCreated, status_code=201, summary="A calendar URL for a schedule or person"
)
def create_feed(ctx: Responder, body: FeedIn) -> FeedCreated:
    config = policy_service.current_config(ctx.session)
    row, token = feeds.create_feed(
        ctx.session,
        config=config,
        schedule=body.schedule,
        person=body.person,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"feed:{row.id}", kind=row.kind, of=row.target)
    return _created(ctx.request, row, token)


@router.post(
    "/feeds/{feed_id}/rotate", response_model=FeedCreated, summary="New secret; the old URL stops working"
)
def rotate_feed(ctx: Responder, feed_id: RowId) -> FeedCreated:
    row, token = feeds.rotate_feed(ctx.session, feed_id=feed_id, now=ctx.now)
    ctx.audit_target(f"feed:{row.id}", kind=row.kind, of=row.target)
    return _created(ctx.request, row, token)


@router.delete("/feeds/{feed_id}", response_model=FeedOut, summary="Delete a feed; its URL stops working")
def delete_feed(ctx: Responder, feed_id: RowId) -> FeedOut:
    row = feeds.delete_feed(ctx.session, feed_id=feed_id)
    ctx.audit_target(f"feed:{feed_id}", kind=row.kind, of=row.target)
    return FeedOut.model_validate(row)


def _created(request: Request, row: object, token: str) -> FeedCreated:
    out = FeedOut.model_validate(row)
    return FeedCreated(**out.model_dump(), url=feeds.url(_base_url(request), token), token=token)


@ical_router.get(
    "/ical/{token}.ics",
    summary="A read-only calendar; the secret in the URL is its only credential",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def ical_feed(request: Request, token: str, session: PublicRead) -> Response:
    feed = feeds.feed_by_token(session, token=token)
    if feed is None:
        raise NotFound("no such calendar feed (it may have been rotated or deleted)")
    now: datetime = request.app.state.clock.now()
    body = feeds.calendar(session, config=policy_service.current_config(session), feed=feed, now=now)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )
