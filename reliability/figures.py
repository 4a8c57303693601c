"""A figure: one measured number beside its target, and whether it met it (PASS) or fell short (SHORT)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    check: str
    name: str
    value: Any
    target: str
    ok: bool
    note: str = ""
    timing: bool = False
    """a latency or duration: printed and judged by ``make reliability``, never deciding a test"""

    @property
    def verdict(self) -> str:
        return "PASS" if self.ok else "SHORT"

    def line(self) -> str:
        note = f"  ({self.note})" if self.note else ""
        value = show(self.value)
        return f"{self.verdict:5}  {self.check}: {self.name} = {value}  [target {self.target}]{note}"


def show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def equals(check: str, name: str, value: Any, expected: Any, note: str = "") -> Figure:
    return Figure(check, name, value, f"= {show(expected)}", value == expected, note)


def at_most(
    check: str, name: str, value: float, limit: float, unit: str = "", note: str = "", timing: bool = False
) -> Figure:
    return Figure(check, name, value, f"≤ {show(limit)}{unit}", value <= limit, note, timing)


def at_least(check: str, name: str, value: float, floor: float, unit: str = "", note: str = "") -> Figure:
    return Figure(check, name, value, f"≥ {show(floor)}{unit}", value >= floor, note)


def failed(figures: Iterable[Figure], *, timings: bool = True) -> list[Figure]:
    """The figures that fell short; ``timings=False`` (tests) leaves latencies and durations out."""
    return [f for f in figures if not f.ok and (timings or not f.timing)]


def report(figures: Iterable[Figure]) -> str:
    return "\n".join(f.line() for f in figures)
