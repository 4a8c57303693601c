"""Payment card numbers in free text: 13–19 digits, Luhn-valid, with a known issuer prefix.

detect-secrets has no card rule, and PAN leaks are the classic way an incident note becomes a
compliance incident. The prefix and length check keeps ordinary numbers (counts, epoch
timestamps, order ids) from being redacted just because one in ten of them passes Luhn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Digits in groups separated by a single space, dash or dot: "4111 1111 1111 1111",
# "5555-5555-5555-4444", "4111.1111.1111.1111". Dots only as the one separator of a card (below).
_RUN = re.compile(r"[0-9]+(?:[ .-][0-9]+)*")
_GROUP = re.compile(r"[0-9]+")

_FIRST_DIGITS = "23456"  # every issuer prefix below starts with one of these
_MAX_GROUPS = 8  # "4111 1111 1111 1111", "3782 822463 10005"; not one digit at a time
# (lowest prefix, highest prefix, shortest length, longest length); prefixes compared at their own width.
_ISSUERS: tuple[tuple[int, int, int, int], ...] = (
    (4, 4, 13, 19),  # Visa
    (51, 55, 16, 16),  # Mastercard
    (2221, 2720, 16, 16),  # Mastercard 2-series
    (34, 34, 15, 15),  # American Express
    (37, 37, 15, 15),  # American Express
    (6011, 6011, 16, 19),  # Discover
    (644, 649, 16, 19),  # Discover
    (65, 65, 16, 19),  # Discover
    (3528, 3589, 16, 19),  # JCB
    (300, 305, 14, 19),  # Diners Club
    (3095, 3095, 14, 19),  # Diners Club
    (36, 36, 14, 19),  # Diners Club
    (38, 39, 14, 19),  # Diners Club
    (62, 62, 16, 19),  # UnionPay
    (50, 50, 13, 19),  # Maestro
    (56, 58, 13, 19),  # Maestro
    (639, 639, 13, 19),  # Maestro
    (67, 67, 13, 19),  # Maestro
    (2200, 2204, 16, 19),  # Mir
)


def luhn_valid(digits: str) -> bool:
    """The mod-10 check every card number carries in its last digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def has_issuer_prefix(digits: str) -> bool:
    """True when the number starts like a card of some issuer and has that issuer's length."""
    n = len(digits)
    for low, high, shortest, longest in _ISSUERS:
        width = len(str(low))
        if shortest <= n <= longest and low <= int(digits[:width]) <= high:
            return True
    return False


def is_card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn_valid(digits) and has_issuer_prefix(digits)


def find_card_numbers(line: str) -> Iterator[tuple[int, int]]:
    """Spans of card numbers in ``line``.

    Every contiguous window of up to eight digit groups is tried, not just the whole run, so a
    card next to other numbers ("qty 2 4111 1111 1111 1111 at 09 15") is still found. A window
    with a dot between its groups has dots only: addresses listed with spaces ("52.95.110.1
    54.239.28.85") are not one number, nor are versions next to counts.
    """
    for run in _RUN.finditer(line):
        if run.end() - run.start() < 13:
            continue
        groups = [(g.start(), g.end()) for g in _GROUP.finditer(line, run.start(), run.end())]
        for i, (first_start, _) in enumerate(groups):
            if line[first_start] not in _FIRST_DIGITS:
                continue
            digits = ""
            dots = others = False
            for j in range(i, min(i + _MAX_GROUPS, len(groups))):
                start, end = groups[j]
                if j > i:
                    if line[start - 1] == ".":
                        dots = True
                    else:
                        others = True
                    if dots and others:
                        break
                digits += line[start:end]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and is_card_number(digits):
                    yield first_start, end
