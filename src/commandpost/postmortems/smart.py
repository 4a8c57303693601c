"""SMART action items (guide §5-4): every rule an item breaks — Specific, Measurable, Assigned, Realistic,
Time-bound, and Blameless — each with the field and what would fix it."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from commandpost.errors import ValidationFailed
from commandpost.postmortems.vague import FILLER_PHRASES, vague_phrases

ACTION_TYPES: tuple[str, ...] = ("prevent", "mitigate", "process")
MIN_WORDS = 3
MAX_DUE_AHEAD = timedelta(days=365)
_TICKET_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")
_TICKET_URL = re.compile(r"^https?://[^\s/]+\S*$")
EXAMPLE_TITLE = "add an auto-scaling step to the WebhookBacklogHigh runbook"
EXAMPLE_VERIFICATION = "reproduce it in a failure drill and confirm the auto-mitigation works"


@dataclass(frozen=True)
class SmartProblem:
    """One broken SMART rule: which letter, which field, and what would fix it."""

    rule: Literal["Specific", "Measurable", "Assigned", "Realistic", "Time-bound", "Blameless"]
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ActionDraft:
    """The fields of an action item as given (after trimming)."""

    title: str
    type: str
    owner: str | None
    due: date | None
    ticket: str | None
    verification: str | None = None
    runbook: str | None = None


@dataclass(frozen=True)
class SmartContext:
    today: date
    timezone: str
    vague_words: Sequence[str]
    people: Collection[str]
    runbooks: Collection[str] = ()
    blame: Any = None
    """``callable(text) -> list of BlameFlag`` (blameless.check_text bound to the people), or None."""
    require_ticket: bool = True
    check_due: bool = True


def normalize_ticket(value: str | None) -> str | None:
    """``ops-123`` → ``OPS-123``; a URL as given; None/blank → None. Invalid values are left for SMART."""
    text = (value or "").strip()
    if not text:
        return None
    return text.upper() if _TICKET_KEY.match(text) else text


def smart_problems(item: ActionDraft, ctx: SmartContext) -> list[SmartProblem]:
    """Every SMART rule ``item`` breaks (an empty list means it may be stored)."""
    problems: list[SmartProblem] = []
    problems += _specific(item.title, "title", ctx)
    if item.type not in ACTION_TYPES:
        problems.append(
            SmartProblem("Specific", "type", f"type {item.type!r} is not one of {', '.join(ACTION_TYPES)}")
        )
    if item.type == "prevent":
        problems += _measurable(item.verification, ctx)
    if not item.owner:
        problems.append(
            SmartProblem(
                "Assigned", "owner", "an owner is required: a handle from people.yaml (owner = @yuta)"
            )
        )
    elif item.owner not in ctx.people:
        problems.append(
            SmartProblem(
                "Assigned",
                "owner",
                f"owner @{item.owner} is not in people.yaml (people: "
                f"{', '.join('@' + p for p in sorted(ctx.people))})",
            )
        )
    problems += _time_bound(item.due, ctx)
    if ctx.require_ticket and not item.ticket:
        problems.append(
            SmartProblem(
                "Assigned", "ticket", "a ticket is required so it is tracked: a key like OPS-123 or a URL"
            )
        )
    elif item.ticket and not (_TICKET_KEY.match(item.ticket) or _TICKET_URL.match(item.ticket)):
        problems.append(
            SmartProblem(
                "Assigned",
                "ticket",
                f"ticket {item.ticket!r} is neither a key like OPS-123 nor an http(s) URL",
            )
        )
    if item.runbook is not None and item.runbook not in ctx.runbooks:
        problems.append(
            SmartProblem(
                "Specific",
                "runbook",
                f"no runbook {item.runbook!r} is applied "
                f"(runbooks: {', '.join(sorted(ctx.runbooks)) or 'none'})",
            )
        )
    return problems


def _specific(title: str, name: str, ctx: SmartContext) -> list[SmartProblem]:
    problems: list[SmartProblem] = []
    if len(title.split()) < MIN_WORDS:
        problems.append(
            SmartProblem(
                "Specific",
                name,
                f"{title!r} is too short to say what changes and where (at least {MIN_WORDS} words, "
                f"e.g. '{EXAMPLE_TITLE}')",
            )
        )
    for phrase in vague_phrases(title, ctx.vague_words):
        where = (
            "filler that names no change"
            if phrase in FILLER_PHRASES
            else "postmortem.vague_words in commandpost.yaml"
        )
        problems.append(
            SmartProblem(
                "Specific",
                name,
                f"'{phrase}' is vague wording ({where}): name the change instead, e.g. '{EXAMPLE_TITLE}'",
            )
        )
    if ctx.blame is not None:
        for flag in ctx.blame(title):
            problems.append(
                SmartProblem(
                    "Blameless",
                    name,
                    f"'{flag.phrase}' makes a person the subject; fix the system or process instead "
                    f"({flag.suggestion})",
                )
            )
    return problems


def _measurable(verification: str | None, ctx: SmartContext) -> list[SmartProblem]:
    text = (verification or "").strip()
    if not text:
        return [
            SmartProblem(
                "Measurable",
                "verification",
                "a prevent item needs a verification — how we will know it works, "
                f"e.g. '{EXAMPLE_VERIFICATION}'",
            )
        ]
    problems = []
    if len(text.split()) < MIN_WORDS:
        problems.append(
            SmartProblem(
                "Measurable",
                "verification",
                f"verification {text!r} is too short to check (at least {MIN_WORDS} words, "
                f"e.g. '{EXAMPLE_VERIFICATION}')",
            )
        )
    for phrase in vague_phrases(text, ctx.vague_words):
        problems.append(
            SmartProblem(
                "Measurable",
                "verification",
                f"'{phrase}' is vague wording: say what is run and what result counts as done",
            )
        )
    return problems


def _time_bound(due: date | None, ctx: SmartContext) -> list[SmartProblem]:
    if due is None:
        return [
            SmartProblem("Time-bound", "due", "a due date is required (YYYY-MM-DD, e.g. due = 2026-07-15)")
        ]
    if not ctx.check_due:
        return []
    if due <= ctx.today:
        return [
            SmartProblem(
                "Time-bound",
                "due",
                f"due {due.isoformat()} is not in the future "
                f"(today is {ctx.today.isoformat()} in {ctx.timezone})",
            )
        ]
    if due > ctx.today + MAX_DUE_AHEAD:
        return [
            SmartProblem(
                "Realistic",
                "due",
                f"due {due.isoformat()} is more than a year away; split it into steps due within a year",
            )
        ]
    return []


def raise_if_not_smart(problems: Sequence[SmartProblem], *, what: str = "action item") -> None:
    """422 naming every broken rule, e.g. ``action item is not SMART — Assigned (owner): …``."""
    if not problems:
        return
    parts = "; ".join(f"{p.rule} ({p.field}): {p.message}" for p in problems)
    raise ValidationFailed(
        f"{what} is not SMART — {parts}", details={"smart": [p.to_dict() for p in problems]}
    )
