"""On-call (guide §6): who is on call now per schedule and layer, the next handoffs, overrides, shift
swaps (ask for cover, take the rest of a shift, answer requests), a week or month calendar, and iCal
feeds — all through ``oncall.service`` / ``oncall.swaps`` / ``oncall.feeds`` as the API does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.clock import in_range
from commandpost.deps import Ctx, RowId
from commandpost.engine import wakeup
from commandpost.errors import NotFound, ValidationFailed
from commandpost.oncall import feeds, swap_rules, swaps
from commandpost.oncall import service as oncall_service
from commandpost.oncall.models import ShiftSwap
from commandpost.oncall.rules import Handoff, Shift
from commandpost.paging import page_test
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.web.auth import PageReader, PageResponder, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
HANDOFF_HORIZON = timedelta(days=40)


@dataclass(frozen=True)
class Day:
    day: date
    today: bool
    in_month: bool
    shifts: list[tuple[Shift, str]]  # the shift and what to print beside it ("from 10:00", "until 10:00")


def _parse_day(value: str, fallback: date) -> date:
    if not value:
        return fallback
    try:
        day = date.fromisoformat(value)
        in_range(datetime.combine(day, time(), UTC))
    except ValueError as exc:
        why = str(exc) if str(exc).startswith("must be") else "is not a date (YYYY-MM-DD)"
        raise ValidationFailed(f"start: {value!r} {why}", details={"field": "start"}) from None
    return day


def _window(view: str, anchor: date) -> tuple[date, date]:
    """Monday-based weeks: one week, or every week touching the anchor's month."""
    if view == "month":
        first = anchor.replace(day=1)
        start = first - timedelta(days=first.weekday())
        following = (first + timedelta(days=32)).replace(day=1)
        end = following + timedelta(days=(7 - following.weekday()) % 7)
        return start, end
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def calendar(ctx: Ctx, tz: ZoneInfo, view: str, anchor: date) -> list[Day]:
    config = policy_service.current_config(ctx.session)
    start, end = _window(view, anchor)
    begin = datetime.combine(start, time(0), tz)
    finish = datetime.combine(end, time(0), tz)
    shifts = [
        s
        for sched in config.schedules
        for s in oncall_service.schedule_shifts(
            ctx.session, config=config, schedule=sched.name, start=begin, end=finish
        )
    ]
    today = ctx.now.astimezone(tz).date()
    days = []
    current = start
    while current < end:
        lo, hi = (
            datetime.combine(current, time(0), tz),
            datetime.combine(current + timedelta(days=1), time(0), tz),
        )
        cell = []
        for s in shifts:
            if s.start < hi and s.end > lo:
                note = ""
                if lo < s.start:
                    note = f"from {s.start.astimezone(tz):%H:%M}"
                elif s.end < hi:
                    note = f"until {s.end.astimezone(tz):%H:%M}"
                cell.append((s, note))
        cell.sort(key=lambda item: (item[0].schedule, item[0].layer, item[0].start))
        days.append(Day(current, current == today, view != "month" or current.month == anchor.month, cell))
        current += timedelta(days=1)
    return days


def _next_handoffs(ctx: Ctx) -> dict[tuple[str, str], Handoff]:
    config = policy_service.current_config(ctx.session)
    out: dict[tuple[str, str], Handoff] = {}
    for handoff in oncall_service.handoffs_between(
        ctx.session, config=config, start=ctx.now, end=ctx.now + HANDOFF_HORIZON
    ):
        out.setdefault((handoff.schedule, handoff.layer), handoff)
    return out


@dataclass(frozen=True)
class OpenSwap:
    """A request still open that the logged-in person can act on: answer it, or withdraw their own."""

    row: ShiftSwap
    can_decide: bool
    can_withdraw: bool


def _open_swaps(ctx: Ctx, config: OpsConfig) -> list[OpenSwap]:
    me = ctx.principal.person
    out = []
    for row in swaps.list_swaps(ctx.session, now=ctx.now, state=swap_rules.REQUESTED):
        decide = swap_rules.may_decide(config, actor=me, requester=row.requester, target=row.target)
        if decide or row.requester == me:
            out.append(OpenSwap(row, decide, row.requester == me))
    return out


def _render(request: Request, ctx: Ctx, *, view: str, start: str, new_feed: str = "") -> Response:
    config = policy_service.current_config(ctx.session)
    tz = ZoneInfo(request.state.timezone)
    if view not in ("week", "month"):
        raise ValidationFailed(f"view: {view!r} is not one of week, month", details={"field": "view"})
    anchor = _parse_day(start, ctx.now.astimezone(tz).date())
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    previous = anchor - step if view == "week" else (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
    return page(
        request,
        "oncall.html",
        nav="oncall",
        now_layers=oncall_service.on_call(ctx.session, config=config, at=ctx.now),
        handoffs=_next_handoffs(ctx),
        overrides=oncall_service.list_overrides(ctx.session, now=ctx.now),
        open_swaps=_open_swaps(ctx, config),
        schedules=config.schedules,
        people=config.people,
        days=calendar(ctx, tz, view, anchor),
        view=view,
        anchor=anchor,
        previous=previous,
        following=anchor + step
        if view == "week"
        else (anchor.replace(day=1) + timedelta(days=32)).replace(day=1),
        feeds=feeds.list_feeds(ctx.session),
        new_feed=new_feed,
        page_test=page_test.latest(ctx.session, person=ctx.principal.person),
        me=config.person(ctx.principal.person),
    )


@router.post("/oncall/page-test")
def send_page_test(ctx: PageResponder) -> Response:
    """ "Send me a test page": each of my methods, with a one-tap Acknowledge; the result shows here."""
    config = policy_service.current_config(ctx.session)
    me = ctx.principal.person
    ctx.audit_target(f"person:{me}")
    page_test.send(ctx.session, config=config, person=me, by=me, now=ctx.now)
    wakeup.request(ctx.session)
    return RedirectResponse("/oncall#page-test", status_code=303)


@router.get("/oncall")
def oncall_page(request: Request, ctx: PageReader, view: str = "week", start: str = "") -> Response:
    return _render(request, ctx, view=view, start=start)


def _local_instant(value: str, field: str, tz: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
        return in_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=tz))
    except ValueError as exc:
        why = str(exc) if str(exc).startswith("must be") else "is not a date and time (YYYY-MM-DDTHH:MM)"
        raise ValidationFailed(f"{field}: {value!r} {why}", details={"field": field}) from None


