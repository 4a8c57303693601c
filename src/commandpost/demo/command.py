"""``commandpost demo`` itself: make the server, seed the history, play the scenario, keep serving."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from commandpost.console import console
from commandpost.demo.history import seed_history
from commandpost.demo.scenario import Narrator, play
from commandpost.demo.server import FastClock, demo_ops, prepare, serving


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_command(
    port: Annotated[int, typer.Option("--port", help="0: any free port")] = 8080,
    speed: Annotated[
        float, typer.Option("--speed", min=1, help="clock speed: 60 = a minute per second")
    ] = 60.0,
    history_days: Annotated[int, typer.Option("--history-days", min=0, max=365)] = 90,
    keep: Annotated[bool, typer.Option("--keep/--exit", help="keep serving after the scenario")] = True,
    database: Annotated[
        Path | None, typer.Option("--database", help="SQLite file to use (default: a temporary one)")
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--start",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d"],
            help="play as if the clock read this instant (UTC unless an offset says otherwise)",
        ),
    ] = None,
) -> None:
    """A throw-away server with a seeded history; then the payment-webhook scenario plays live."""
    folder = Path(tempfile.mkdtemp(prefix="commandpost-demo-"))
    path = database or folder / "demo.db"
    database_url = f"sqlite:///{path}"
    port = port or _free_port()
    fast = FastClock(speed, start if start is None or start.tzinfo else start.replace(tzinfo=UTC))
    say = Narrator(fast)
    say.step(f"throw-away database {path}; ops: the packaged example (console notifications only)")
    tokens = prepare(database_url, demo_ops(folder), fast)
    if history_days:
        say.step(
            f"seeding {history_days} days of history (incidents of every SEV, pages, postmortems, items)"
        )
        counts = seed_history(database_url, days=history_days, end=fast.now() - timedelta(hours=2))
        say.note(", ".join(f"{n} {what}" for what, n in counts.items()))
    with serving(database_url, fast, port) as base:
        say.banner(base)
        try:
            play(base, tokens, fast, say)
        except RuntimeError as exc:
            console.print(f"[bold red]demo stopped:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        if keep:
            say.step("scenario done; the server keeps running — Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
    if database is None:
        shutil.rmtree(folder, ignore_errors=True)
