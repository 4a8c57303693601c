"""Start-up figures: ``commandpost --help`` from a fresh process, and the idle memory of ``serve``.

``--help`` runs the installed ``commandpost`` script beside this interpreter, each run a new
process; the median wall time is the figure, with the child's CPU time (user + system) beside it
because on a shared machine the wall time also measures the neighbours. The floor rows time what
no CLI can avoid: the interpreter alone, then the interpreter importing Typer and Rich's console.

Idle RSS starts ``commandpost serve --ops examples/ops`` on a fresh SQLite file and a free port, as
``make run`` does (engine on), waits until ``/readyz`` answers ready, lets it idle, then reads the
server process's ``VmRSS`` (and the start-up peak, ``VmHWM``) from ``/proc``. ``run()`` returns
rows of (figure, target, result, pass).

    .venv/bin/python -m bench startup
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HELP_RUNS = 9
RSS_RUNS = 3
IDLE_SECONDS = 5.0
READY_TIMEOUT = 120.0
TARGET_HELP_MS = 250.0
TARGET_RSS_MB = 120.0
REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "ops"
Row = tuple[str, str, str, bool]
NOTES = (
    f"`commandpost --help`: the installed script, {HELP_RUNS} fresh processes after one warm-up run "
    "that may write bytecode caches (as an installed package has them); median wall time, and the "
    "child's CPU time (user + system), which holds up better than wall time on a busy machine. The "
    "root page is drawn by `commandpost.cli_root` from a static index with Rich alone: no Typer, "
    "Click or domain module is imported (`tests/unit/test_cli_index.py` keeps the index equal to "
    "what the modules register and the page equal to Typer's). The floor rows are the interpreter "
    "alone and the interpreter importing Rich's console, which the page cannot do without.\n\n"
    f"Idle RSS: `commandpost serve --ops examples/ops` on a fresh SQLite file (engine on, as "
    f"`make run`), {IDLE_SECONDS:.0f} s after `/readyz` first answers ready; `VmRSS` of the server "
    f"process from `/proc` in MB of 10⁶ bytes, median of {RSS_RUNS} servers. The start-up peak "
    "(`VmHWM`) is reported beside it. What "
    "stays is mostly the imported code of the dependencies (the RSS each adds, imported in this "
    "order): SQLAlchemy 28 MB, pydantic 13, FastAPI with Starlette 10, cryptography 10 "
    "(SNS signatures only), detect-secrets with requests 6, httpx 5, icalendar 3 (iCal feeds only). "
    "Alembic (11 MB) is not among them: `serve` upgrades the schema in a child process and reads "
    "the version table itself. The charts are SVG written by hand (matplotlib went with issue 18)."
)


def _script() -> list[str]:
    """The ``commandpost`` console script of this environment (``python -m commandpost`` without one)."""
    script = Path(sys.executable).with_name("commandpost")
    return [str(script)] if script.exists() else [sys.executable, "-m", "commandpost"]


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` in a fresh process (output discarded)."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def _medians(argv: list[str], runs: int) -> tuple[float, float]:
    timings = [_timed(argv) for _ in range(runs)]
    return (
        statistics.median(w for w, _ in timings) * 1000,
        statistics.median(c for _, c in timings) * 1000,
    )


def help_rows() -> list[Row]:
    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _timed([*_script(), "--help"], env=warm)
    wall, cpu = _medians([*_script(), "--help"], HELP_RUNS)
    bare_wall, bare_cpu = _medians([sys.executable, "-c", "pass"], HELP_RUNS)
    floor_wall, floor_cpu = _medians([sys.executable, "-c", "import rich.console"], HELP_RUNS)
    return [
        (
            f"`commandpost --help` cold start (fresh process, median of {HELP_RUNS})",
            f"≤ {TARGET_HELP_MS:.0f} ms",
            f"{wall:.0f} ms wall, {cpu:.0f} ms CPU",
            wall <= TARGET_HELP_MS,
        ),
        (
            "floor: interpreter alone · interpreter + `import rich.console`",
            "—",
            f"{bare_wall:.0f} ms ({bare_cpu:.0f} ms CPU) · {floor_wall:.0f} ms ({floor_cpu:.0f} ms CPU)",
            True,
        ),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(json.load(response).get("ready"))
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def idle_rss() -> tuple[float, float]:
    """One server: (VmRSS, VmHWM) in MB (10⁶ bytes) after it is ready and has idled IDLE_SECONDS."""
    with tempfile.TemporaryDirectory() as folder:
        port = _free_port()
        argv = [*_script(), "serve", "--ops", str(EXAMPLE), "--database-url", f"sqlite:///{folder}/x.db"]
        with open(Path(folder) / "serve.log", "wb") as log:
            server = subprocess.Popen([*argv, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while not _ready(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = (Path(folder) / "serve.log").read_text()[-2000:]
                    raise RuntimeError(f"serve never became ready (exit {server.returncode}):\n{tail}")
                time.sleep(0.2)
            time.sleep(IDLE_SECONDS)
            return _status_kib(server.pid, "VmRSS") * 1.024e-3, _status_kib(server.pid, "VmHWM") * 1.024e-3
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def rss_rows() -> list[Row]:
    samples = [idle_rss() for _ in range(RSS_RUNS)]
    rss = statistics.median(r for r, _ in samples)
    peak = statistics.median(p for _, p in samples)
    runs = ", ".join(f"{r:.0f}" for r, _ in samples)
    return [
        (
            f"idle RSS of `serve` (SQLite, engine on, {IDLE_SECONDS:.0f} s idle, median of {RSS_RUNS})",
            f"≤ {TARGET_RSS_MB:.0f} MB",
            f"{rss:.0f} MB (runs {runs}; start-up peak {peak:.0f} MB)",
            rss <= TARGET_RSS_MB,
        )
    ]


def run() -> list[Row]:
    return [*help_rows(), *rss_rows()]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(str(c) for c in row))
