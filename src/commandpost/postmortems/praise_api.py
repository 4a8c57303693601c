"""Stars on Final postmortems over HTTP: ``POST``/``DELETE /api/v1/postmortems/{number}/star`` (scope
``responder``: the caller stars as themself), ``GET …/star`` and ``GET /api/v1/postmortems-of-the-month``
(scope ``read``). Beside ``api.py``: the same domain's edge, for praise."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from commandpost.deps import Reader, Responder
from commandpost.postmortems import praise

router = APIRouter(prefix="/api/v1", tags=["postmortems"])


class StarsOut(BaseModel):
    number: str = Field(description="the incident whose postmortem it is: INC-n")
    stars: int
    mine: bool = Field(description="the caller has starred it")


class StarredOut(BaseModel):
    number: str
    title: str
    stars: int = Field(description="stars given this month")


def _out(found: praise.Stars) -> StarsOut:
    return StarsOut(number=found.number, stars=found.count, mine=found.mine)


@router.get("/postmortems/{number}/star", response_model=StarsOut, summary="A postmortem's stars")
def stars(number: str, ctx: Reader) -> StarsOut:
    return _out(praise.stars_of(ctx.session, number=number, person=ctx.principal.person))


@router.post(
    "/postmortems/{number}/star", response_model=StarsOut, summary="Star a Final postmortem (praise)"
)
def star(number: str, ctx: Responder) -> StarsOut:
    found = praise.star(ctx.session, number=number, person=ctx.principal.person, now=ctx.now)
    ctx.audit_target(f"postmortem:{found.number}")
    return _out(found)


@router.delete("/postmortems/{number}/star", response_model=StarsOut, summary="Take your star back")
def unstar(number: str, ctx: Responder) -> StarsOut:
    found = praise.unstar(ctx.session, number=number, person=ctx.principal.person)
    ctx.audit_target(f"postmortem:{found.number}")
    return _out(found)


@router.get(
    "/postmortems-of-the-month",
    response_model=list[StarredOut],
    summary="The postmortems starred most this month (UTC), most first",
)
def of_the_month(ctx: Reader) -> list[StarredOut]:
    return [
        StarredOut(number=s.number, title=s.title, stars=s.stars)
        for s in praise.of_the_month(ctx.session, now=ctx.now)
    ]
