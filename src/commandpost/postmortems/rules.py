"""Pure postmortem rules (guide §5): the criteria decided in advance, the review states, SMART action items,
and when an action item's owner is reminded. No I/O and no clock: callers pass values and ``now``.

The blameless check lives beside this module in ``blameless.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from commandpost.errors import InvalidTransition, ValidationFailed
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import PostmortemSettings

# ---------------------------------------------------------------- sections (guide §5-3)

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("user_impact", "User impact"),
    ("business_impact", "Business impact"),
    ("timeline", "Timeline"),
    ("root_cause", "Root cause — five whys"),
    ("technical_factor", "Technical factor"),
    ("process_factor", "Process factor"),
    ("detection", "Detection"),
    ("went_well", "Went well"),
    ("went_poorly", "Went poorly"),
    ("got_lucky", "Where we got lucky"),
)
SECTION_NAMES: tuple[str, ...] = tuple(name for name, _ in SECTIONS)
SECTION_TITLES: dict[str, str] = dict(SECTIONS)
REQUIRED_SECTIONS: tuple[str, ...] = SECTION_NAMES
"""Every section must say something before Final ("nothing" is an answer; an empty section is not)."""

HINTS: dict[str, str] = {
    "summary": "Three lines: what happened, for how long, who was impacted.",
    "user_impact": "In numbers, measured not guessed: failed requests, affected users or merchants.",
    "business_impact": "E.g. N charging delays; data consistency maintained or lost.",
    "timeline": "Transcribed from the live document.",
    "root_cause": (
        "Ask why five times, each answer the cause of the one before:\n"
        "1. Why did the symptom happen?\n2. Why …?\n3. Why …?\n4. Why …?\n5. Why …?\n"
        "The subject is the system or the process, never a person: not 'A deleted it' "
        "but 'there was no guard preventing deletion'."
    ),
    "technical_factor": "The technical condition that let it happen (a missing limit, guard, alert…).",
    "process_factor": "The process condition that let it happen (review, runbook, rollout, ownership…).",
    "detection": "How it was noticed. If not by monitoring, that itself is an action item.",
    "went_well": "What helped the response.",
    "went_poorly": "What slowed or hurt the response (about systems and processes, not people).",
    "got_lucky": "Where we were saved by chance — next, into a mechanism that does not rely on luck.",
}
MAX_SECTION = 20_000

STATUSES: tuple[str, ...] = ("not_required", "draft", "in_review", "final")
STATUS_LABELS: dict[str, str] = {
    "not_required": "Not required",
    "draft": "Draft",
    "in_review": "In Review",
    "final": "Final",
}
REOPEN_TARGETS: tuple[str, ...] = ("draft", "in_review")

# ---------------------------------------------------------------- criteria (guide §5-2)

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


# ---------------------------------------------------------------- review states


def check_move(status: str, move: str, *, number: str, target: str | None = None) -> str:
    """The status after ``move`` (start|submit|approve|reopen), or 409 naming what is allowed."""
    allowed: dict[str, tuple[str, ...]] = {
        "start": ("not_required",),
        "submit": ("draft", "in_review"),
        "approve": ("in_review",),
        "reopen": ("in_review", "final"),
    }
    if status in allowed[move]:
        if move == "reopen":
            wanted = target or "draft"
            if wanted not in REOPEN_TARGETS:
                raise ValidationFailed(
                    f"reopen goes back to {' or '.join(REOPEN_TARGETS)}, not {wanted!r}",
                    details={"field": "to", "valid": list(REOPEN_TARGETS)},
                )
            if status == "in_review" and wanted == "in_review":
                raise InvalidTransition(
                    f"the postmortem of {number} is already In Review; reopen it to draft",
                    details={"status": status, "move": move},
                )
            return wanted
        return {"start": "draft", "submit": "in_review", "approve": "final"}[move]
    possible = [m for m, sources in allowed.items() if status in sources]
    raise InvalidTransition(
        f"the postmortem of {number} is {STATUS_LABELS[status]}; it cannot {move} "
        f"(possible now: {', '.join(possible) or 'edit'})",
        details={"status": status, "move": move, "allowed": possible},
    )


def empty_sections(sections: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED_SECTIONS if not (sections.get(name) or "").strip()]


# ---------------------------------------------------------------- action items (guide §5-4)

ACTION_TYPES: tuple[str, ...] = ("prevent", "mitigate", "process")
ACTION_STATUSES: tuple[str, ...] = ("open", "in_progress", "done", "wontfix")
OPEN_ACTION_STATUSES: tuple[str, ...] = ("open", "in_progress")
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


FILLER_PHRASES: tuple[str, ...] = (
    "going forward",
    "moving forward",
    "from now on",
    "more carefully",
    "keep an eye on",
    "be vigilant",
    "be aware",
    "remember to",
    "as needed",
    "as appropriate",
    "where possible",
    "if possible",
    "when possible",
)
"""Filler that promises without naming a change: flagged whatever ``postmortem.vague_words`` says."""

INSERTABLE_WORDS = frozenset(
    (
        *("more", "much", "very", "really", "extra", "even", "so", "too", "super", "way", "a", "bit"),
        *("little", "lot", "always", "all", "again", "just", "still", "ever", "also", "better", "harder"),
        *("hard", "best", "close", "closer", "special", "particular", "our", "your", "their", "his", "her"),
        *("its", "my"),
    )
)
"""Words that may stand between the words of a vague phrase without making it specific ("be much more
careful", "pay close attention", "try harder to"), besides any adverb in -ly ("be really careful")."""
MAX_INSERTED = 3
_DASHES = re.compile(r"[\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d_/]")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def _words(text: str) -> list[str]:
    """``text`` as lower-case words: case folded, NFKC, hyphens/dashes/underscores/slashes and runs of
    spaces or punctuation all one separator (so "Double - check", "double‐check" and "double check" agree)."""
    folded = _DASHES.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return _WORD.findall(folded)


def _forms(word: str) -> frozenset[str]:
    """``word`` and its regular inflections: check → checks, checked, checking; make → making; try →
    tries, tried; pay → paid."""
    forms = {word, word + "s", word + "ed", word + "ing"}
    if word.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms |= {word + "es"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    if word.endswith("y") and len(word) > 2:
        forms |= {word[:-1] + "ies", word[:-1] + "ied", word[:-1] + "id"}
    if word == "be":
        forms |= {"being", "been"}
    return frozenset(forms)


def _insertable(word: str) -> bool:
    return word in INSERTABLE_WORDS or (len(word) > 3 and word.endswith("ly"))


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether ``phrase`` occurs in ``words``, each of its words in any regular form, with up to
    :data:`MAX_INSERTED` insertable words between two of them — or written as one word
    ("doublecheck", "doublechecking")."""
    if not phrase:
        return False
    joined = _forms("".join(phrase)) if len(phrase) > 1 else frozenset()
    forms = [_forms(w) for w in phrase]
    for start, word in enumerate(words):
        if word in joined:
            return True
        if word not in forms[0]:
            continue
        at, matched = start, True
        for wanted in forms[1:]:
            at += 1
            skipped = 0
            while (
                at < len(words)
                and words[at] not in wanted
                and _insertable(words[at])
                and skipped < MAX_INSERTED
            ):
                at, skipped = at + 1, skipped + 1
            if at >= len(words) or words[at] not in wanted:
                matched = False
                break
        if matched:
            return True
    return False


def vague_phrases(text: str, vague_words: Iterable[str]) -> list[str]:
    """The vague phrases ``text`` contains — the configured ones as written in the config, then any of
    :data:`FILLER_PHRASES` — matched on words, not characters: case, hyphens and spacing do not
    matter, inflected forms count, and adverbs put between the words do not hide a phrase."""
    words = _words(text)
    found: list[str] = []
    for phrase in [*vague_words, *FILLER_PHRASES]:
        written = phrase.strip()
        if written and written not in found and _contains(words, _words(written)):
            found.append(written)
    return found


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


def check_action_status(current: str, wanted: str, *, note: str) -> str:
    """Any status may follow any other, except that ``wontfix`` needs a reason."""
    if wanted not in ACTION_STATUSES:
        raise ValidationFailed(
            f"status {wanted!r} is not one of {', '.join(ACTION_STATUSES)}",
            details={"field": "status", "valid": list(ACTION_STATUSES)},
        )
    if wanted == "wontfix" and current != "wontfix" and not note.strip():
        raise ValidationFailed(
            "wontfix needs a note saying why the item will not be done", details={"field": "note"}
        )
    return wanted


# ---------------------------------------------------------------- reminders

REMIND_BEFORE = timedelta(days=2)
REMIND_AT = time(9, 0)
Kind = Literal["before", "after"]


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def is_overdue(due: date, now: datetime, timezone: str) -> bool:
    """Overdue once the due day is over in the org's timezone."""
    return local_today(now, timezone) > due


def reminder_times(due: date, timezone: str) -> dict[Kind, datetime]:
    """09:00 org time two days before the due day, and 09:00 the morning after it."""
    zone = ZoneInfo(timezone)
    before = datetime.combine(due - REMIND_BEFORE, REMIND_AT, tzinfo=zone)
    after = datetime.combine(due + timedelta(days=1), REMIND_AT, tzinfo=zone)
    return {"before": before, "after": after}


def due_reminder(
    due: date, now: datetime, timezone: str, *, before_sent_for: date | None, after_sent_for: date | None
) -> Kind | None:
    """The reminder owed at ``now`` (one of each kind per due date; past due, only the "after" one)."""
    times = reminder_times(due, timezone)
    if now >= times["after"]:
        return None if after_sent_for == due else "after"
    if now >= times["before"]:
        return None if before_sent_for == due else "before"
    return None


def next_reminder_at(
    due: date, timezone: str, *, before_sent_for: date | None, after_sent_for: date | None
) -> datetime | None:
    times = reminder_times(due, timezone)
    if before_sent_for != due:
        return times["before"]
    if after_sent_for != due:
        return times["after"]
    return None
