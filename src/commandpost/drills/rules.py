"""Pure drill logic: the speed, which moments of the original become prompts, and the scorecard.

A prompt is due at the drill's start + (its offset in the original) / speed; offsets are counted from
the original's declaration. The scorecard measures both incidents the same way, from their own
declaration: time to ack, to the runbook's first move marked done (the step a page names, guide §4),
to mitigation (to resolution when never marked mitigated); whether a role was handed over
explicitly (an offer accepted); whether comms kept the cadence (no overdue reminder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commandpost.errors import ValidationFailed

MAX_SPEED = 1000
"""Faster than 1000× turns an hour into 3.6 s: every prompt at once."""
MAX_PROMPTS = 200
"""An alert storm replays as its first 200 alerts and moments: a drill is a story, not a load test."""
MOMENT_KINDS = ("status", "severity", "role", "handover", "comms", "runbook_step", "decision", "action")
"""The original's timeline entries that become prompts (notes and system lines do not)."""


def check_speed(speed: object) -> int:
    """1 … :data:`MAX_SPEED` (an integer); anything else is a 422 naming the field."""
    if isinstance(speed, bool) or not isinstance(speed, int) or not 1 <= speed <= MAX_SPEED:
        raise ValidationFailed(
            f"speed must be a whole number from 1 to {MAX_SPEED}, got {speed!r}",
            details={"field": "speed", "value": str(speed)[:50]},
        )
    return speed


def offset(at: datetime | None, start: datetime) -> int:
    """Whole seconds from ``start`` (never negative: an alert that began before the declaration is
    the drill's first prompt)."""
    if at is None:
        return 0
    return max(0, int((at - start).total_seconds()))


def due(started_at: datetime, offset_seconds: int, speed: int) -> datetime:
    return started_at + timedelta(seconds=offset_seconds / speed)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the scorecard measures of one incident (seconds from its declaration; None: never)."""

    ack: int | None
    first_move: int | None
    mitigation: int | None
    handover: bool
    comms: int
    comms_overdue: int
    first_step: int | None = None
    """the first runbook step marked at all (what ``first_move`` measured before it named the step)"""
    move: dict[str, Any] | None = None
    """the first move measured: runbook, step, text, named (labelled "First move" in the runbook)"""
    move_note: str | None = None
    """why ``first_move`` is not the named step's time: "no first move named: …" (None when it is)"""

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_to_ack_seconds": self.ack,
            "time_to_first_move_seconds": self.first_move,
            "first_move": self.move,
            "first_move_note": self.move_note,
            "time_to_first_step_seconds": self.first_step,
            "time_to_mitigation_seconds": self.mitigation,
            "handover_explicit": self.handover,
            "comms_posted": self.comms,
            "comms_overdue": self.comms_overdue,
            "comms_on_cadence": self.comms_overdue == 0,
        }


def seconds(at: datetime | None, start: datetime) -> int | None:
    return None if at is None else max(0, int((at - start).total_seconds()))


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the scorecard: the drill's value, the original's, and the verdict."""

    measure: str
    drill: int | bool | None
    original: int | bool | None
    target: int | bool | None
    verdict: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "drill": self.drill,
            "original": self.original,
            "target": self.target,
            "verdict": self.verdict,
            "note": self.note,
        }


def _timed(measure: str, drill: int | None, original: int | None, speed: int) -> Line:
    """A duration: the target is the original's at the drill's pace (original / speed)."""
    target = None if original is None else original // speed
    if drill is None:
        verdict = "not reached" if original is not None else "neither"
    elif target is None:
        verdict = "only the drill"
    else:
        verdict = "faster" if drill < target else "as fast" if drill == target else "slower"
    return Line(measure, drill, original, target, verdict)


def _done(measure: str, drill: bool, original: bool) -> Line:
    verdict = "yes" if drill else "no"
    return Line(measure, drill, original, True, verdict)


def _move(drill: Facts, original: Facts, speed: int) -> Line:
    """The first move's line, saying for each side when the time is not that of a named step."""
    line = _timed("time to the runbook's first move", drill.first_move, original.first_move, speed)
    sides = (("drill", drill), ("original", original))
    notes = [f"{side}: {facts.move_note}" for side, facts in sides if facts.move_note]
    return Line(line.measure, line.drill, line.original, line.target, line.verdict, "; ".join(notes) or None)


def scorecard(drill: Facts, original: Facts, speed: int) -> list[Line]:
    return [
        _timed("time to ack", drill.ack, original.ack, speed),
        _move(drill, original, speed),
        _timed("time to mitigation", drill.mitigation, original.mitigation, speed),
        _done("handover done explicitly", drill.handover, original.handover),
        _done("comms on cadence", drill.comms_overdue == 0, original.comms_overdue == 0),
    ]
