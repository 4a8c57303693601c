"""The ``sms`` channel: the page as a text in at most two segments, with the ack link and a reply code.

Two segments are 306 GSM-7 characters, or 134 when one character outside GSM-7 (an emoji, kanji,
curly quotes) makes the whole text UCS-2. When the page is longer, the title and the first move are
cut; the link and the reply code never are, since they are how the person acts on it.
"""

from __future__ import annotations

from datetime import datetime

from commandpost.notify.channels.base import Outbound, one_line
from commandpost.notify.phones.base import Failover, delivery
from commandpost.notify.rules import Delivery

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
"""GSM 03.38: the basic table (one septet each) and the extension table (an escape and a septet)."""
SEGMENTS = 2
MIN_TITLE = 40
"""Units of the title kept even when that takes a third segment (a UCS-2 page with a long link)."""
GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENDED for c in text)


def units(text: str, gsm: bool) -> int:
    """Length as the network counts it: septets in GSM-7, UTF-16 code units in UCS-2."""
    if gsm:
        return sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    gsm = is_gsm(text)
    size = units(text, gsm)
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UCS2_SINGLE, UCS2_PART)
    return 1 if size <= single else -(-size // part)


def budget(gsm: bool) -> int:
    return SEGMENTS * (GSM_PART if gsm else UCS2_PART)


def clip(text: str, room: int, gsm: bool) -> str:
    """``text`` in at most ``room`` units, an ellipsis marking a cut (``...`` in GSM-7, which has no …)."""
    if units(text, gsm) <= room:
        return text
    mark = "..." if gsm else "…"
    keep = room - units(mark, gsm)
    if keep <= 0:
        return ""
    while units(text, gsm) > keep:
        text = text[:-1]
    return text.rstrip() + mark


def share(first: str, second: str, room: int, gsm: bool) -> tuple[str, str]:
    """Cut two texts to fit ``room`` together: the shorter keeps what it needs, the longer gets the rest."""
    a, b = units(first, gsm), units(second, gsm)
    if a + b <= room:
        return first, second
    half = room // 2
    if a <= half:
        return first, clip(second, room - a, gsm)
    if b <= half:
        return clip(first, room - b, gsm), second
    return clip(first, half, gsm), clip(second, room - half, gsm)


def plain(text: str) -> str:
    """One line without control characters (a NUL or an escape would reach the handset as is)."""
    return one_line("".join(c if c.isprintable() else " " for c in text), 1000)


def compose(message: Outbound) -> str:
    """The SMS text. A page: ``SEV1 INC-7 payments: <title>`` / ``First: <move>`` / ``Ack: <link>`` /
    ``Reply 1234 to ack, ESC 1234 to escalate``. Anything else: the subject, the body, the link."""
    payload = message.payload
    code = payload.get("reply_code")
    link = payload.get("ack_url") or payload.get("url")
    if code:
        head = " ".join(
            str(p) for p in (message.severity, payload.get("incident"), payload.get("service")) if p
        )
        title = plain(str(payload.get("title") or message.subject))
        move = plain(str(payload.get("first_move") or ""))
        tail = [f"Ack: {link}" if link else "", f"Reply {code} to ack, ESC {code} to escalate"]
        lead = f"{head}: " if head else ""
        move_label = "First: " if move else ""
    else:
        lead, move_label = "", ""
        title = plain(message.subject)
        move = plain(message.body) if message.body.strip() != message.subject.strip() else ""
        tail = [str(link) if link else ""]
    tail = [line for line in tail if line]

    def text(title_part: str, move_part: str) -> str:
        lines = [lead + title_part, move_label + move_part if move_part else "", *tail]
        return "\n".join(line.rstrip() for line in lines if line)

    gsm = is_gsm(text(title, move))
    fixed = units(text("x", "x" if move else ""), gsm) - (2 if move else 1)  # all but the two texts
    room = budget(gsm) - fixed
    if room < MIN_TITLE:
        return text(clip(title, MIN_TITLE, gsm), "")
    return text(*share(title, move, room, gsm))


class SmsChannel:
    """Sends through the providers' failover; the person's phone number is the destination."""

    def __init__(self, providers: Failover) -> None:
        self.providers = providers

    def send(self, message: Outbound, now: datetime) -> Delivery:
        return delivery(self.providers.send_sms(message.destination, compose(message)))
