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

import codecs
import hashlib
import json
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
# What redaction leaves behind: "[REDACTED:<kind>]", and the digest that keeps a redacted
# identifier distinct ("[sha256:…]", see security.stored). Neither is a secret.
MARKER = re.compile(r"\[(?:REDACTED:[a-z0-9-]+|sha256:[0-9a-f]{16})\]")
_BETWEEN_MARKERS = " \t\"'`"
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
_gate: detectors.Gate | None = None


def warm_up() -> None:
    """Build the detectors now (imports detect-secrets, ~0.3 s) rather than on the first call."""
    _detector_gate()


def _line_detectors() -> tuple[LineDetector, ...]:
    return _detector_gate().detectors


def _detector_gate() -> detectors.Gate:
    global _gate
    if _gate is None:
        with _lock:
            if _gate is None:
                _gate = detectors.Gate(detectors.build())
    return _gate


def _hits(text: str) -> list[Hit]:
    hits = _detect(text)
    if "[REDACTED:" not in text and "[sha256:" not in text:
        return hits
    # A marker from an earlier pass ("Bearer [REDACTED:jwt]") is not a secret, nor is a run of
    # markers that a rule reaching to the end of the line takes in: redacting is idempotent.
    markers = [m.span() for m in MARKER.finditer(text)]
    return [h for h in hits if not _only_markers(text, h.start, h.end, markers)]


def _only_markers(text: str, start: int, end: int, markers: list[tuple[int, int]]) -> bool:
    """True when ``text[start:end]`` is markers, spaces and quotes only."""
    pos = start
    for s, e in markers:
        if e <= pos:
            continue
        if s >= end:
            break
        if s > pos and text[pos:s].strip(_BETWEEN_MARKERS):
            return False
        pos = e
        if pos >= end:
            return True
    return not text[pos:end].strip(_BETWEEN_MARKERS)


def _detect(text: str) -> list[Hit]:
    found = detectors.private_key_blocks(text) if "PRIVATE KEY" in text or "PuTTY" in text else []
    lines = text.splitlines(keepends=True)
    whole = detectors.Line.of(text.rstrip(_LINE_BREAKS) if len(lines) == 1 else text)
    active = _detector_gate().active(whole)
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
_CLEAN_LIMIT = 16384
_CLEAN_LENGTH = 1024
_clean: dict[str, Redaction] = {}


def redact(text: str) -> Redaction:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``, and the findings (no values).

    Memoized by a digest of the text: a page goes out to every person and channel with the same
    subject and body, and detection costs about a millisecond. The memo holds digests and redacted
    results only, never a raw secret; it is emptied when full. Short texts found clean are also
    remembered by themselves (they hold no secret to keep), so the label values and keys that
    every stored alert repeats cost a dictionary lookup (~0.1 µs) rather than a digest (~0.5 µs)."""
    found = _clean.get(text)
    if found is not None:
        return found
    if not text:
        return Redaction(text)
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    found = _memo.get(digest)
    if found is None:
        found = _redact(text)
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[digest] = found
    if not found.findings and len(text) <= _CLEAN_LENGTH:
        if len(_clean) >= _CLEAN_LIMIT:
            _clean.clear()
        _clean[text] = found
    return found


_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _percent_decoded(text: str) -> tuple[str, list[tuple[int, int]]] | None:
    """``text`` with its %XX escapes decoded (and ``+`` read as a space), and for each character of
    that the span of ``text`` it came from; None when there is no escape.

    A URL carries what it quotes percent-encoded (a generatorURL's expression, a silence link's
    label values, ``?password=p%40ss``), where no detector would see it."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for run in _ESCAPES.finditer(text):
        for i in range(pos, run.start()):
            chars.append(" " if text[i] == "+" else text[i])
            spans.append((i, i + 1))
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        start = run.start()
        for k in range(run.start(), run.end(), 3):
            decoded = decoder.decode(bytes.fromhex(text[k + 1 : k + 3]), final=k + 3 == run.end())
            chars.extend(decoded)
            spans.extend((start, k + 3) for _ in decoded)
            if decoded:
                start = k + 3
        pos = run.end()
    if not pos:
        return None
    for i in range(pos, len(text)):
        chars.append(" " if text[i] == "+" else text[i])
        spans.append((i, i + 1))
    return "".join(chars), spans


def _redact(text: str) -> Redaction:
    hits = _hits(text)
    view = _percent_decoded(text) if "%" in text else None
    if view is not None:
        decoded, spans = view
        hits += [Hit(spans[h.start][0], spans[h.end - 1][1], h.kind, h.rank) for h in _hits(decoded)]
    findings = _merge(hits)
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


def _embedded_json(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return redact(text).text
    if not isinstance(document, dict | list):
        return redact(text).text
    clean = redact_data(document)
    return text if clean == document else json.dumps(clean, ensure_ascii=False)


_names: dict[str, bool] = {}  # clean keys -> whether they name a secret


def redact_key(key: str, taken: Mapping[Any, Any]) -> str:
    """``key`` redacted; ``#2``, ``#3`` … appended when that is a key ``taken`` already holds."""
    clean = redact(key).text
    if clean not in taken:
        return clean
    n = 1
    found = clean
    while found in taken:
        n += 1
        found = f"{clean}#{n}"
    return found


def is_secret_key(key: str) -> bool:
    """True for mapping keys that name a secret: ``password``, ``db_passwd``, ``apiKey``, ``X-Auth-Token``."""
    if "[" in key:  # a key redacted earlier ("[REDACTED:github-token]") names no secret: idempotent
        key = MARKER.sub("", key)
    words = _NOT_ALNUM.sub("", _CAMEL.sub("_", key).lower())
    return bool(_SECRET_WORD.search(words))


def redact_data(obj: Any) -> Any:
    """A copy of a JSON-like value with every string redacted and every secret-named key's value replaced.

    Alert payloads and structured timeline data go through here. A key holding a secret is
    redacted too (``{"AKIA…": 1}`` → ``{"[REDACTED:aws-access-key]": 1}``; a second one that
    redacts alike gets ``#2``, so no value is lost); ``None`` and booleans under a secret-named
    key are kept (they say "not set", not the secret); integers that are card numbers become
    ``[REDACTED:card-number]``. A string that is itself a JSON document (an SNS notification's
    ``Message``) is redacted as the document it holds, and written back as JSON if that changed it.
    """
    if isinstance(obj, str):
        return _embedded_json(obj) if obj[:1] in "{[" and obj[-1:] in "}]" else redact(obj).text
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            if type(k) is str:
                name = redact_key(k, out)
                clean = name == k
                secret = _names.get(k) if clean else None
                if secret is None:
                    secret = is_secret_key(k)
                    if clean and len(k) <= 100:  # a clean key: nothing to keep secret
                        if len(_names) >= _CLEAN_LIMIT:
                            _names.clear()
                        _names[k] = secret
            else:
                name, secret = k, False
            out[name] = (
                marker(SECRET_KEY_KIND)
                if secret and v is not None and not isinstance(v, bool)
                else redact_data(v)
            )
        return out
    if isinstance(obj, list):
        return [redact_data(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_data(v) for v in obj)
    if isinstance(obj, int) and not isinstance(obj, bool) and is_card_number(str(abs(obj))):
        return marker("card-number")
    return obj
