"""The response of ``GET /api/v1/incidents/{number}/similar``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident


class SimilarOut(BaseModel):
    number: str = Field(description="INC-n")
    title: str
    service: str | None
    severity: str
    status: str
    declared_at: datetime
    score: float = Field(ge=0, le=1, description="0–1: text 0.5, alert identity 0.3, same service 0.2")
    reasons: list[str] = Field(
        description="why it is similar: same alert, shared labels, same service, words"
    )
    url: str = Field(description="the incident's page")
    postmortem_status: str | None = Field(description="draft, in_review or final; null: none")
    postmortem_url: str | None
    runbook: str | None = Field(description="the runbook the incident was opened with")
    time_to_mitigate_seconds: int | None = Field(
        description="detected → mitigated (→ resolved when never marked mitigated); null while open"
    )

    @classmethod
    def of(
        cls,
        incident: Incident,
        *,
        score: float,
        reasons: tuple[str, ...],
        postmortem: str | None,
        time_to_mitigate: int | None,
    ) -> SimilarOut:
        number = incident_rules.format_number(incident.number)
        return cls(
            number=number,
            title=incident.title,
            service=incident.service,
            severity=incident.severity,
            status=incident.status,
            declared_at=incident.declared_at,
            score=score,
            reasons=list(reasons),
            url=f"/incidents/{number}",
            postmortem_status=postmortem,
            postmortem_url=f"/postmortems/{number}" if postmortem else None,
            runbook=incident.runbook,
            time_to_mitigate_seconds=time_to_mitigate,
        )
