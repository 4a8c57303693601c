"""The criteria decided in advance (guide §5-2): whether an incident requires a postmortem, each reason
named, read from values the caller passes (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import PostmortemSettings

Criterion = Literal["severity", "data_loss", "manual_intervention", "resolve_time", "manual_detection"]


@dataclass(frozen=True)
class Intervention:
    """A manual change to the system seen on the timeline: an ``action`` entry or a Mitigate step done."""

    at: datetime
    author: str
    what: Literal["action", "mitigate_step"]
    step: str | None = None


@dataclass(frozen=True)
class CriteriaInput:
    """What the criteria look at, read from the incident and its live document."""

    severity: str
    data_loss: bool
    manual_intervention_flag: bool
    detection: str
    detected_at: datetime
    resolved_at: datetime | None
    interventions: Sequence[Intervention] = ()
    severity_requires: bool = False
    """``postmortem_required`` of the severity in ``severities.yaml``."""


@dataclass(frozen=True)
class Reason:
    criterion: Criterion
    text: str
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "text": self.text,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass(frozen=True)
class CriteriaResult:
    required: bool
    severity: str
    reasons: tuple[Reason, ...] = ()
    manual_detection: bool = False
    note: str = ""

    @property
    def summary(self) -> str:
        """One line people read: ``required: SEV2; manual intervention at 03:21 by @yuta``."""
        if self.required:
            return "required: " + "; ".join(r.text for r in self.reasons)
        return f"not required: {self.note}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "summary": self.summary,
            "reasons": [r.to_dict() for r in self.reasons],
            "manual_detection": self.manual_detection,
        }


def hhmm(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def evaluate(inp: CriteriaInput, settings: PostmortemSettings, timezone: str) -> CriteriaResult:
    """Which of the criteria decided in advance apply, each with its reason. SEV4 never requires one."""
    manual_detection = inp.detection == "manual"
    if inp.severity == "SEV4":
        return CriteriaResult(
            required=False,
            severity=inp.severity,
            manual_detection=manual_detection,
            note="SEV4 never requires a postmortem (a ticket suffices)",
        )
    reasons: list[Reason] = []
    if inp.severity in settings.required_severities or inp.severity_requires:
        reasons.append(Reason("severity", inp.severity))
    if settings.data_loss and inp.data_loss:
        reasons.append(Reason("data_loss", "data loss"))
    if settings.manual_intervention:
        intervention = _intervention(inp, timezone)
        if intervention is not None:
            reasons.append(intervention)
    threshold = settings.resolve_time_threshold.get(inp.severity)  # type: ignore[call-overload]
    if threshold is not None and inp.resolved_at is not None:
        took = inp.resolved_at - inp.detected_at
        if took > threshold:
            reasons.append(
                Reason(
                    "resolve_time",
                    f"resolved in {format_duration(took)}, over the {inp.severity} threshold of "
                    f"{format_duration(threshold)}",
                    inp.resolved_at,
                )
            )
    if settings.manual_detection and manual_detection:
        reasons.append(
            Reason(
                "manual_detection",
                "detection manual: a human noticed, not monitoring (a monitoring defect)",
                inp.detected_at,
            )
        )
    note = "" if reasons else f"{inp.severity}, and no data loss, manual intervention, slow resolution"
    if note:
        note += " or manual detection"
    return CriteriaResult(
        required=bool(reasons),
        severity=inp.severity,
        reasons=tuple(reasons),
        manual_detection=manual_detection,
        note=note,
    )


def _intervention(inp: CriteriaInput, timezone: str) -> Reason | None:
    if inp.interventions:
        first = min(inp.interventions, key=lambda i: i.at)
        text = f"manual intervention at {hhmm(first.at, timezone)} by @{first.author}"
        if first.what == "mitigate_step":
            text += f" (Mitigate step {first.step} done by hand)"
        return Reason("manual_intervention", text, first.at)
    if inp.manual_intervention_flag:
        return Reason("manual_intervention", "manual intervention (flagged on the incident)")
    return None
