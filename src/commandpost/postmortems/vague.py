"""Vague wording in an action item (the S and M of SMART): the phrases of ``postmortem.vague_words`` and
filler that promises without naming a change, matched on words so that spelling variants do not hide them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

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
