"""An attached runbook as the incident's checklist: its sections in the order they are worked, and
how far it has got. Pure values and functions, shared by the service, the API shapes and the page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from commandpost.runbooks.document import INCIDENT_ORDER, Section, SnapshotView, Step
from commandpost.runbooks.models import IncidentRunbook, RunbookStepState


@dataclass(frozen=True)
class Attachment:
    """An attached runbook as a checklist: stored (``row``) or the incident's own, not stored yet."""

    slug: str
    title: str
    source: str
    view: SnapshotView
    row: IncidentRunbook | None
    states: dict[str, RunbookStepState]
    current_hash: str | None

    @property
    def outdated(self) -> bool:
        """The applied runbook changed since this version was attached."""
        return self.current_hash is not None and self.current_hash != self.view.content_hash


def ordered_sections(view: SnapshotView) -> list[Section]:
    """Mitigate first, then Verify, then the rest in form order (hemostasis before root cause)."""
    rank = {number: i for i, number in enumerate(INCIDENT_ORDER)}
    return sorted(view.sections, key=lambda s: rank.get(s.number, len(rank)))


def progress(steps: Iterable[Step], states: dict[str, RunbookStepState]) -> dict[str, int]:
    counts = {"total": 0, "open": 0, "done": 0, "skipped": 0, "failed": 0}
    for step in steps:
        counts["total"] += 1
        state = states.get(step.id)
        counts[state.state if state else "open"] += 1
    return counts
