"""Instructions per accepted event of ``commandpost serve`` as shipped, counted by valgrind (issue 19).

``python -m bench._intake_instructions [N] [CONNECTIONS] [--engine-off] [--src PATH]`` runs the
shipped server (SQLite, ``bench.ingest``'s ops copy) under ``valgrind --tool=callgrind
--instr-atstart=no --separate-threads=yes``, warms it up, switches counting on
(``callgrind_control -i on``) for ``hey -n N -c CONNECTIONS`` of issue 19's event, and prints the
instructions per accepted event of the whole process and of each thread. Counts, unlike CPU time,
do not move with the neighbours on a shared machine; with one connection (every batch one request)
and the engine off they repeat within a fraction of a percent. Threads woken by a timer are
counted per second of the run, which valgrind stretches: the event loop's thread (``01``) is the
per-event figure. ``--src`` runs another checkout's ``src`` (``git archive HEAD src``) for an A/B.
Needs Debian's ``valgrind`` and ``hey``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.ingest import shipped_server


def count(n: int, connections: int, *, engine: bool, src: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="cp-bench-instructions-"))
    out = folder / "callgrind.out"
    start = (
        f"import os, sys; os.environ['COMMANDPOST_ENGINE_ENABLED'] = {str(engine).lower()!r}; "
        + (f"sys.path.insert(0, {src!r}); " if src else "")
        + "sys.argv[0] = 'commandpost'; from commandpost.cli_root import main; main()"
    )
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes"]
    command = [*valgrind, f"--callgrind-out-file={out}", sys.executable, "-c", start]
    with shipped_server(f"sqlite:///{folder / 'commandpost.db'}", folder / "serve", command=command) as cp:
        httpx.post(cp.enqueue, content=cp.event, timeout=60).raise_for_status()
        body = folder / "body.json"
        body.write_bytes(cp.event)
        hey = ["hey", "-c", str(connections), "-m", "POST", "-T", "application/json", "-D", str(body)]
        subprocess.run([*hey, "-n", "300", cp.enqueue], capture_output=True, check=True)  # warm-up
        subprocess.run(["callgrind_control", "-i", "on", str(cp.pid)], check=True, capture_output=True)
        said = subprocess.run([*hey, "-n", str(n), cp.enqueue], capture_output=True, text=True, check=True)
        subprocess.run(["callgrind_control", "-i", "off", str(cp.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", str(cp.pid)], check=True, capture_output=True)
    accepted = sum(int(c) for s, c in re.findall(r"\[(\d{3})\]\s+(\d+) responses", said.stdout) if s == "202")
    threads: dict[str, int] = {}
    for dump in folder.glob("callgrind.out*"):
        totals = re.search(r"^totals: (\d+)", dump.read_text(errors="replace"), re.M)
        if totals and int(totals[1]):
            thread = dump.name.rsplit("-", 1)[-1]
            threads[thread] = threads.get(thread, 0) + int(totals[1])
    total = sum(threads.values())
    print(f"{accepted} accepted of {n}, {connections} connection(s), engine {'on' if engine else 'off'}")
    print(f"whole process: {total / max(accepted, 1):,.0f} instructions per event")
    for thread, instructions in sorted(threads.items()):
        print(f"  thread {thread}: {instructions / max(accepted, 1):,.0f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    engine = "--engine-off" not in args
    src = args[args.index("--src") + 1] if "--src" in args else None
    numbers = [int(a) for a in args if a.isdigit()]
    count(*(numbers + [1000, 1][len(numbers) :])[:2], engine=engine, src=src)
