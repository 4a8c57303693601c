"""``make reliability`` / ``python -m reliability [CHECK …]``: run the checks one after the other, print every
figure with its target and PASS/SHORT, and exit non-zero when any falls short (or a check crashed).
The results go to docs/reliability.md under "Latest results", one section per check (a check run
alone replaces only its own section).

``SOAK=3600`` makes the soak an hour instead of two minutes.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from reliability import auth, crash, dedup_race, forgery, fuzz, hostile, outage, paging, secrets, soak, ssrf
from reliability.figures import Figure, failed, show
from reliability.stack import BACKENDS


def _both(check: Callable[[str], list[Figure]]) -> Callable[[], list[Figure]]:
    return lambda: [figure for backend in BACKENDS for figure in check(backend)]


CHECKS: dict[str, Callable[[], list[Figure]]] = {
    "crash": crash.run,
    "dedup": dedup_race.run,
    "paging": paging.run,
    "outage": outage.run,
    "auth": _both(auth.run),
    "forgery": _both(forgery.run),
    "secrets": _both(secrets.run),
    "ssrf": _both(ssrf.run),
    "hostile": hostile.run,
    "soak": lambda: soak.run(seconds=float(os.environ.get("SOAK", "120"))),
    "fuzz": fuzz.run,  # last: the longest, and it needs no quiet machine
}


DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
HEADING = "## Latest results"
SECTION = re.compile(r"<!-- check:(?P<name>[a-z_]+) -->\n.*?<!-- /check:(?P=name) -->\n", re.S)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def write_results(runs: dict[str, tuple[list[Figure], float]], load: str) -> None:
    """Replace the sections of the checks that ran; keep the others' last results."""
    text = DOC.read_text()
    head, _, tail = text.partition(HEADING)
    kept = {m["name"]: m.group(0) for m in SECTION.finditer(tail)}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    for name, (figures, seconds) in runs.items():
        rows = [
            "| "
            + " | ".join([_cell(f.check), _cell(f.name), _cell(show(f.value)), _cell(f.target), f.verdict])
            + f" | {_cell(f.note[:160] + ('…' if len(f.note) > 160 else ''))} |"
            for f in figures
        ]
        kept[name] = (
            f"<!-- check:{name} -->\n### {name}\n\n{when}, {machine}, load average {load} before the run; "
            f"{seconds:.0f} s.\n\n| check | figure | value | target | | note |\n"
            + "| --- | --- | --- | --- | --- | --- |\n"
            + "\n".join(rows)
            + f"\n<!-- /check:{name} -->\n"
        )
    order = [n for n in CHECKS if n in kept]
    intro = "Written by `make reliability` (`python -m reliability [CHECK …]`), one section per check."
    DOC.write_text(f"{head}{HEADING}\n\n{intro}\n\n" + "\n".join(kept[n] for n in order))


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in CHECKS]
    if unknown:
        print(f"unknown check(s) {', '.join(unknown)}; checks: {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"reliability on {os.cpu_count()} cores, load average {load}", flush=True)
    figures: list[Figure] = []
    runs: dict[str, tuple[list[Figure], float]] = {}
    for name in argv or list(CHECKS):
        started = time.monotonic()
        print(f"\n== {name}", flush=True)
        try:
            found = CHECKS[name]()
        except Exception as exc:
            traceback.print_exc()
            found = [Figure(name, "check ran to the end", f"{type(exc).__name__}: {exc}", "no error", False)]
        for figure in found:
            print(figure.line(), flush=True)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
        figures += found
        runs[name] = (found, time.monotonic() - started)
        write_results(runs, load)  # after every check: an interrupted run keeps what it measured
    short = failed(figures)
    print(f"\n{len(figures) - len(short)} PASS, {len(short)} SHORT", flush=True)
    for figure in short:
        print(figure.line())
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
