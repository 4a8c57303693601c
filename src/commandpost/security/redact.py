"""Redaction of secrets and card numbers from free text, before anything is stored or sent.

DESIGN.md: "Every free-text field passes security.redact before it is stored or sent."
``redact(text)`` replaces each secret with ``[REDACTED:<kind>]`` and reports what it found by
kind and position only: a :class:`Finding` never carries the secret, so findings can be logged.

Detectors (see :mod:`commandpost.security.detectors`) run line by line, as detect-secrets
does, plus one pass over the whole text for private-key blocks. Overlapping spans merge into
one, named by the most specific detector. The detectors are built once, on first use, and are
read-only afterwards: calls from many threads at once are safe.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commandpost.security import detectors
from commandpost.security.cards import is_card_number
from commandpost.security.detectors import Hit, LineDetector

SECRET_KEY_KIND = "secret-key"

# Keys whose value is a secret whatever it looks like; matched on the key's words
# ("db_password", "clientSecret", "X-Api-Key", "Authorization").
_SECRET_WORD = re.compile(
    r"password|passwd|passphrase|pwd|secret|token|apikey|authorization|credentials?|cookie"
    r"|privatekey|accesskey|secretkey|signingkey|sessionid"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
_LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits on


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted span: what kind of secret, and where it was in the input (``text[start:end]``)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was taken out of it."""

    text: str
    findings: tuple[Finding, ...] = ()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.findings)


def marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


_lock = threading.Lock()
_detectors: tuple[LineDetector, ...] | None = None


def warm_up() -> None:
    """Build the detectors now (imports detect-secrets, ~0.3 s) rather than on the first call."""
    _line_detectors()


def _line_detectors() -> tuple[LineDetector, ...]:
    global _detectors
    if _detectors is None:
        with _lock:
            if _detectors is None:
                _detectors = detectors.build()
    return _detectors


def _hits(text: str) -> list[Hit]:
    hits = _detect(text)
    if "[REDACTED:" not in text:
        return hits
    # A marker from an earlier pass ("Bearer [REDACTED:jwt]") is not a secret: redacting is idempotent.
    markers = [m.span() for m in _MARKER.finditer(text)]
    return [h for h in hits if not any(s <= h.start and h.end <= e for s, e in markers)]


def _detect(text: str) -> list[Hit]:
    found = detectors.private_key_blocks(text) if "PRIVATE KEY" in text or "PuTTY" in text else []
    lines = text.splitlines(keepends=True)
    whole = detectors.Line.of(text.rstrip(_LINE_BREAKS) if len(lines) == 1 else text)
    active = [d for d in _line_detectors() if whole.may_contain(d.needles, d.ignore_case)]
    if len(lines) == 1:
        found.extend(h for detect in active for h in detect(whole))
        return found
    offset = 0
    for line in lines:
        body = detectors.Line.of(line.rstrip(_LINE_BREAKS))
        for detect in active:
            if body.may_contain(detect.needles, detect.ignore_case):
                found.extend(Hit(h.start + offset, h.end + offset, h.kind, h.rank) for h in detect(body))
        offset += len(line)
    return found


def _merge(hits: list[Hit]) -> list[Finding]:
    """Overlapping or touching spans become one, named by the highest-ranked kind among them."""
    merged: list[Finding] = []
    rank = 0
    for h in sorted(hits):
        if merged and h.start <= merged[-1].end:
            last = merged[-1]
            kind = h.kind if h.rank > rank else last.kind
            rank = max(rank, h.rank)
            merged[-1] = Finding(kind, last.start, max(last.end, h.end))
        else:
            merged.append(Finding(h.kind, h.start, h.end))
            rank = h.rank
    return merged


_MEMO_LIMIT = 4096
_memo: dict[bytes, Redaction] = {}


def redact(text: str) -> Redaction:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``, and the findings (no values).

    Memoized by a digest of the text: a page goes out to every person and channel with the same
    subject and body, and detection costs about a millisecond. The memo holds digests and redacted
    results only, never a raw secret; it is emptied when full."""
    if not text:
        return Redaction(text)
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    found = _memo.get(digest)
    if found is None:
        found = _redact(text)
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[digest] = found
    return found


def _redact(text: str) -> Redaction:
    findings = _merge(_hits(text))
    if not findings:
        return Redaction(text)
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts += (text[pos : f.start], marker(f.kind))
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), tuple(findings))


def redact_text(text: str) -> str:
    return redact(text).text


def contains_secret(text: str) -> bool:
    return bool(redact(text).findings)


def is_secret_key(key: str) -> bool:
    """True for mapping keys that name a secret: ``password``, ``db_passwd``, ``apiKey``, ``X-Auth-Token``."""
    words = _NOT_ALNUM.sub("", _CAMEL.sub("_", key).lower())
    return bool(_SECRET_WORD.search(words))


def redact_data(obj: Any) -> Any:
    """A copy of a JSON-like value with every string redacted and every secret-named key's value replaced.

    Alert payloads and structured timeline data go through here. Keys are kept as they are;
    ``None`` and booleans under a secret-named key are kept (they say "not set", not the secret);
    integers that are card numbers become ``[REDACTED:card-number]``.
    """
    if isinstance(obj, str):
        return redact(obj).text
    if isinstance(obj, Mapping):
        return {
            k: (
                marker(SECRET_KEY_KIND)
                if isinstance(k, str) and is_secret_key(k) and v is not None and not isinstance(v, bool)
                else redact_data(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_data(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_data(v) for v in obj)
    if isinstance(obj, int) and not isinstance(obj, bool) and is_card_number(str(abs(obj))):
        return marker("card-number")
    return obj
