"""Pure rules of "similar past incidents": the words a query is made of, the full-text queries each
database is given, and how text, alert identity and service combine into one score. No I/O.

Queries are built from words, never from the text as typed: a word is a run of letters and digits
(``[^\\W_]+``), so nothing a title holds (``"``, ``*``, ``:``, ``NEAR``, ``-``, NUL, a megabyte) can
reach either database's query syntax. Each word is quoted for FTS5 and joined with ``OR``; PostgreSQL
gets the words joined with ``|`` for ``to_tsquery``, which only ever sees letters and digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_WORDS = 64
"""Words a query keeps (the first ones: title, then identity, summary, root cause)."""
MAX_WORD = 40
"""A longer run of letters is no word anyone types twice (a hash, a base64 blob): left out."""
TEXT_WEIGHT, IDENTITY_WEIGHT, SERVICE_WEIGHT = 0.5, 0.3, 0.2
MIN_SCORE = 0.25
"""Below this a suggestion is noise at 3 a.m.: the panel says there is nothing similar instead."""
SHOWN = 3

_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(
    "a an and are as at be by for from has in is it of on or the to was were with".split()  # noqa: SIM905
)
IGNORED_LABELS = frozenset({"drill"})
"""Labels that say nothing of what broke."""


def words(*texts: str) -> list[str]:
    """The distinct lowercase words of ``texts``, in order of first appearance, at most ``MAX_WORDS``."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _WORD.finditer(text):
            word = match.group().lower()
            if len(word) < 2 or len(word) > MAX_WORD or word in _STOP or word in seen:
                continue
            seen[word] = None
            if len(seen) == MAX_WORDS:
                return list(seen)
    return list(seen)


def fts5_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression: any of the words (each a quoted string, so never an operator)."""
    return " OR ".join(f'"{t}"' for t in terms)


def tsquery(terms: Iterable[str]) -> str:
    """A ``to_tsquery`` expression: any of the words."""
    return " | ".join(terms)


def label_pairs(labels: Mapping[str, Any]) -> set[str]:
    """``key=value`` of each label that can identify an alert."""
    return {f"{k}={v}" for k, v in labels.items() if k not in IGNORED_LABELS and k != "alertname"}


@dataclass(frozen=True)
class Identity:
    """What identifies the alerts of an incident: their alertnames and label pairs (and the incident's)."""

    alertnames: frozenset[str]
    labels: frozenset[str]

    @classmethod
    def of(cls, alerts: Iterable[tuple[str, Mapping[str, Any]]], labels: Mapping[str, Any]) -> Identity:
        names: set[str] = set()
        pairs = label_pairs(labels)
        for alertname, alert_labels in alerts:
            if alertname:
                names.add(alertname)
            pairs |= label_pairs(alert_labels)
        return cls(frozenset(names), frozenset(pairs))

    def words(self) -> list[str]:
        return [*sorted(self.alertnames), *(p.replace("=", " ") for p in sorted(self.labels))]


def identity_score(query: Identity, candidate: Identity) -> float:
    """0.6 for a shared alertname, plus 0.4 × the Jaccard index of the label pairs."""
    score = 0.6 if query.alertnames & candidate.alertnames else 0.0
    union = query.labels | candidate.labels
    if union:
        score += 0.4 * len(query.labels & candidate.labels) / len(union)
    return score


@dataclass(frozen=True)
class Scored:
    score: float
    reasons: tuple[str, ...]


def combine(
    *, text: float, query: Identity, candidate: Identity, same_service: bool, service: str | None
) -> Scored:
    """The score (0–1, three decimals) and the reasons an IC reads beside it.

    ``text`` is the candidate's full-text rank over the query incident's own rank (1.0: as close as
    the incident is to itself)."""
    identity = identity_score(query, candidate)
    score = (
        TEXT_WEIGHT * min(max(text, 0.0), 1.0) + IDENTITY_WEIGHT * identity + SERVICE_WEIGHT * same_service
    )
    reasons = [f"same alert {n}" for n in sorted(query.alertnames & candidate.alertnames)]
    shared = sorted(query.labels & candidate.labels)
    if shared:
        reasons.append("shared labels " + ", ".join(shared[:3]) + (" …" if len(shared) > 3 else ""))
    if same_service and service:
        reasons.append(f"same service {service}")
    if text >= 0.2:
        reasons.append("similar words")
    return Scored(round(score, 3), tuple(reasons))
