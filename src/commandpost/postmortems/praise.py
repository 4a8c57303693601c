"""Stars on Final postmortems: praise, and "postmortem of the month" (guide §5).

Anyone may star a Final postmortem once (``postmortem_star`` is unique per postmortem and person, and
the insert is ``ON CONFLICT DO NOTHING``: a double click is one star). A postmortem not yet Final
cannot be starred (409): praise is for the finished, reviewed document. The month's most starred are
counted from the stars *given* in that calendar month (UTC), so last month's favourite does not hold
the top spot for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from commandpost.db.upsert import insert_for
from commandpost.errors import Conflict
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.postmortems import service
from commandpost.postmortems.models import Postmortem
from commandpost.postmortems.stars import PostmortemStar

FINAL = "final"


@dataclass(frozen=True, slots=True)
class Stars:
    number: str
    count: int
    mine: bool


def _count(session: Session, pm: Postmortem) -> int:
    return int(
        session.scalar(select(func.count(PostmortemStar.id)).where(PostmortemStar.postmortem_id == pm.id))
        or 0
    )


def stars_of(session: Session, *, number: str | int, person: str) -> Stars:
    incident, pm = service.find(session, number=number)
    mine = session.scalar(
        select(PostmortemStar.id).where(
            PostmortemStar.postmortem_id == pm.id, PostmortemStar.person == person
        )
    )
    return Stars(incident_rules.format_number(incident.number), _count(session, pm), mine is not None)


def star(session: Session, *, number: str | int, person: str, now: datetime) -> Stars:
    """``person`` stars the postmortem of ``INC-n`` (404 without one; 409 unless it is Final)."""
    incident, pm = service.find(session, number=number)
    label = incident_rules.format_number(incident.number)
    if pm.status != FINAL:
        raise Conflict(
            f"the postmortem of {label} is {pm.status}: only a Final postmortem can be starred",
            details={"number": label, "status": pm.status},
        )
    who = incident_rules.clean_person(person)
    session.execute(
        insert_for(session, PostmortemStar)
        .values(postmortem_id=pm.id, person=who, starred_at=now)
        .on_conflict_do_nothing(index_elements=["postmortem_id", "person"])
    )
    return Stars(label, _count(session, pm), True)


def unstar(session: Session, *, number: str | int, person: str) -> Stars:
    incident, pm = service.find(session, number=number)
    who = incident_rules.clean_person(person)
    session.execute(
        delete(PostmortemStar).where(PostmortemStar.postmortem_id == pm.id, PostmortemStar.person == who)
    )
    return Stars(incident_rules.format_number(incident.number), _count(session, pm), False)


@dataclass(frozen=True, slots=True)
class Starred:
    number: str
    title: str
    stars: int


def month_start(now: datetime) -> datetime:
    at = now.astimezone(UTC)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def of_the_month(session: Session, *, now: datetime, limit: int = 3) -> list[Starred]:
    """The postmortems starred most in ``now``'s month (UTC), most first; ties: the older incident."""
    start = month_start(now)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    stars = func.count(PostmortemStar.id).label("stars")
    rows = session.execute(
        select(Incident.number, Postmortem.title, stars)
        .join(Postmortem, Postmortem.id == PostmortemStar.postmortem_id)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(
            PostmortemStar.starred_at >= start, PostmortemStar.starred_at < end, Postmortem.status == FINAL
        )
        .group_by(Incident.number, Postmortem.title)
        .order_by(stars.desc(), Incident.number)
        .limit(limit)
    )
    return [Starred(incident_rules.format_number(n), title, int(count)) for n, title, count in rows]