@router.post("/oncall/overrides")
def add_override(
    ctx: PageResponder,
    layer: Text = "",
    person: Text = "",
    start: Text = "",
    end: Text = "",
    note: Text = "",
) -> Response:
    config = policy_service.current_config(ctx.session)
    tz = ZoneInfo(ctx.request.state.timezone)  # the reader's, as the page showed the times
    schedule, _, layer_name = layer.partition("/")
    row = oncall_service.add_override(
        ctx.session,
        config=config,
        schedule=schedule,
        layer=layer_name,
        person=person,
        start=_local_instant(start, "start", tz),
        end=_local_instant(end, "end", tz),
        note=note,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"override:{row.id}", schedule=row.schedule, layer=row.layer, person=row.person)
    return RedirectResponse("/oncall", status_code=303)


@router.post("/oncall/overrides/{override_id}/remove")
def remove_override(override_id: RowId, ctx: PageResponder) -> Response:
    row = oncall_service.remove_override(ctx.session, override_id=override_id)
    ctx.audit_target(f"override:{override_id}", schedule=row.schedule, layer=row.layer, person=row.person)
    return RedirectResponse("/oncall", status_code=303)


@router.post("/oncall/swaps")
def request_swap(
    ctx: PageResponder,
    layer: Text = "",
    person: Text = "",
    start: Text = "",
    end: Text = "",
    note: Text = "",
) -> Response:
    """Ask ``person`` to cover [start, end) of the logged-in person's shift (times on their own clock)."""
    config = policy_service.current_config(ctx.session)
    tz = ZoneInfo(ctx.request.state.timezone)  # the reader's, as the page showed the times
    schedule, _, layer_name = layer.partition("/")
    row = swaps.request_swap(
        ctx.session,
        config=config,
        schedule=schedule,
        layer=layer_name,
        requester=ctx.principal.person,
        target=person,
        start=_local_instant(start, "start", tz),
        end=_local_instant(end, "end", tz),
        note=note,
        now=ctx.now,
    )
    ctx.audit_target(f"swap:{row.id}", state=row.state, kind=row.kind, asked=row.target)
    return RedirectResponse("/oncall", status_code=303)


@router.post("/oncall/swaps/{swap_id}/{verb}")
def answer_swap(swap_id: RowId, verb: str, ctx: PageResponder) -> Response:
    """accept | decline (the person asked, or a lead for them) | withdraw (who asked)."""
    actions = {"accept": swaps.accept, "decline": swaps.decline, "withdraw": swaps.withdraw}
    if verb not in actions:
        raise NotFound(f"no such action on a swap: {verb!r} (accept, decline, withdraw)")
    row = actions[verb](
        ctx.session,
        config=policy_service.current_config(ctx.session),
        swap_id=swap_id,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"swap:{row.id}", state=row.state, kind=row.kind, asked=row.target)
    return RedirectResponse("/oncall", status_code=303)


@router.post("/oncall/take")
def take_shift(ctx: PageResponder, layer: Text = "") -> Response:
    """The logged-in person takes the rest of the current shift of ``layer`` (``schedule/layer``) now."""
    schedule, _, layer_name = layer.partition("/")
    row = swaps.take(
        ctx.session,
        config=policy_service.current_config(ctx.session),
        schedule=schedule,
        layer=layer_name,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"swap:{row.id}", state=row.state, kind=row.kind, asked=row.target)
    return RedirectResponse("/oncall", status_code=303)


def _feed_url(request: Request, token: str) -> str:
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return feeds.url(base, token)


@router.post("/oncall/feeds")
def create_feed(request: Request, ctx: PageResponder, of: Text = "") -> Response:
    """``of`` is ``schedule:NAME`` or ``person:HANDLE``; the URL is shown once on the page that follows."""
    kind, _, target = of.partition(":")
    row, token = feeds.create_feed(
        ctx.session,
        config=policy_service.current_config(ctx.session),
        schedule=target if kind == "schedule" else None,
        person=target if kind == "person" else None,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    ctx.audit_target(f"feed:{row.id}", kind=row.kind, of=row.target)
    return _render(request, ctx, view="week", start="", new_feed=_feed_url(request, token))


@router.post("/oncall/feeds/{feed_id}/rotate")
def rotate_feed(request: Request, feed_id: RowId, ctx: PageResponder) -> Response:
    row, token = feeds.rotate_feed(ctx.session, feed_id=feed_id, now=ctx.now)
    ctx.audit_target(f"feed:{row.id}", kind=row.kind, of=row.target)
    return _render(request, ctx, view="week", start="", new_feed=_feed_url(request, token))


@router.post("/oncall/feeds/{feed_id}/delete")
def delete_feed(feed_id: RowId, ctx: PageResponder) -> Response:
    row = feeds.delete_feed(ctx.session, feed_id=feed_id)
    ctx.audit_target(f"feed:{feed_id}", kind=row.kind, of=row.target)
    return RedirectResponse("/oncall", status_code=303)
