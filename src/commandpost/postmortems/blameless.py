"""The blameless check (guide §5-1): find sentences where a person is the actor of a failure.

Rule-based and explainable: each flag names the sentence, the person, the phrase that matched,
the rule, and a system-focused way to say it ("not 'A deleted it' but 'there was no guard
preventing deletion'"). People are the handles and names of ``people.yaml`` plus a few generic
actors ("someone", "the operator"). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

CHECKED_SECTIONS: tuple[str, ...] = ("root_cause", "technical_factor", "process_factor", "went_poorly")
"""Root cause (with its two factors) and What went poorly: where blame creeps in."""

GENERIC_ACTORS = (
    r"someone",
    r"somebody",
    r"the on-?call(?: engineer| person)?",
    r"the operator",
    r"an? (?:engineer|developer|operator|admin)",
    r"the (?:engineer|developer|admin|intern)",
)

SUGGESTIONS: dict[str, str] = {
    "delete": "there was no guard preventing deletion (permissions, a confirmation, a soft delete)",
    "forget": "the process relied on memory: no checklist step, automation or alert made it "
    "impossible to miss",
    "config": "there was no validation or review that caught the wrong value before it reached production",
    "break": "there was no safety net (test, canary, automatic rollback) that caught the change",
    "should": "the system did not make the right action the easy one: name what was missing "
    "(a runbook step, a safe default, a check)",
    "human": "'human error' is where the analysis starts: name the condition that made the error "
    "possible and the guard that was missing",
    "possessive": "name the change, not whose it was (e.g. 'the 1.4.2 release'), and the check that let it "
    "through (a test, a review, a canary)",
    "passive": "who did it does not explain why it could happen: say what the process allowed "
    "(e.g. 'the migration could run without a dry run')",
}

_DELETE = r"deleted|dropped|purged|removed|wiped|truncated|erased"
_FORGET = (
    r"forgot|forgotten|missed|ignored|overlooked|neglected|skipped|failed to|didn'?t|did not|never"
    r"|was careless|was negligent|was sloppy|rushed"
)
_CONFIG = (
    r"misconfigured|mistyped|fat[- ]fingered|ran the wrong|used the wrong|typed the wrong|chose the wrong"
    r"|pushed (?:a )?(?:bad|broken|wrong)|deployed (?:a )?(?:bad|broken|wrong)"
)
_BREAK = r"broke|caused|messed up|screwed up|botched|made (?:a|an|the) (?:\w+ )?(?:mistake|error)"
_ADVERBS = r"(?:(?:had|has|have|was|just|then|also|again|simply|\w+ly)\s+)*"
_FAULT_NOUNS = r"mistake|fault|error|negligence|carelessness|oversight|blunder|slip"
_TO_BLAME = r"to blame|at fault|responsible for the (?:outage|incident|failure)"
_HUMAN_ERROR = r"\b(?:human|operator|user|pilot|manual)\s+(?:error|mistake)s?\b"
_CHANGE_NOUNS = (
    r"changes?|commits?|deploys?|deployments?|push(?:es)?|PRs?|pull requests?|merges?|migrations?|scripts?"
    r"|query|queries|commands?|config|configs|configuration|edits?|patch(?:es)?|releases?|roll-?outs?|typos?"
    r"|code|upgrades?"
)
"""What a person's possessive or a "… by <person>" names as the cause: their change, not a system."""
_WORDS_BEFORE = r"(?:[\w:.-]+\s+){0,3}?"
_CREDIT = (
    r"noticed|spotted|caught|detected|found|discovered|acknowledged|acked|reported|escalated|fixed"
    r"|resolved|mitigated|restored|recovered|rolled|reverted|investigated|handled|declared|paged|drained"
    r"|owned|maintained"
)
"""Passives that credit a response ("the backlog was noticed by Hana") are facts, like their active form."""
_BE = r"(?:was|were|been|being|is|are|got|gets|get)"


