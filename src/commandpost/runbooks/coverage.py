"""Runbook coverage (guide §4: every paging alert points to a runbook; §3: runbooks are perishable).

Five lists: paging alert rules without a runbook (a paging ``default_severity`` without a
``default_runbook`` counts as one: every alert no rule matches pages with it), incidents opened
from alerts in the last N days that paged without one, runbooks no alert points to, stale
runbooks, runbooks never used.
:func:`compute` is pure; :func:`from_database` and :func:`from_folder` feed it from the applied
revision plus the incident history, or from an ops folder on disk (no history: the two lists
that need it are left out and say so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from commandpost.errors import ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.policy.opsfiles import Service
from commandpost.runbooks import rules
from commandpost.runbooks import service as runbook_service
from commandpost.runbooks.context import read_folder
from commandpost.runbooks.document import Runbook
from commandpost.runbooks.lint import runbook_files
from commandpost.runbooks.models import IncidentRunbook
from commandpost.runbooks.parse import parse_file

DEFAULT_DAYS = 30


@dataclass
class Coverage:
    days: int
    paging_rules_without_runbook: list[dict[str, Any]] = field(default_factory=list)
    paged_without_runbook: list[dict[str, Any]] | None = None
    unpointed: list[str] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    never_used: list[str] | None = None

    @property
    def strict_ok(self) -> bool:
        """``coverage --strict`` fails when a paging alert rule (or a paging default) has no runbook."""
        return not self.paging_rules_without_runbook

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "paging_rules_without_runbook": self.paging_rules_without_runbook,
            "paged_without_runbook": self.paged_without_runbook,
            "unpointed": self.unpointed,
            "stale": self.stale,
            "never_used": self.never_used,
            "strict_ok": self.strict_ok,
        }


def compute(
    *,
    services: Iterable[Service],
    paging: Callable[[str], bool],
    runbooks: dict[str, Runbook],
    today: date,
    max_age: timedelta,
    days: int,
    paged_without: list[dict[str, Any]] | None = None,
    used: set[str] | None = None,
) -> Coverage:
    report = Coverage(days=days, paged_without_runbook=paged_without)
    pointed: set[str] = set()
    for service in services:
        if service.default_runbook:
            pointed.add(service.default_runbook)
        if paging(service.default_severity) and service.default_runbook not in runbooks:
            # alerts no rule matches page too: the default needs a runbook as much as a rule does
            report.paging_rules_without_runbook.append(
                {
                    "service": service.name,
                    "alert": "default_severity (alerts no rule matches)",
                    "severity": service.default_severity,
                    "runbook": service.default_runbook,
                    "problem": f"unknown default_runbook '{service.default_runbook}'"
                    if service.default_runbook
                    else "no default_runbook",
                }
            )
        for i, rule in enumerate(service.alert_rules):
            if rule.runbook and rule.runbook in runbooks:
                pointed.add(rule.runbook)
                continue
            if not paging(rule.severity):
                continue
            report.paging_rules_without_runbook.append(
                {
                    "service": service.name,
                    "alert": rule.match.alertname or f"alert rule {i + 1}",
                    "severity": rule.severity,
                    "runbook": rule.runbook,
                    "problem": f"unknown runbook '{rule.runbook}'" if rule.runbook else "no runbook",
                }
            )
    report.unpointed = sorted(slug for slug in runbooks if slug not in pointed)
    for slug, runbook in sorted(runbooks.items()):
        last = rules.as_date(runbook.meta.get("last_updated"))
        if last is None:
            continue
        state = rules.staleness(last, today, max_age)
        if state.stale:
            report.stale.append({"slug": slug, **state.to_dict()})
    if used is not None:
        report.never_used = sorted(slug for slug in runbooks if slug not in used)
    return report


def from_database(session: Session, *, now: datetime, days: int = DEFAULT_DAYS) -> Coverage:
    """Coverage of the applied revision, with the incident history of the last ``days`` days."""
    if days < 1:
        raise ValidationFailed(f"days must be at least 1, not {days}", details={"field": "days"})
    app = runbook_service.applied(session)
    config = app.config
    since = now - timedelta(days=days)
    paged = session.scalars(
        select(Incident)
        .where(
            Incident.detection == "automatic",
            Incident.declared_at >= since,
            or_(Incident.no_runbook.is_(True), Incident.runbook.is_(None)),
        )
        .order_by(Incident.number.desc())
    )
    paged_without = [
        {
            "number": incident_rules.format_number(i.number),
            "title": i.title,
            "service": i.service,
            "severity": i.severity,
            "declared_at": i.declared_at.isoformat(),
        }
        for i in paged
    ]
    used = set(session.scalars(select(IncidentRunbook.slug).distinct()))
    used |= {slug for slug in session.scalars(select(Incident.runbook).distinct()) if slug}
    return compute(
        services=config.services,
        paging=lambda sev: bool(config.severities.get(sev) and config.severities[sev].paging),
        runbooks=app.runbooks,
        today=app.today(now),
        max_age=config.settings.runbook_max_age,
        days=days,
        paged_without=paged_without,
        used=used,
    )


def from_folder(root: Path, *, now: datetime, days: int = DEFAULT_DAYS) -> Coverage:
    """Coverage of an ops folder on disk, best effort (the folder need not validate); no history."""
    folder = read_folder(root)
    folder_path = root / "runbooks"
    files = runbook_files([folder_path]) if folder_path.is_dir() else []
    runbooks = {p.stem: parse_file(p) for p in files}
    settings = folder.settings
    timezone = settings.timezone if settings else "UTC"
    max_age = settings.runbook_max_age if settings else timedelta(days=90)
    return compute(
        services=folder.services,
        paging=folder.paging,
        runbooks=runbooks,
        today=rules.local_today(now, timezone),
        max_age=max_age,
        days=days,
    )
