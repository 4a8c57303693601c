"""A runbook as objects: front matter, the fixed sections 0–6 of guide §3-1, and their steps.

Plain frozen dataclasses (no I/O): the parser builds them from Markdown, lint reads them,
the incident checklist stores a JSON snapshot of them (``to_dict``/``from_dict``) so a
checklist keeps the step ids it was attached with even when the runbook changes later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECTION_NAMES: tuple[str, ...] = ("Symptom", "Detect", "Triage", "Mitigate", "Verify", "Comms", "Postmortem")
MITIGATE, VERIFY = 3, 4
# Incident listings put hemostasis first (guide §3: "stop the bleeding" before root cause).
INCIDENT_ORDER: tuple[int, ...] = (3, 4, 0, 1, 2, 5, 6)
FIRST_MOVE_LABEL = "first move"
"""How a Mitigate step that is the first move starts (any case, then ":" or "—")."""


def section_label(number: int) -> str:
    return f"{number}. {SECTION_NAMES[number]}"


@dataclass(frozen=True)
class Caution:
    """A warning line ("⚠️", "must never", "never do"); ``guards`` is the step right before it."""

    text: str
    line: int
    guards: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "line": self.line, "guards": self.guards}


@dataclass(frozen=True)
class Step:
    """One checklist item (``- [ ]``). ``id`` = section.position-hash, e.g. ``3.2-a1b2c3``."""

    id: str
    section: int
    position: int
    text: str
    line: int
    command: str | None = None
    warning: bool = False
    checked: bool = False
    cautions: tuple[Caution, ...] = ()

    @property
    def text_hash(self) -> str:
        """The hash part of the id: the same step text keeps it across reorderings."""
        return self.id.rsplit("-", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "position": self.position,
            "text": self.text,
            "line": self.line,
            "command": self.command,
            "warning": self.warning,
            "checked": self.checked,
            "cautions": [c.to_dict() for c in self.cautions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        cautions = tuple(Caution(**c) for c in data.get("cautions", ()))
        return cls(**{**data, "cautions": cautions})


@dataclass(frozen=True)
class Item:
    """A list item or paragraph of a section that is not a step (a note, a link, a query)."""

    text: str
    line: int
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "line": self.line, "command": self.command}


@dataclass(frozen=True)
class Section:
    number: int
    heading: str
    line: int
    steps: tuple[Step, ...] = ()
    items: tuple[Item, ...] = ()
    cautions: tuple[Caution, ...] = ()

    @property
    def name(self) -> str:
        return SECTION_NAMES[self.number]

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "heading": self.heading,
            "line": self.line,
            "steps": [s.to_dict() for s in self.steps],
            "items": [i.to_dict() for i in self.items],
            "cautions": [c.to_dict() for c in self.cautions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        return cls(
            number=data["number"],
            heading=data["heading"],
            line=data["line"],
            steps=tuple(Step.from_dict(s) for s in data.get("steps", ())),
            items=tuple(Item(**i) for i in data.get("items", ())),
            cautions=tuple(Caution(**c) for c in data.get("cautions", ())),
        )


@dataclass(frozen=True)
class Heading:
    """An h2 heading as written, and the section it was matched to (None: not one of 0–6)."""

    text: str
    line: int
    number: int | None
    written: int | None = None


@dataclass(frozen=True)
class ParseProblem:
    """Something the parser could not read (broken front matter, not UTF-8): reported as RB000."""

    line: int
    message: str


@dataclass(frozen=True)
class Runbook:
    """One parsed runbook file. ``meta`` is the raw front matter mapping (lint validates it)."""

    slug: str
    path: str
    text: str
    content_hash: str
    meta: dict[str, Any]
    meta_lines: dict[str, int]
    body_line: int
    title: str | None
    title_line: int | None
    headings: tuple[Heading, ...]
    sections: tuple[Section, ...]
    problems: tuple[ParseProblem, ...] = ()
    end_line: int = 1
    front_matter_ok: bool = False

    def section(self, number: int) -> Section | None:
        """The first section with that number (duplicates are a lint error)."""
        return next((s for s in self.sections if s.number == number), None)

    @property
    def steps(self) -> list[Step]:
        return [step for section in self.sections for step in section.steps]

    def meta_line(self, key: str) -> int:
        """The line of a front-matter key, or of the front matter's opening line when it is absent."""
        return self.meta_lines.get(key, 1)

    def snapshot(self) -> dict[str, Any]:
        """The parsed form stored with an incident attachment (what its checklist refers to)."""
        return {
            "slug": self.slug,
            "title": self.title,
            "content_hash": self.content_hash,
            "sections": [s.to_dict() for s in self.sections],
        }


@dataclass(frozen=True)
class FirstMove:
    """What every page carries besides severity and runbook link (guide §4).

    Its words (:attr:`words`, :attr:`command_apart`) are the one wording of the first move: the page,
    the Slack command post, the alert FYI and the web pages all show these.
    """

    step_id: str
    text: str
    command: str | None

    @property
    def named(self) -> bool:
        """The step is labelled "First move" (else the first Mitigate step stands in)."""
        return self.text.lower().startswith(FIRST_MOVE_LABEL)

    @property
    def words(self) -> str:
        """The step's text without its "First move:" label: every message puts its own."""
        text = self.text.strip()
        if self.named:
            text = text[len(FIRST_MOVE_LABEL) :].lstrip(" :—-").strip() or text
        return text

    @property
    def command_apart(self) -> str | None:
        """The command to show on a line of its own: None when there is none or the words quote it."""
        return self.command if self.command and self.command not in self.text else None

    def to_dict(self) -> dict[str, Any]:
        return {"step_id": self.step_id, "text": self.text, "command": self.command}


@dataclass
class SnapshotView:
    """A stored snapshot read back: the sections of the version attached to an incident."""

    slug: str
    title: str | None
    content_hash: str
    sections: list[Section] = field(default_factory=list)

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> SnapshotView:
        return cls(
            slug=data["slug"],
            title=data.get("title"),
            content_hash=data.get("content_hash", ""),
            sections=[Section.from_dict(s) for s in data.get("sections", ())],
        )

    @property
    def steps(self) -> list[Step]:
        return [step for section in self.sections for step in section.steps]