@dataclass(frozen=True)
class BlameFlag:
    section: str
    sentence: str
    actor: str
    phrase: str
    rule: str
    suggestion: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "sentence": self.sentence,
            "actor": self.actor,
            "phrase": self.phrase,
            "rule": self.rule,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class People:
    """Who counts as a person: ``people.yaml`` handles (with or without @) and names (full and parts)."""

    handles: tuple[str, ...]
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, people: Iterable[Any]) -> People:
        """From ``people.yaml`` Person models (anything with ``handle`` and ``name``)."""
        handles, names = [], []
        for person in people:
            handles.append(person.handle)
            full = person.name.strip()
            names.append(full)
            names.extend(part for part in full.split() if len(part) >= 3)
        return cls(tuple(handles), tuple(dict.fromkeys(names)))

    @cached_property
    def actor(self) -> str:
        """One regex alternative matching any person, longest first (``Hana Suzuki`` before ``Hana``)."""
        handles = sorted(self.handles, key=len, reverse=True)
        parts = [rf"@{re.escape(h)}\b" for h in handles]
        # names and bare handles longest first, so "Hana Suzuki" is one actor, not "Hana" and a word
        spelled = [(h, rf"(?i:\b{re.escape(h)}\b)") for h in handles]
        spelled += [(n, rf"\b{re.escape(n)}\b") for n in self.names]
        parts += [pattern for _text, pattern in sorted(spelled, key=lambda p: len(p[0]), reverse=True)]
        parts += [rf"(?i:\b{g}\b)" for g in GENERIC_ACTORS]
        return "(?P<actor>" + "|".join(parts) + ")"

    @cached_property
    def rules(self) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
        """``(rule, suggestion key, pattern)`` in the order tried; the first match flags a sentence."""
        a = self.actor
        i = re.IGNORECASE
        return (
            ("human-error", "human", re.compile(_HUMAN_ERROR, i)),
            ("possessive-fault", "human", re.compile(rf"{a}(?:'s|’s)\s+(?:\w+\s+)?(?i:{_FAULT_NOUNS})\b")),
            ("blame-on", "human", re.compile(rf"(?i:\b(?:blame|fault)\s+(?:of|on|lies with)\s+){a}")),
            ("to-blame", "human", re.compile(rf"{a}\s+(?i:(?:is|was|were)\s+(?:{_TO_BLAME}))")),
            ("because-of", "human", re.compile(rf"(?i:\bbecause of\s+){a}(?![\w'’])")),
            ("should-have", "should", re.compile(rf"{a}\s+(?i:(?:should|could|ought to)\s*(?:have|'ve)\b)")),
            (
                "possessive-change",
                "possessive",
                re.compile(
                    rf"{a}(?:'s|’s)\s+(?i:{_WORDS_BEFORE}(?:(?:{_CHANGE_NOUNS})\b"
                    rf"|[\w-]+\s+{_ADVERBS}(?:{_BREAK}|{_DELETE}|took down|brought down)\b))"
                ),
            ),
            (
                "passive-by",
                "passive",
                re.compile(
                    rf"(?i:\b{_BE}\s+{_ADVERBS}(?!(?:{_CREDIT})\b)[a-z]+(?:\s+(?:up|out|down|over|off))?\s+by\s+)"
                    rf"{a}(?!\w)"
                ),
            ),
            (
                "change-by",
                "possessive",
                re.compile(
                    rf"(?i:\b(?:the|a|an|this|that|his|her|their)\s+{_WORDS_BEFORE}(?:{_CHANGE_NOUNS})\s+by\s+)"
                    rf"{a}(?!\w)"
                ),
            ),
            ("actor-deleted", "delete", re.compile(rf"{a}\s+(?i:{_ADVERBS}(?:{_DELETE}))\b")),
            ("actor-misconfigured", "config", re.compile(rf"{a}\s+(?i:{_ADVERBS}(?:{_CONFIG}))")),
            ("actor-forgot", "forget", re.compile(rf"{a}\s+(?i:{_ADVERBS}(?:{_FORGET}))\b")),
            ("actor-broke", "break", re.compile(rf"{a}\s+(?i:{_ADVERBS}(?:{_BREAK}))\b")),
        )


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def sentences(text: str) -> list[str]:
    out = []
    for raw in _SENTENCE.split(text or ""):
        sentence = _BULLET.sub("", raw).strip()
        if sentence:
            out.append(sentence)
    return out


def check_text(text: str, people: People, *, section: str = "") -> list[BlameFlag]:
    """One flag per blaming sentence of ``text`` (the first rule that matches explains it)."""
    flags = []
    for sentence in sentences(text):
        for rule, key, pattern in people.rules:
            match = pattern.search(sentence)
            if match:
                actor = match.groupdict().get("actor") or "a person"
                flags.append(
                    BlameFlag(
                        section=section,
                        sentence=sentence,
                        actor=actor,
                        phrase=match.group(0),
                        rule=rule,
                        suggestion=SUGGESTIONS[key],
                    )
                )
                break
    return flags


def check_sections(sections: Mapping[str, str], people: People) -> list[BlameFlag]:
    """The blameless check over Root cause (and its factors) and What went poorly."""
    flags: list[BlameFlag] = []
    for name in CHECKED_SECTIONS:
        flags += check_text(sections.get(name) or "", people, section=name)
    return flags
