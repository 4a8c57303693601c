"""Shift swaps as pure functions: who may decide a request, when it expires, and which part of a range
someone does not hold (docs/oncall.md, "Shift swaps and cover")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from commandpost.oncall.rules import Shift
from commandpost.policy.opsfiles import OpsConfig

SWAP, COVER, TAKE = "swap", "cover", "take"
REQUESTED, ACCEPTED, DECLINED, WITHDRAWN, EXPIRED = (
    "requested",
    "accepted",
    "declined",
    "withdrawn",
    "expired",
)
STATES = (REQUESTED, ACCEPTED, DECLINED, WITHDRAWN, EXPIRED)


def stamp(at: datetime) -> str:
    """An instant as errors name it: ISO 8601 in UTC with ``Z``."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def expires_at(kind: str, start: datetime, end: datetime, counter_start: datetime | None = None) -> datetime:
    """A swap trades two ranges as they were asked for, so it expires when the first of them begins; a
    cover can still be taken part-way, so it expires only when its range is over (accepted mid-way,
    the cover starts at the acceptance)."""
    if kind == SWAP and counter_start is not None:
        return min(start, counter_start)
    return start if kind == SWAP else end


def effective_state(state: str, expires: datetime, now: datetime) -> str:
    """A request nobody answered before it expired reads as expired, whether or not it was marked yet."""
    return EXPIRED if state == REQUESTED and expires <= now else state


def leads_of(config: OpsConfig, person: str) -> list[str]:
    """The leads of every team ``person`` is a member of: who may decide a request on their behalf."""
    return sorted({t.lead for t in config.teams if t.lead and person in t.members})


def may_decide(config: OpsConfig, *, actor: str, requester: str, target: str) -> bool:
    """The person asked, or a lead of one of their teams — but never the one who asked (a lead does not
    approve their own request on someone else's behalf)."""
    if actor == requester:
        return False
    return actor == target or actor in leads_of(config, target)


def not_held(
    shifts: Sequence[Shift], person: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, str | None]]:
    """The parts of [start, end) where ``person`` is not on call, each with who is (None: nobody).

    ``shifts`` are one layer's, overrides applied, covering the range."""
    gaps: list[tuple[datetime, datetime, str | None]] = []
    cursor = start
    for shift in sorted(shifts, key=lambda s: s.start):
        if shift.end <= cursor or shift.start >= end:
            continue
        if shift.start > cursor:
            gaps.append((cursor, min(shift.start, end), None))
        lo, hi = max(shift.start, cursor), min(shift.end, end)
        if shift.person != person:
            gaps.append((lo, hi, shift.person))
        cursor = hi
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end, None))
    return _merged(gaps)


def _merged(
    gaps: Iterable[tuple[datetime, datetime, str | None]],
) -> list[tuple[datetime, datetime, str | None]]:
    out: list[tuple[datetime, datetime, str | None]] = []
    for lo, hi, who in gaps:
        if out and out[-1][1] == lo and out[-1][2] == who:
            out[-1] = (out[-1][0], hi, who)
        else:
            out.append((lo, hi, who))
    return out


def describe_gaps(gaps: Sequence[tuple[datetime, datetime, str | None]], limit: int = 3) -> str:
    """``@ken from … to …; nobody from … to …`` for an error sentence (the first ``limit``)."""
    parts = [
        f"{'@' + who if who else 'nobody'} from {stamp(lo)} to {stamp(hi)}" for lo, hi, who in gaps[:limit]
    ]
    more = f" and {len(gaps) - limit} more" if len(gaps) > limit else ""
    return "; ".join(parts) + more
