"""``commandpost alerts`` — a client of ``GET /api/v1/alerts`` (see ``commandpost.client``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, markup, print_json, print_table, sev, text

_STATUS_STYLE = {"triggered": "bold red", "acknowledged": "yellow", "resolved": "green"}


def list_alerts(
    status: Annotated[
        str | None, typer.Option("--status", help="triggered | acknowledged | resolved | open")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="a service from ops/services")] = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many (1–500)")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Alerts, newest first: status, SEV, how many times it fired, its incident and runbook."""
    with Client.from_settings() as client:
        rows = client.get("/api/v1/alerts", status=status, service=service, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no alerts match")
        return
    table = Table("id", "status", "sev", "×", "service", "summary", "incident", "runbook", "last seen (UTC)")
    for r in rows:
        style = _STATUS_STYLE.get(r["status"], "")
        runbook = text(r["runbook"]) if r["runbook"] else ("[bold red]none[/]" if r["no_runbook"] else "—")
        table.add_row(
            str(r["id"]),
            f"[{style}]{r['status']}[/]" if style else markup(r["status"]),
            sev(r["severity"]),
            str(r["count"]),
            text(r["service"]),
            text(r["summary"] or r["alertname"] or r["dedup_key"]),
            text(r["incident"] or r["outcome"]),
            runbook,
            r["last_seen_at"][:19].replace("T", " "),
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    """Attach ``alerts`` to the root CLI."""
    app.command("alerts")(list_alerts)
