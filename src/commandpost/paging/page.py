"""The words of a page (guide §4): severity, runbook link and first move, then service, title,
the incident link and how to acknowledge. A page with no runbook says so in its first line.

Built once per incident and engine pass (:class:`PageText`), then worded per level or FYI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commandpost.incidents.models import Incident
from commandpost.incidents.rules import format_number
from commandpost.policy.opsfiles import OpsConfig
from commandpost.runbooks import service as runbooks_service
from commandpost.runbooks.document import FirstMove

NO_RUNBOOK = "NO RUNBOOK"


@dataclass(frozen=True, slots=True)
class PageText:
    number: str
    severity: str
    service: str | None
    title: str
    url: str
    runbook_url: str | None
    first_move: FirstMove | None
    move_note: str
    """said instead of a first move when the runbook has none we can read"""
    missing: str | None
    """why there is no runbook to follow (then the first line of every page says NO RUNBOOK)"""
    command_post: str = ""
    """the incident's channel (``inc-2026-06-24-…``); the FYI announces it to the ``notify`` targets"""

    @property
    def headline(self) -> str:
        where = f"{self.service}: " if self.service else ""
        return f"[{self.severity}] {self.number} {where}{self.title}"

    def subject(self, *, fyi: bool = False) -> str:
        where = f"{self.service}: " if self.service else ""
        marks = " ".join(m for m in ("FYI" if fyi else "", NO_RUNBOOK if self.missing else "") if m)
        return f"[{self.severity}] {self.number} {marks + ' ' if marks else ''}{where}{self.title}"

    def _core(self) -> list[str]:
        lines = [f"{NO_RUNBOOK} — {self.missing}"] if self.missing else []
        lines.append(self.headline)
        if self.runbook_url:
            lines.append(f"Runbook: {self.runbook_url}")
        if self.first_move is not None:
            lines.append(f"First move: {self.first_move.words}")
            if self.first_move.command_apart:
                lines.append(f"    $ {self.first_move.command_apart}")
        elif self.move_note:
            lines.append(f"First move: {self.move_note}")
        lines.append(f"Incident: {self.url}")
        return lines

    def page_body(self, why: str, next_line: str) -> str:
        lines = self._core()
        lines.append(f"Ack: commandpost ack {self.number} — or open {self.url}")
        lines.append(f"Paged: {why}")
        if next_line:
            lines.append(next_line)
        return "\n".join(lines)

    def fyi_body(self, why: str) -> str:
        lines = self._core()
        if self.command_post:
            lines.append(f"Command post: #{self.command_post}")
        lines.append(f"FYI, no ack needed: {why}")
        return "\n".join(lines)

    def payload(self, kind: str, **extra: Any) -> dict[str, Any]:
        """What channels link to (Slack buttons, webhook JSON). Kept small: notify redacts every string
        of every message, so each field is paid for per recipient and channel."""
        return {
            "kind": kind,
            "incident": self.number,
            "url": self.url,
            "runbook_url": self.runbook_url,
            "no_runbook": bool(self.missing),
            "service": self.service,
            "title": self.title,
            "first_move": self.first_move.words if self.first_move else None,
            **{k: v for k, v in extra.items() if v is not None},
        }


def runbook_url(config: OpsConfig, base_url: str, slug: str) -> str:
    base = config.settings.runbook_base_url.rstrip("/")
    return f"{base}/{slug}" if base else f"{base_url.rstrip('/')}/runbooks/{slug}"


def build(config: OpsConfig, incident: Incident, *, base_url: str) -> PageText:
    """What every page of ``incident`` carries, from the applied runbooks (guide §4)."""
    number = format_number(incident.number)
    reference = (incident.runbook or "").strip()
    runbook = config.runbook(reference) if reference else None
    link: str | None = None
    move: FirstMove | None = None
    note = ""
    missing: str | None = None
    if reference.startswith(("https://", "http://")):
        link, note = reference, "open the runbook (it lives outside the ops folder)"
    elif runbook is not None:
        link = runbook_url(config, base_url, reference)
        move = runbooks_service.first_move(runbook)
        note = "" if move else "the runbook's Mitigate section lists no step; read it, escalate when in doubt"
    elif reference:
        missing = f"runbook '{reference}' is not in the applied ops folder; triage from the symptoms"
    else:
        missing = "no runbook is linked; triage from the symptoms and escalate when in doubt"
    return PageText(
        number=number,
        severity=incident.severity,
        service=incident.service,
        title=incident.title,
        url=f"{base_url.rstrip('/')}/incidents/{number}",
        runbook_url=link,
        first_move=move,
        move_note=note,
        missing=missing,
        command_post=incident.channel or "",
    )
