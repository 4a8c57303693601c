"""``/api/v1/drills``: start a drill (scope ``responder``; the caller is its game master), list drills,
a drill's scorecard (scope ``read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from commandpost.deps import Reader, Responder
from commandpost.drills import service
from commandpost.drills.schemas import DrillIn, DrillOut, ScorecardOut, ScoreLineOut

router = APIRouter(prefix="/api/v1", tags=["drills"])


def _out(view: service.DrillView) -> DrillOut:
    return DrillOut.of_view(view.drill, view.incident, view.original, view.prompts, view.delivered)


@router.post(
    "/drills",
    response_model=DrillOut,
    status_code=201,
    summary="Start a drill replaying a past incident (pages only the trainee and you, the game master)",
)
def start(body: DrillIn, ctx: Responder) -> DrillOut:
    drill = service.start(
        ctx.session,
        source=body.source,
        game_master=ctx.principal.person,
        trainee=body.trainee,
        speed=body.speed,
        now=ctx.now,
    )
    view = service.view(ctx.session, drill)
    ctx.audit_target(f"incident:INC-{view.incident.number}", drill_of=f"INC-{view.original.number}")
    return _out(view)


@router.get("/drills", response_model=list[DrillOut], summary="Drills, newest first")
def list_drills(ctx: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[DrillOut]:
    return [_out(view) for view in service.list_drills(ctx.session, limit=limit)]


@router.get(
    "/drills/{number}/scorecard",
    response_model=ScorecardOut,
    summary="A drill against its original: time to ack, first move, mitigation; handover; comms",
)
def scorecard(number: str, ctx: Reader) -> ScorecardOut:
    card = service.scorecard(ctx.session, number=number)
    return ScorecardOut(
        drill=_out(card.view),
        complete=card.complete,
        lines=[ScoreLineOut(**line.to_dict()) for line in card.lines],
        facts={"drill": card.drill.to_dict(), "original": card.original.to_dict()},
    )
