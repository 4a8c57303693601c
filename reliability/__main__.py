"""``make reliability`` / ``python -m reliability [CHECK …]``: run the checks one after the other, print every
figure with its target and PASS/SHORT, and exit non-zero when any falls short (or a check crashed).

``SOAK=3600`` makes the soak an hour instead of two minutes.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable

from reliability import auth, crash, dedup_race, forgery, fuzz, outage, paging, secrets, soak, ssrf
from reliability.figures import Figure, failed
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
    "soak": lambda: soak.run(seconds=float(os.environ.get("SOAK", "120"))),
    "fuzz": fuzz.run,  # last: the longest, and it needs no quiet machine
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in CHECKS]
    if unknown:
        print(f"unknown check(s) {', '.join(unknown)}; checks: {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"reliability on {os.cpu_count()} cores, load average {load}", flush=True)
    figures: list[Figure] = []
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
    short = failed(figures)
    print(f"\n{len(figures) - len(short)} PASS, {len(short)} SHORT", flush=True)
    for figure in short:
        print(figure.line())
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
