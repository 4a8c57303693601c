"""``commandpost notifications [--failed]`` and ``commandpost notifications retry ID``, clients of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import err_console, markup, print_json, print_table, sev, text

notifications_app = typer.Typer(
    help="Outgoing notifications: the delivery log, dead letters, retry.", invoke_without_command=True
)
STATUS_STYLE = {"delivered": "green", "pending": "yellow", "sending": "cyan", "dead": "bold red"}


def _client() -> Client:
    return Client.from_settings()


def _when(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(
        "id",
        "status",
        "channel",
        "to",
        "sev",
        "incident",
        "subject",
        "tries",
        "at",
        "last error",
        title=title,
    )
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        shown = f"[{style}]{row['status']}[/]" if style else markup(row["status"])
        status = shown + (" [magenta]late[/]" if row["late"] else "")
        table.add_row(
            str(row["id"]),
            status,
            text(row["channel"]),
            text(row["destination"]),
            sev(row["severity"]) if row["severity"] else "",
            str(row["incident_id"] or ""),
            text(row["subject"][:60]),
            str(row["attempts"]),
            _when(row["sent_at"] or row["next_attempt_at"] or row["created_at"]),
            text((row["last_error"] or "")[:80]),
        )
    return table


@notifications_app.callback()
def notifications(
    ctx: typer.Context,
    failed: Annotated[
        bool, typer.Option("--failed", help="only dead letters (attempts used up or refused)")
    ] = False,
    status: Annotated[
        str | None, typer.Option("--status", help="pending | sending | delivered | dead")
    ] = None,
    incident: Annotated[int | None, typer.Option("--incident", help="only this incident id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """The delivery log, newest first (`--failed`: the dead letters, with why)."""
    if ctx.invoked_subcommand is not None:
        return
    with _client() as client:
        rows = client.get(
            "/api/v1/notifications", status="failed" if failed else status, incident_id=incident, limit=limit
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        err_console.print("no dead letters" if failed else "no notifications")
        return
    print_table(_table(rows, "Dead letters" if failed else "Notifications"))
    if failed:
        err_console.print("send one again with: commandpost notifications retry ID")


@notifications_app.command("retry")
def retry(
    notification_id: Annotated[int, typer.Argument(help="the notification's id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send a dead letter again with a fresh budget of attempts (or a waiting retry now)."""
    with _client() as client:
        row = client.post(f"/api/v1/notifications/{notification_id}/retry")
    if as_json:
        print_json(row)
        return
    err_console.print(
        f"[green]notification {row['id']} ({markup(row['channel'])} → {markup(row['destination'])}) "
        "queued again[/]"
    )


def register(app: typer.Typer) -> None:
    """Attach this domain's commands to the root CLI."""
    app.add_typer(notifications_app, name="notifications")
