"""The model of ``runbooks/*.md``: a runbook's front matter and the runbook as a revision stores it."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from commandpost.policy.ops_base import NameList, SeverityName, Slug, Strict


class RunbookFrontMatter(Strict):
    owner: str = Field(min_length=1)
    last_updated: date
    slo: str = Field(min_length=1)
    severity: SeverityName
    alerts: NameList = Field(default_factory=list)
    service: str | None = None
    escalates_to: SeverityName | None = None
    title: str | None = None


class Runbook(Strict):
    slug: Slug
    path: str
    front_matter: RunbookFrontMatter
    body: str
    content_hash: str
