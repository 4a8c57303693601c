"""``commandpost drill start|list|scorecard``: clients of ``/api/v1/drills``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, markup, print_json, print_table, text

drill_app = typer.Typer(
    help="Wheel of Misfortune (guide §5): replay a past incident as a drill, then score it.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")


def _duration(value: int | bool | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    minutes, seconds = divmod(value, 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


@drill_app.command("start")
def start(
    source: Annotated[str, typer.Option("--from", help="the past incident to replay: INC-n")],
    trainee: Annotated[str | None, typer.Option("--trainee", help="@handle (default: you)")] = None,
    speed: Annotated[int, typer.Option("--speed", help="divide the original's gaps by N (1–1000)")] = 1,
    as_json: AsJson = False,
) -> None:
    """Start a drill: a new incident replaying INC-n's alerts and key moments; pages only the trainee
    and you (the game master), never the on-call."""
    with Client.from_settings() as client:
        out = client.post("/api/v1/drills", {"source": source, "trainee": trainee, "speed": speed})
    if as_json:
        print_json(out)
        return
    console.print(
        f"[bold]{out['number']}[/] drill of {markup(out['of'])} at {out['speed']}×: "
        f"trainee @{markup(out['trainee'])}, game master @{markup(out['game_master'])}; "
        f"{out['delivered']}/{out['prompts']} prompts so far. The on-call is not paged."
    )
    console.print(f"[dim]score it with: commandpost drill scorecard {out['number']}[/]")


@drill_app.command("list")
def list_drills(as_json: AsJson = False) -> None:
    """Drills, newest first: what each replays, who played, how far it got."""
    with Client.from_settings() as client:
        out: list[dict[str, Any]] = client.get("/api/v1/drills")
    if as_json:
        print_json(out)
        return
    table = Table("drill", "of", "status", "trainee", "game master", "speed", "prompts", "started")
    for row in out:
        table.add_row(
            row["number"],
            row["of"],
            row["status"],
            text(f"@{row['trainee']}"),
            text(f"@{row['game_master']}"),
            f"{row['speed']}×",
            f"{row['delivered']}/{row['prompts']}",
            row["started_at"][:16],
        )
    print_table(table, empty="no drills yet: commandpost drill start --from INC-n")


@drill_app.command("scorecard")
def scorecard(
    number: Annotated[str, typer.Argument(help="the drill incident: INC-n")], as_json: AsJson = False
) -> None:
    """The drill against its original: time to ack, to the runbook's first move, to mitigation;
    handover done explicitly; comms on cadence."""
    with Client.from_settings() as client:
        out = client.get(f"/api/v1/drills/{number}/scorecard")
    if as_json:
        print_json(out)
        return
    drill = out["drill"]
    state = "final" if out["complete"] else "in progress"
    title = f"{drill['number']} (drill of {drill['of']}, {drill['speed']}×) — {state}"
    table = Table("measure", "drill", "original", "target", "verdict", title=title)
    for line in out["lines"]:
        table.add_row(
            line["measure"],
            _duration(line["drill"]),
            _duration(line["original"]),
            _duration(line["target"]),
            line["verdict"],
        )
    print_table(table)
    for line in out["lines"]:
        if line.get("note"):
            console.print(f"[dim]{markup(line['measure'])}: {markup(line['note'])}[/]")
