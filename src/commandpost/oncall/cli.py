"""On-call verbs of the ``commandpost`` CLI, a client of the API: ``oncall`` (with ``oncall swap
request|accept|decline|withdraw|list`` and ``oncall take``), ``override add|list|remove``,
``feed add|list|rotate|remove``. Times without an offset are read as UTC; tables show local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, err_console, markup, print_json, print_table, text
from commandpost.errors import ValidationFailed

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
override_app = typer.Typer(
    help="Overrides: someone covers a schedule layer for a while.", no_args_is_help=True
)
feed_app = typer.Typer(help="iCal feeds of a schedule's or a person's shifts.", no_args_is_help=True)
oncall_app = typer.Typer(no_args_is_help=False)
swap_app = typer.Typer(
    help="Shift swaps and cover: ask someone to take (part of) your shift, or trade ranges.",
    no_args_is_help=True,
)


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


@oncall_app.callback(invoke_without_command=True)
def oncall(
    ctx: typer.Context,
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 instant (default: now; no offset = UTC)")
    ] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="only this schedule")] = None,
    as_json: AsJson = False,
) -> None:
    """Who is on call now (or --at): schedule, layer, person, until when."""
    if ctx.invoked_subcommand is not None:
        return
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
    print_table(table)


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
    print_table(table)


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
    print_table(table)


SWAP_STATE = {
    "requested": "yellow",
    "accepted": "green",
    "declined": "red",
    "withdrawn": "dim",
    "expired": "dim",
}


def _swap_line(out: dict[str, Any]) -> str:
    where = f"{markup(out['schedule'])}/{markup(out['layer'])}"
    span = f"{_local(out['start'])} – {_local(out['end'])}"
    who, asked = f"@{markup(out['requester'])}", f"@{markup(out['target'])}"
    if out["kind"] == "take":
        return f"swap {out['id']}: {who} took {where} from {asked} until {_local(out['end'])}"
    line = f"swap {out['id']} ({out['state']}): {asked} covers {where} {span} for {who}"
    if out["counter_start"]:
        line += f"; {who} covers {_local(out['counter_start'])} – {_local(out['counter_end'])}"
    return line


def _print_swap(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(out)
    else:
        console.print(_swap_line(out), highlight=False)


@swap_app.command("request")
def swap_request(
    schedule: Annotated[str, typer.Argument(help="a schedule from ops/schedules")],
    layer: Annotated[str, typer.Argument(help="primary, secondary, …")],
    to: Annotated[str, typer.Option("--to", help="who you ask: a handle from people.yaml")],
    start: Annotated[
        str, typer.Option("--start", help="ISO 8601 (no offset = UTC); part of a shift is fine")
    ],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 (no offset = UTC)")],
    counter_start: Annotated[
        str | None, typer.Option("--their-start", help="a swap: the start of their range you take")
    ] = None,
    counter_end: Annotated[str | None, typer.Option("--their-end", help="a swap: its end")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: AsJson = False,
) -> None:
    """Ask --to to cover [start, end) of your shift; with --their-start/--their-end, to swap ranges."""
    body = {
        "schedule": schedule,
        "layer": layer,
        "target": to,
        "start": _instant(start, "--start"),
        "end": _instant(end, "--end"),
        "counter_start": _instant(counter_start, "--their-start") if counter_start else None,
        "counter_end": _instant(counter_end, "--their-end") if counter_end else None,
        "note": note,
    }
    with _client() as client:
        _print_swap(client.post("/api/v1/oncall/swaps", body), as_json)


def _decide(swap_id: int, verb: str, as_json: bool) -> None:
    with _client() as client:
        _print_swap(client.post(f"/api/v1/oncall/swaps/{swap_id}/{verb}"), as_json)


SwapId = Annotated[int, typer.Argument(help="the swap's id (commandpost oncall swap list)")]


@swap_app.command("accept")
def swap_accept(swap_id: SwapId, as_json: AsJson = False) -> None:
    """Accept a request made to you (or, as a lead, to someone in your team): it becomes overrides."""
    _decide(swap_id, "accept", as_json)


@swap_app.command("decline")
def swap_decline(swap_id: SwapId, as_json: AsJson = False) -> None:
    """Decline a request made to you (or, as a lead, to someone in your team)."""
    _decide(swap_id, "decline", as_json)


@swap_app.command("withdraw")
def swap_withdraw(swap_id: SwapId, as_json: AsJson = False) -> None:
    """Withdraw a request you made that nobody has answered yet."""
    _decide(swap_id, "withdraw", as_json)


@swap_app.command("list")
def swap_list(
    state: Annotated[
        str | None, typer.Option("--state", help="requested | accepted | declined | withdrawn | expired")
    ] = None,
    person: Annotated[str | None, typer.Option("--person", help="who asked or was asked")] = None,
    as_json: AsJson = False,
) -> None:
    """Shift swaps, newest first."""
    with _client() as client:
        rows = client.get("/api/v1/oncall/swaps", state=state, person=person)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "layer", "from", "until", "asked by", "asked", "state", "decided by", "note")
    for r in rows:
        table.add_row(
            str(r["id"]),
            text(r["kind"]),
            text(f"{r['schedule']}/{r['layer']}"),
            _local(r["start"]),
            _local(r["end"]),
            text("@" + r["requester"]),
            text("@" + r["target"]),
            text(r["state"], SWAP_STATE.get(r["state"], "")),
            text("@" + r["decided_by"]) if r["decided_by"] else "—",
            text(r["note"]),
        )
    print_table(table)


@oncall_app.command("take")
def take(
    schedule: Annotated[str, typer.Argument(help="a schedule from ops/schedules")],
    layer: Annotated[str, typer.Argument(help="primary, secondary, …")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_json: AsJson = False,
) -> None:
    """Take the rest of the current shift now from whoever is on call (they are told)."""
    with _client() as client:
        out = client.post("/api/v1/oncall/take", {"schedule": schedule, "layer": layer, "note": note})
    _print_swap(out, as_json)


oncall_app.add_typer(swap_app, name="swap")


def register(app: typer.Typer) -> None:
    """Attach this domain's commands to the root CLI."""
    app.add_typer(oncall_app, name="oncall")
    app.add_typer(override_app, name="override")
    app.add_typer(feed_app, name="feed")
