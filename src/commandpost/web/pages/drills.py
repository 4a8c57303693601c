"""The incident page's "Start a drill" form (docs/drills.md): ``drills.service.start`` exactly as
``POST /api/v1/drills`` calls it, the signed-in person as game master; redirects to the drill."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from commandpost.drills import service
from commandpost.errors import ValidationFailed
from commandpost.web.auth import PageResponder, PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _speed(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValidationFailed(
            f"speed must be a whole number, got {value[:20]!r}", details={"field": "speed"}
        ) from None


@router.post("/incidents/{number}/drill")
def start(
    number: str,
    ctx: PageResponder,
    trainee: Annotated[str, Form(max_length=100)] = "",
    speed: Annotated[str, Form(max_length=20)] = "1",
) -> Response:
    drill = service.start(
        ctx.session,
        source=number,
        game_master=ctx.principal.person,
        trainee=trainee or None,
        speed=_speed(speed),
        now=ctx.now,
    )
    view = service.view(ctx.session, drill)
    ctx.audit_target(f"incident:INC-{view.incident.number}", drill_of=f"INC-{view.original.number}")
    return RedirectResponse(f"/incidents/INC-{view.incident.number}", status_code=303)
