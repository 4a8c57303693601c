"""What a channel is given (a detached copy of a claimed message) and what it must answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from commandpost.notify.rules import Delivery


@dataclass(frozen=True, slots=True)
class Outbound:
    """A claimed message, copied out of the session so sending never touches the database."""

    id: int
    key: str
    channel: str
    destination: str
    subject: str
    body: str
    severity: str | None = None
    incident_id: int | None = None
    person: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    attempt_limit: int = 1
    due_at: datetime | None = None


class Channel(Protocol):
    def send(self, message: Outbound, now: datetime) -> Delivery:
        """Try once; never raise for a delivery problem — describe it in the Delivery."""
        ...


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Control characters (all but tab and newline), bidirectional overrides, lone surrogates."""


def clean(text: str) -> str:
    """Text a phone or a mail client shows as written: no NUL, terminal escapes or reordering tricks."""
    return _UNSAFE.sub("", text.replace("\r\n", "\n"))


def one_line(text: str, limit: int) -> str:
    """Header-safe text: no line breaks (they would forge headers), at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
