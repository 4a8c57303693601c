"""On-call verbs of the ``commandpost`` CLI, a client of the API: ``oncall``, ``override add|list|remove``,
``feed add|list|rotate|remove``. Times without an offset are read as UTC; tables show local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, err_console, markup, print_json, text
from commandpost.errors import ValidationFailed

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
override_app = typer.Typer(
    help="Overrides: someone covers a schedule layer for a while.", no_args_is_help=True
)
feed_app = typer.Typer(help="iCal feeds of a schedule's or a person's shifts.", no_args_is_help=True)


def _client() -> Client:
    return Client.from_settings()


def _instant(value: str, option: str) -> str:
    """ISO 8601 for the API; a value without an offset is UTC."""
    try:
        at = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValidationFailed(
            f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-06-29T10:00+09:00)"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _local(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone().strftime("%a %Y-%m-%d %H:%M %Z")


def oncall(
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 instant (default: now; no offset = UTC)")
    ] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="only this schedule")] = None,
    as_json: AsJson = False,
) -> None:
    """Who is on call now (or --at): schedule, layer, person, until when."""
    params = {"at": _instant(at, "--at") if at else None, "schedule": schedule}
    with _client() as client:
        out = client.get("/api/v1/oncall", **params)
    if as_json:
        print_json(out)
        return
    table = Table("schedule", "layer", "person", "until", title=f"On call at {_local(out['at'])}")
    for row in out["oncall"]:
        person = f"@{markup(row['person'])}" if row["person"] else "[dim]nobody[/]"
        if row["by_override"]:
            person += f" [yellow](override {row['override_id']})[/]"
        table.add_row(text(row["schedule"]), text(row["layer"]), person, _local(row["end"]))
    console.print(table)


@override_app.command("add")
def override_add(
    schedule: Annotated[str, typer.Option("--schedule", help="a schedule from ops/schedules")],
    layer: Annotated[str, typer.Option("--layer", help="primary, secondary, …")],
    person: Annotated[str, typer.Option("--person", help="who covers, a handle from people.yaml")],
    start: Annotated[str, typer.Option("--start", help="ISO 8601 (no offset = UTC)")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 (no offset = UTC)")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: AsJson = False,
) -> None:
    """PERSON covers LAYER of SCHEDULE over [start, end); where overrides overlap, the newest wins."""
    body = {
        "schedule": schedule,
        "layer": layer,
        "person": person,
        "start": _instant(start, "--start"),
        "end": _instant(end, "--end"),
        "note": note,
    }
    with _client() as client:
        out = client.post("/api/v1/overrides", body)
    if as_json:
        print_json(out)
        return
    console.print(
        f"override {out['id']}: @{markup(out['person'])} covers "
        f"{markup(out['schedule'])}/{markup(out['layer'])} "
        f"from {_local(out['start'])} until {_local(out['end'])}",
        highlight=False,
    )


@override_app.command("list")
def override_list(
    schedule: Annotated[str | None, typer.Option("--schedule")] = None,
    person: Annotated[str | None, typer.Option("--person")] = None,
    include_past: Annotated[bool, typer.Option("--all", help="include overrides already over")] = False,
    as_json: AsJson = False,
) -> None:
    """Overrides not yet over (or --all)."""
    with _client() as client:
        rows = client.get("/api/v1/overrides", schedule=schedule, person=person, include_past=include_past)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "schedule", "layer", "person", "from", "until", "by", "note")
    for r in rows:
        table.add_row(
            str(r["id"]),
            text(r["schedule"]),
            text(r["layer"]),
            text("@" + r["person"]),
            _local(r["start"]),
            _local(r["end"]),
            text("@" + r["created_by"]),
            text(r["note"]),
        )
    console.print(table)


@override_app.command("remove")
def override_remove(override_id: Annotated[int, typer.Argument(help="the override's id")]) -> None:
    """Remove an override; the rotation (or an older override) covers that time again."""
    with _client() as client:
        out = client.request("DELETE", f"/api/v1/overrides/{override_id}").json()
    console.print(
        f"override {out['id']} removed "
        f"(@{markup(out['person'])}, {markup(out['schedule'])}/{markup(out['layer'])})"
    )


def _print_feed(out: dict[str, Any]) -> None:
    err_console.print(
        f"feed {out['id']} ({markup(out['kind'])} {markup(out['target'])}); "
        "the URL is its secret, shown once:"
    )
    print(out["url"])


@feed_app.command("add")
def feed_add(
    schedule: Annotated[str | None, typer.Option("--schedule")] = None,
    person: Annotated[str | None, typer.Option("--person")] = None,
) -> None:
    """A calendar URL for a schedule's or a person's shifts (the URL alone is printed on stdout)."""
    with _client() as client:
        _print_feed(client.post("/api/v1/feeds", {"schedule": schedule, "person": person}))


@feed_app.command("rotate")
def feed_rotate(feed_id: Annotated[int, typer.Argument(help="the feed's id")]) -> None:
    """A new URL for the feed; the old one stops working at once."""
    with _client() as client:
        _print_feed(client.post(f"/api/v1/feeds/{feed_id}/rotate"))


@feed_app.command("remove")
def feed_remove(feed_id: Annotated[int, typer.Argument(help="the feed's id")]) -> None:
    with _client() as client:
        out = client.request("DELETE", f"/api/v1/feeds/{feed_id}").json()
    console.print(
        f"feed {out['id']} ({markup(out['kind'])} {markup(out['target'])}) removed; its URL stops working"
    )


@feed_app.command("list")
def feed_list(as_json: AsJson = False) -> None:
    with _client() as client:
        rows = client.get("/api/v1/feeds")
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "of", "secret starts", "by", "created", "rotated")
    for r in rows:
        table.add_row(
            str(r["id"]),
            text(r["kind"]),
            text(r["target"]),
            text(r["prefix"] + "…"),
            text("@" + r["created_by"]),
            _local(r["created_at"]),
            _local(r["rotated_at"]),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach this domain's commands to the root CLI."""
    app.command("oncall")(oncall)
    app.add_typer(override_app, name="override")
    app.add_typer(feed_app, name="feed")
