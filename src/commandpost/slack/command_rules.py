"""The ``/inc`` subcommands as text: pure parsing, no I/O, so every shape is tested on its own.

Slack sends everything after the command as one string. :func:`parse` turns it into a :class:`Command`
or raises :class:`Unparsed` with the sentence the person sees (with the help after it). An incident
is named first or right after the subcommand (``INC-7 ack``, ``ack INC-7``; later words are the
command's own text); inside an incident channel it may be left out.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from commandpost.errors import ValidationFailed
from commandpost.incidents import rules as incident_rules

MAX_TEXT = 4000
"""Longer than any message Slack's composer sends a slash command; more is refused, not cut."""
STATUSES = ("investigating", "identified", "mitigated", "resolved")
ROLES = ("ops", "comms", "planning")
STEP_STATES = ("done", "skipped", "failed")
VERBS = (
    "declare",
    "ack",
    "status",
    "sev",
    "ic",
    "role",
    "note",
    "update",
    "page",
    "escalate",
    "runbook",
    "help",
)
HELP = "\n".join(
    (
        "`{cmd} declare [SEV1-4] [service] title…` — declare (no arguments: a form)",
        "`{cmd} ack` — acknowledge (the first to ack becomes IC)",
        "`{cmd} status investigating|identified|mitigated|resolved [note]`",
        "`{cmd} sev SEV2 reason…` — change severity, with why",
        "`{cmd} ic offer @person` · `{cmd} ic accept` · `{cmd} ic decline` — hand over IC",
        "`{cmd} role ops|comms|planning @person` — the IC delegates a role",
        "`{cmd} note text…` — a timeline note",
        "`{cmd} update [--public] text…` — a comms update (--public: for the status page)",
        "`{cmd} page @person|team` — page someone now",
        "`{cmd} escalate` — page the next level now",
        "`{cmd} runbook` — the checklist · `{cmd} runbook step 3 done|skipped|failed`",
        "Outside an incident channel, name the incident first: `{cmd} INC-7 ack`.",
    )
)
_INCIDENT = re.compile(r"^inc-?\d{1,9}$", re.IGNORECASE)
_SLACK_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$")
_HANDLE = re.compile(r"^@?([a-z0-9][a-z0-9._-]{0,99})$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Unparsed(ValueError):
    """The text is no command; ``str(exc)`` is the sentence to show."""


@dataclass(frozen=True)
class Target:
    """Who a command names: a Slack member (``<@U123>``, as Slack escapes a mention) or a handle/team."""

    slack_user: str | None = None
    handle: str | None = None


@dataclass(frozen=True)
class Command:
    verb: str
    number: int | None = None
    severity: str | None = None
    service: str | None = None
    text: str = ""
    status: str | None = None
    role: str | None = None
    answer: str | None = None
    target: Target | None = None
    public: bool = False
    step: str | None = None
    state: str | None = None


def help_text(command: str = "/inc") -> str:
    return HELP.format(cmd=command)


def parse(text: str, *, services: Collection[str] = ()) -> Command:
    """``text`` after the slash command → a :class:`Command`; ``services`` tells a service from a title."""
    if len(text) > MAX_TEXT:
        raise Unparsed(f"that is {len(text)} characters; a command takes at most {MAX_TEXT}")
    if _CONTROL.search(text):
        raise Unparsed("the command holds control characters (a NUL byte?); type it again as plain text")
    words = text.split()
    number: int | None = None
    kept: list[str] = []
    for word in words:
        if number is None and _INCIDENT.match(word) and len(kept) <= 1:
            number = incident_rules.parse_number(word)
        else:
            kept.append(word)
    if not kept:
        return Command("help", number)
    verb, rest = kept[0].lower(), kept[1:]
    if verb not in VERBS:
        raise Unparsed(f"unknown subcommand {kept[0][:40]!r}")
    parser = _PARSERS.get(verb)
    if parser is None:
        if rest:
            raise Unparsed(f"`{verb}` takes no arguments (got {' '.join(rest)[:60]!r})")
        return Command(verb, number)
    return parser(number, rest, services)


def _severity(word: str, *, bare_digit: bool = False) -> str | None:
    """``SEV2``/``sev2`` (and ``2`` where nothing else could be meant: not in a title)."""
    if not bare_digit and not word.lower().startswith("sev"):
        return None
    try:
        return incident_rules.normalize_severity(word)
    except ValidationFailed:
        return None


def _declare(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if number is not None:
        raise Unparsed("`declare` opens a new incident; leave out the INC number")
    severity = _severity(rest[0]) if rest else None
    if severity is not None:
        rest = rest[1:]
    service = rest[0].lower() if rest and rest[0].lower() in services else None
    if service is not None:
        rest = rest[1:]
    title = " ".join(rest)
    if (severity or service) and not title:
        raise Unparsed("`declare` needs a title after the severity and service: what is happening?")
    return Command("declare", severity=severity, service=service, text=title)


def _status(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if not rest or rest[0].lower() not in STATUSES:
        raise Unparsed(f"`status` takes one of {', '.join(STATUSES)}, then an optional note")
    return Command("status", number, status=rest[0].lower(), text=" ".join(rest[1:]))


def _sev(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    severity = _severity(rest[0], bare_digit=True) if rest else None
    if severity is None:
        raise Unparsed("`sev` takes a severity (SEV1–SEV4) and the reason: `sev SEV2 checkout errors at 5%`")
    if len(rest) < 2:
        raise Unparsed(f"`sev {severity}` needs a reason: why is it {severity} now?")
    return Command("sev", number, severity=severity, text=" ".join(rest[1:]))


def target(word: str) -> Target:
    """``<@U123|mei>`` (an escaped mention), ``@mei`` or ``payments`` (a team)."""
    mention = _SLACK_MENTION.match(word)
    if mention:
        return Target(slack_user=mention.group(1))
    handle = _HANDLE.match(word)
    if handle is None:
        raise Unparsed(f"{word[:60]!r} is not a person: write @handle or mention them")
    return Target(handle=handle.group(1).lower())


def _ic(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    answer = rest[0].lower() if rest else ""
    if answer == "offer" and len(rest) == 2:
        return Command("ic", number, answer="offer", target=target(rest[1]))
    if answer in ("accept", "decline") and len(rest) == 1:
        return Command("ic", number, answer=answer)
    raise Unparsed("`ic` takes `offer @person`, `accept` or `decline`")


def _role(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if len(rest) != 2 or rest[0].lower() not in ROLES:
        raise Unparsed(f"`role` takes a role ({', '.join(ROLES)}) and a person: `role ops @mei`")
    return Command("role", number, role=rest[0].lower(), target=target(rest[1]))


def _note(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if not rest:
        raise Unparsed("`note` needs the text to put on the timeline")
    return Command("note", number, text=" ".join(rest))


def _update(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    public = bool(rest) and rest[0].lower() == "--public"
    words = rest[1:] if public else rest
    if not words:
        raise Unparsed("`update` needs the text of the update: `update --public We are restoring checkout`")
    return Command("update", number, text=" ".join(words), public=public)


def _page(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if len(rest) != 1:
        raise Unparsed("`page` takes one person or team: `page @mei` or `page payments`")
    return Command("page", number, target=target(rest[0]))


def _runbook(number: int | None, rest: list[str], services: Collection[str]) -> Command:
    if not rest:
        return Command("runbook", number)
    if len(rest) == 3 and rest[0].lower() == "step" and rest[2].lower() in STEP_STATES:
        return Command("runbook", number, step=rest[1], state=rest[2].lower())
    raise Unparsed(
        f"`runbook` alone shows the checklist; `runbook step 3 {'|'.join(STEP_STATES)}` marks a step"
    )


_PARSERS = {
    "declare": _declare,
    "status": _status,
    "sev": _sev,
    "ic": _ic,
    "role": _role,
    "note": _note,
    "update": _update,
    "page": _page,
    "runbook": _runbook,
}
