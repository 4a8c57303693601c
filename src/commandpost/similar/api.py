"""``GET /api/v1/incidents/{number}/similar`` (scope ``read``): the three most similar past incidents."""

from __future__ import annotations

from fastapi import APIRouter

from commandpost.deps import Reader
from commandpost.similar import service
from commandpost.similar.schemas import SimilarOut

router = APIRouter(prefix="/api/v1", tags=["incidents"])


@router.get(
    "/incidents/{number}/similar",
    response_model=list[SimilarOut],
    summary="The most similar past incidents (not drills), best first, with a score",
)
def similar(number: str, ctx: Reader) -> list[SimilarOut]:
    return [
        SimilarOut.of(
            found.incident,
            score=found.score,
            reasons=found.reasons,
            postmortem=found.postmortem,
            time_to_mitigate=int(found.time_to_mitigate.total_seconds())
            if found.time_to_mitigate is not None
            else None,
        )
        for found in service.similar(ctx.session, number=number)
    ]
