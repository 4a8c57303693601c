"""Runbooks read from an ops folder on disk: ``runbook list|show|coverage --ops DIR`` without a server.

The same shapes as the API (``schemas``), built from the files, the folder's context and today's
date; what only the server knows (incidents that used a runbook, RB015's update requests) is
empty here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from commandpost.errors import NotFound, ValidationFailed
from commandpost.runbooks import rules
from commandpost.runbooks.context import LintContext, read_folder
from commandpost.runbooks.document import Runbook
from commandpost.runbooks.lint import RunbookFinding, lint_runbook, runbook_files
from commandpost.runbooks.parse import parse_file
from commandpost.runbooks.schemas import RunbookOut, RunbookSummaryOut, runbook_out, summary_fields
from commandpost.runbooks.service import pointers


class Folder:
    def __init__(self, root: Path, now: datetime) -> None:
        if not (root / "runbooks").is_dir():
            raise ValidationFailed(f"{root} has no runbooks/ folder (is it an ops folder?)")
        self.root = root
        self.models = read_folder(root)
        self.context = LintContext.from_folder(root)
        self.today = rules.local_today(now, self.context.timezone)
        settings = self.models.settings
        self.base_url = settings.runbook_base_url if settings else ""
        self.runbooks: dict[str, Runbook] = {}
        for path in runbook_files([root / "runbooks"]):
            display = path.relative_to(root).as_posix()
            self.runbooks[path.stem] = parse_file(path, display=display)

    def _parts(
        self, runbook: Runbook
    ) -> tuple[rules.Staleness | None, list[RunbookFinding], list[dict[str, Any]]]:
        last = rules.as_date(runbook.meta.get("last_updated"))
        staleness = rules.staleness(last, self.today, self.context.max_age) if last else None
        findings = lint_runbook(runbook, context=self.context, today=self.today)
        return staleness, findings, pointers(self.models.services, runbook.slug)

    def summaries(self) -> list[RunbookSummaryOut]:
        out = []
        for _slug, runbook in sorted(self.runbooks.items()):
            staleness, findings, pointed = self._parts(runbook)
            fields = summary_fields(
                runbook, staleness=staleness, findings=findings, pointed_by=pointed, base_url=self.base_url
            )
            out.append(RunbookSummaryOut(**fields))
        return out

    def detail(self, slug: str) -> RunbookOut:
        runbook = self.runbooks.get(slug)
        if runbook is None:
            known = ", ".join(sorted(self.runbooks)) or "none"
            raise NotFound(f"no runbook '{slug}' in {self.root / 'runbooks'} (runbooks: {known})")
        staleness, findings, pointed = self._parts(runbook)
        return runbook_out(
            runbook,
            staleness=staleness,
            findings=findings,
            pointed_by=pointed,
            incidents=[],
            base_url=self.base_url,
        )
