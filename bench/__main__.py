"""``make bench`` / ``python -m bench [MODULE …]``: run every benchmark module, print one table, write
docs/performance.md with the machine it ran on (a module run alone replaces only its own section).

A benchmark module is any ``bench/<name>.py`` with ``run() -> list[(figure, target, result, ok)]``
(and optionally ``NOTES``, Markdown shown under the table). Modules run one after the other, so
they never compete with each other for the machine's cores.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import re
import sqlite3
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import bench
from commandpost.console import progress

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "docs" / "performance.md"
HELPERS = frozenset({"loadgen"})
Row = tuple[str, str, str, bool]


def modules(selected: list[str]) -> list[str]:
    found = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    names = [n for n in found if n not in HELPERS]
    unknown = [s for s in selected if s not in names]
    if unknown:
        raise SystemExit(f"unknown bench module(s) {', '.join(unknown)}; modules: {', '.join(names)}")
    return selected or names


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = "unreachable"
    try:
        from sqlalchemy import create_engine, text

        url = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        engine = create_engine(url)
        with engine.connect() as conn:
            pg = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    except Exception:
        pass
    try:
        am = subprocess.run(
            ["prometheus-alertmanager", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        am = "not installed"
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} × {os.cpu_count()} logical cores",
        "load average before the run": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "memory": _memory(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg,
        "alertmanager": am,
    }


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


SECTION = re.compile(r"<!-- bench:(?P<name>[a-z_]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->\n", re.S)


def write_markdown(
    details: dict[str, str], sections: list[tuple[str, list[Row], str]], seconds: float
) -> None:
    """Rewrite docs/performance.md: the machine, then one section per bench module. Modules not run
    this time keep the section of their last run (with its own date and load), so ``python -m bench
    web`` refreshes the web figures without erasing the rest."""
    kept = {m["name"]: m.group(0) for m in SECTION.finditer(OUTPUT.read_text())} if OUTPUT.exists() else {}
    when, load = details["when"], details["load average before the run"]
    for name, rows, notes in sections:
        body = [
            f"## {name}",
            "",
            f"Measured {when} (load average before the run {load}; this run of "
            f"{', '.join(n for n, _, _ in sections)} took {seconds:.0f} s).",
            "",
            "| figure | target | result | |",
            "| --- | --- | --- | --- |",
            *[
                f"| {_cell(f)} | {_cell(t)} | {_cell(r)} | {'pass' if ok else '**short**'} |"
                for f, t, r, ok in rows
            ],
        ]
        if notes:
            body += ["", notes.strip()]
        kept[name] = f"<!-- bench:{name} -->\n" + "\n".join(body) + f"\n<!-- /bench:{name} -->\n"
    machine_rows = {k: v for k, v in details.items() if k not in ("when", "load average before the run")}
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`python -m bench [MODULE …]`); rerun it to refresh this page. Every "
        "figure of a section is measured on the machine below in one run, whose date and load the "
        "section gives; a target the run does not reach is marked **short**, never rounded up.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in machine_rows.items()],
        "",
    ]
    OUTPUT.write_text("\n".join(lines) + "\n" + "\n".join(kept[name] for name in sorted(kept)))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str]) -> int:
    started = time.monotonic()
    details = machine()
    console = Console()
    table = Table("figure", "target", "result", "", title="commandpost benchmarks")
    sections: list[tuple[str, list[Row], str]] = []
    failed = False
    names = modules(argv)
    with progress("benchmarks", total=len(names)) as advance:  # stderr, when it is a terminal
        for name in names:
            console.print(f"[dim]running bench.{name} …[/]")
            module: Any = importlib.import_module(f"bench.{name}")
            try:
                rows: list[Row] = module.run()
            except Exception:
                traceback.print_exc()
                rows = [(f"bench.{name}", "—", "crashed (traceback above)", False)]
                failed = True
            notes = getattr(module, "NOTES", "")
            sections.append((name, rows, notes.format(seconds=float(os.environ.get("BENCH_SECONDS", "5")))))
            for figure, target, result, ok in rows:
                table.add_row(figure, target, result, "[green]pass[/]" if ok else "[yellow]short[/]")
            advance(1)
    console.print(table)
    write_markdown(details, sections, time.monotonic() - started)
    console.print(f"written to {OUTPUT.relative_to(REPO)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
