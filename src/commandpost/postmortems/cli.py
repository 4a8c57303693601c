"""Postmortem verbs of the ``commandpost`` CLI — a client of the API (see ``commandpost.client``).

``postmortem show|start|edit-section|submit|approve|reopen|no-action|export|revisions``,
``action add|done|update|list``, ``actions`` and ``postmortems``. ``commandpost action INC-7 "text"``
still records an ``action`` entry on the live timeline (the incidents verb): the ``action`` group
hands anything that is not one of its sub-commands to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from commandpost.client import Client
from commandpost.console import console, err_console, inert, markup, print_json, print_table, sev, text
from commandpost.incidents import cli as incidents_cli

Number = Annotated[str, typer.Argument(help="incident number: INC-7 or 7")]
ItemId = Annotated[int, typer.Argument(help="action item id (the # column)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]
STATUS_STYLE = {"draft": "yellow", "in_review": "cyan", "final": "green", "not_required": "dim"}
ITEM_STYLE = {"open": "yellow", "in_progress": "cyan", "done": "green", "wontfix": "dim"}


def _client() -> Client:
    return Client.from_settings()


def _pm(number: str, tail: str = "") -> str:
    return f"/api/v1/postmortems/{number.strip()}{tail}"


def _status(pm: dict[str, Any]) -> str:
    style = STATUS_STYLE.get(pm["status"], "")
    label = markup(pm["status_label"])
    return f"[{style}]{label}[/]" if style else label


def _person(handle: str | None) -> str:
    """``@handle`` for a markup string (escaped)."""
    return f"@{markup(handle)}" if handle else "—"


def _ticket(item: dict[str, Any]) -> Text | str:
    """The tracker ticket's key and state when commandpost made it; else the ticket text."""
    link = item.get("ticket_link")
    if link:
        return f"{markup(link['key'])} · {markup(link['state'])}" + (
            " [red](read failed)[/]" if link["last_error"] else ""
        )
    return text(item["ticket"]) if item["ticket"] else "[red]none[/]"


def _items_table(items: list[dict[str, Any]]) -> Table:
    table = Table("#", "content", "type", "owner", "due", "ticket", "status", "incident")
    for i in items:
        style = ITEM_STYLE.get(i["status"], "")
        due = f"[bold red]{markup(i['due'])} overdue[/]" if i["overdue"] else markup(i["due"])
        table.add_row(
            str(i["id"]),
            text(i["title"]),
            text(i["type"]),
            _person(i["owner"]),
            due,
            _ticket(i),
            f"[{style}]{markup(i['status'])}[/]",
            text(i["incident"]),
        )
    return table


# ---------------------------------------------------------------- postmortem


def show(
    number: Number,
    fmt: Annotated[str, typer.Option("--format", help="text | md | json")] = "text",
    revision: Annotated[int | None, typer.Option("--revision", help="a Final revision (md only)")] = None,
) -> None:
    """A postmortem: status, criteria and why, empty sections, blameless warnings, action items."""
    kind = fmt.strip().lower()
    if kind not in ("text", "md", "json"):
        raise typer.BadParameter(f"--format must be text, md or json, not {fmt!r}")
    with _client() as client:
        if kind == "md":
            typer.echo(inert(client.get_text(_pm(number, "/markdown"), revision=revision)), nl=False)
            return
        pm = client.get(_pm(number))
    if kind == "json":
        print_json(pm)
        return
    _print(pm)


def _print(pm: dict[str, Any]) -> None:
    console.print(
        f"[bold]Postmortem {markup(pm['number'])}[/]: {markup(pm['title'])} ({sev(pm['severity'])})",
        highlight=False,
    )
    revision = f" · revision {pm['revision']}" if pm["revision"] else ""
    console.print(
        f"  {_status(pm)} · author {_person(pm['author'])} · reviewer {_person(pm['reviewer'])}{revision}",
        highlight=False,
    )
    console.print(text(f"  {pm['criteria']['summary']}"), highlight=False)
    number = markup(pm["number"])
    if pm["status"] == "not_required":
        console.print(f"  start one anyway: commandpost postmortem start {number}", highlight=False)
        return
    if pm["empty_sections"]:
        console.print(f"  [yellow]to fill:[/] {markup(', '.join(pm['empty_sections']))}", highlight=False)
    for flag in pm["blameless"]:
        console.print(
            f"  [yellow]blameless ({markup(pm['blameless_mode'])}):[/] {_flag(flag)}",
            highlight=False,
        )
    if pm["action_items"]:
        console.print(_items_table(pm["action_items"]))
    elif pm["no_action_reason"]:
        console.print(text(f"  no action needed: {pm['no_action_reason']}"), highlight=False)
    else:
        console.print(f"  no action items yet: commandpost action add {number} …", highlight=False)
    console.print(f"  the document: commandpost postmortem show {number} --format md", highlight=False)


def _flag(flag: dict[str, Any], *, section: bool = True) -> str:
    """A blameless warning for a markup string: ``section: “sentence” — suggestion`` (escaped)."""
    where = f"{markup(flag['section'])}: " if section else ""
    return f"{where}“{markup(flag['sentence'])}” — {markup(flag['suggestion'])}"


def start(number: Number) -> None:
    """Start a postmortem now: evaluates the criteria and drafts one even if none applies."""
    with _client() as client:
        pm = client.post(_pm(number))
    console.print(
        f"{markup(pm['number'])} postmortem is {_status(pm)}: {markup(pm['criteria']['summary'])}",
        highlight=False,
    )


def _read_text(text: str | None, file: Path | None) -> str:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc}") from None
    if text is None or text == "-":
        return sys.stdin.read()
    return text


def edit_section(
    number: Number,
    section: Annotated[str, typer.Argument(help="summary, user_impact, root_cause, went_poorly, …")],
    text: Annotated[str | None, typer.Argument(help="the new text; '-' or nothing reads stdin")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="read the text from this file")] = None,
) -> None:
    """Replace one section (Markdown). On a Final postmortem this makes a new revision."""
    name = section.strip().lower().replace("-", "_")
    body = _read_text(text, file)
    with _client() as client:
        pm = client.patch(_pm(number), {"sections": {name: body}})
    revision = f" (revision {pm['revision']})" if pm["status"] == "final" else ""
    console.print(f"{markup(pm['number'])}: {markup(name)} saved · {_status(pm)}{revision}", highlight=False)
    for flag in pm["blameless"]:
        if flag["section"] == name:
            console.print(f"  [yellow]blameless:[/] {_flag(flag, section=False)}", highlight=False)


def no_action(
    number: Number,
    reason: Annotated[str, typer.Argument(help="why no action item is needed ('' clears it)")],
) -> None:
    """Say explicitly that no action item is needed, and why (Final accepts that instead of an item)."""
    with _client() as client:
        pm = client.patch(_pm(number), {"no_action_reason": reason})
    console.print(
        f"{markup(pm['number'])}: no action needed — {markup(pm['no_action_reason'] or 'cleared')}",
        highlight=False,
    )


def submit(
    number: Number,
    reviewer: Annotated[str, typer.Option("--reviewer", help="a handle from people.yaml, not the author")],
) -> None:
    """Draft → In Review with a named reviewer (blameless warnings are printed)."""
    with _client() as client:
        pm = client.post(_pm(number, "/submit"), {"reviewer": reviewer.lstrip("@")})
    console.print(
        f"{markup(pm['number'])} postmortem is {_status(pm)}; reviewer {_person(pm['reviewer'])}",
        highlight=False,
    )
    for flag in pm["blameless"]:
        console.print(f"  [yellow]blameless warning:[/] {_flag(flag)}", highlight=False)


def approve(number: Number) -> None:
    """The reviewer approves: Final (every section filled, action items or a reason why none)."""
    with _client() as client:
        pm = client.post(_pm(number, "/approve"))
    console.print(
        f"{markup(pm['number'])} postmortem is {_status(pm)} (revision {pm['revision']}), approved by "
        f"{_person(pm['approved_by'])}",
        highlight=False,
    )


def reopen(
    number: Number,
    to: Annotated[str, typer.Option("--to", help="draft | in_review")] = "draft",
) -> None:
    """Back to Draft or In Review; the Final revisions are kept."""
    with _client() as client:
        pm = client.post(_pm(number, "/reopen"), {"to": to})
    console.print(f"{markup(pm['number'])} postmortem is {_status(pm)}", highlight=False)


def export(
    number: Number,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="default: postmortem-INC-n.md")
    ] = None,
) -> None:
    """Write the postmortem as a Markdown file for a team wiki."""
    with _client() as client:
        document = client.get_text(_pm(number, "/markdown"))
        pm = client.get(_pm(number))
    path = output or Path(f"postmortem-{pm['number']}.md")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror or exc}") from None
    err_console.print(
        f"wrote {markup(path)} ({markup(pm['status_label'])}, {len(document.splitlines())} lines)",
        highlight=False,
    )


def revisions(number: Number, as_json: AsJson = False) -> None:
    """The Final revisions, oldest first."""
    with _client() as client:
        rows = client.get(_pm(number, "/revisions"))
    if as_json:
        print_json(rows)
        return
    table = Table("revision", "why", "by", "at (UTC)", "reviewer")
    for r in rows:
        table.add_row(
            str(r["revision"]),
            text(r["reason"]),
            _person(r["created_by"]),
            r["created_at"][:16].replace("T", " "),
            _person(r["reviewer"]),
        )
    print_table(table, empty="no Final revision yet")


def list_postmortems(
    final: Annotated[bool, typer.Option("--final", help="only Final ones (postmortem of the month)")] = False,
    status: Annotated[
        str | None, typer.Option("--status", help="draft | in_review | final | not_required")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="e.g. 30d")] = None,
    as_json: AsJson = False,
) -> None:
    """Postmortems, newest first; --final --since 30d lists the month's finals for a read-out."""
    with _client() as client:
        rows = client.get("/api/v1/postmortems", status="final" if final else status, since=since)
    if as_json:
        print_json(rows)
        return
    table = Table("incident", "sev", "status", "title", "author", "reviewer", "why")
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        table.add_row(
            text(r["number"]), sev(r["severity"]), f"[{style}]{markup(r['status'])}[/]", text(r["title"]),
            _person(r["author"]), _person(r["reviewer"]), text(r["criteria"]),
        )  # fmt: skip
    print_table(table, empty="no postmortems match")


# ---------------------------------------------------------------- action items


def action_add(
    number: Number,
    title: Annotated[str, typer.Argument(help="what changes, specifically (SMART)")],
    type_: Annotated[str, typer.Option("--type", help="prevent | mitigate | process")],
    owner: Annotated[str | None, typer.Option("--owner", help="a handle from people.yaml")] = None,
    due: Annotated[str | None, typer.Option("--due", help="YYYY-MM-DD, in the future")] = None,
    ticket: Annotated[str | None, typer.Option("--ticket", help="a key like OPS-123 or a URL")] = None,
    verification: Annotated[
        str | None, typer.Option("--verification", help="how we know it works (required for prevent)")
    ] = None,
    runbook: Annotated[str | None, typer.Option("--runbook", help="a runbook to update when Final")] = None,
    create_ticket: Annotated[
        bool, typer.Option("--create-ticket", help="then create its ticket in the org's tracker")
    ] = False,
    tracker: Annotated[str | None, typer.Option("--tracker", help="github | gitlab | jira | linear")] = None,
) -> None:
    """Add a SMART action item to a postmortem (the server names any rule broken)."""
    body = {
        "title": title,
        "type": type_,
        "owner": owner.lstrip("@") if owner else None,
        "due": due,
        "ticket": ticket,
        "verification": verification,
        "runbook": runbook,
        "create_ticket": create_ticket,
        "tracker": tracker,
    }
    with _client() as client:
        item = client.post(_pm(number, "/action-items"), body)
        console.print(
            f"action item #{item['id']} on {markup(item['incident'])}: {_person(item['owner'])} by "
            f"{markup(item['due'])} ({markup(item['ticket'])})",
            highlight=False,
        )
    if item["ticket_link"]:
        _print_ticket(item)


def _print_ticket(item: dict[str, Any]) -> None:
    link = item["ticket_link"]
    console.print(
        f"action item #{item['id']}: ticket {markup(link['key'])} in {markup(link['tracker'])}: "
        f"{markup(link['url'])}",
        highlight=False,
    )


def action_ticket(
    item_id: ItemId,
    tracker: Annotated[str | None, typer.Option("--tracker", help="github | gitlab | jira | linear")] = None,
) -> None:
    """Create the item's ticket in the org's tracker (trackers: in commandpost.yaml) and link it."""
    with _client() as client:
        _print_ticket(client.post(f"/api/v1/action-items/{item_id}/ticket", {"tracker": tracker}))


def _patch_item(item_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with _client() as client:
        item: dict[str, Any] = client.patch(f"/api/v1/action-items/{item_id}", body)
    return item


def action_done(item_id: ItemId, note: Annotated[str | None, typer.Option("--note")] = None) -> None:
    """Mark an action item done."""
    body: dict[str, Any] = {"status": "done"}
    if note:
        body["note"] = note
    item = _patch_item(item_id, body)
    console.print(f"action item #{item['id']} is done", highlight=False)


def action_update(
    item_id: ItemId,
    status: Annotated[
        str | None, typer.Option("--status", help="open | in_progress | done | wontfix")
    ] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    due: Annotated[str | None, typer.Option("--due", help="YYYY-MM-DD, in the future")] = None,
    ticket: Annotated[str | None, typer.Option("--ticket")] = None,
    verification: Annotated[str | None, typer.Option("--verification")] = None,
    runbook: Annotated[str | None, typer.Option("--runbook")] = None,
    note: Annotated[str | None, typer.Option("--note", help="why (required for wontfix)")] = None,
) -> None:
    """Change an action item (the result must still be SMART)."""
    given = {
        "status": status,
        "title": title,
        "owner": owner.lstrip("@") if owner else None,
        "due": due,
        "ticket": ticket,
        "verification": verification,
        "runbook": runbook,
        "note": note,
    }
    body = {k: v for k, v in given.items() if v is not None}
    if not body:
        raise typer.BadParameter("nothing to change: give --status, --due, --owner, --ticket, …")
    item = _patch_item(item_id, body)
    console.print(
        f"action item #{item['id']}: {markup(item['status'])} · {_person(item['owner'])} by "
        f"{markup(item['due'])} ({markup(item['ticket'])})",
        highlight=False,
    )


def action_list(number: Number, as_json: AsJson = False) -> None:
    """The action items of one postmortem."""
    with _client() as client:
        rows = client.get(_pm(number, "/action-items"))
    if as_json:
        print_json(rows)
    else:
        print_table(_items_table(rows), empty=f"no action items on {markup(number.upper())}")


def actions_all(
    overdue: Annotated[bool, typer.Option("--overdue", help="only open items past their due day")] = False,
    owner: Annotated[str | None, typer.Option("--owner", help="a handle")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open | in_progress | done | wontfix")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every action item by due day: track them to done."""
    with _client() as client:
        rows = client.get(
            "/api/v1/action-items",
            overdue=overdue or None,
            owner=owner.lstrip("@") if owner else None,
            status=status,
        )
    if as_json:
        print_json(rows)
    else:
        print_table(_items_table(rows), empty="no action items match")


class ActionGroup(TyperGroup):
    """``action add|done|update|list``; anything else (``action INC-7 "text"``) is the timeline verb."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click.Context (vendored by Typer)
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["record", *args]
        return super().parse_args(ctx, args)


def register(app: typer.Typer) -> None:
    """Attach the postmortem verbs to the root CLI (after the incidents verbs)."""
    pm_app = typer.Typer(
        help="A postmortem: show, start, edit-section, submit, approve, reopen, export.", no_args_is_help=True
    )
    pm_app.command("show")(show)
    pm_app.command("start")(start)
    pm_app.command("edit-section")(edit_section)
    pm_app.command("no-action")(no_action)
    pm_app.command("submit")(submit)
    pm_app.command("approve")(approve)
    pm_app.command("reopen")(reopen)
    pm_app.command("export")(export)
    pm_app.command("revisions")(revisions)
    app.add_typer(pm_app, name="postmortem")
    app.command("postmortems")(list_postmortems)
    app.command("actions")(actions_all)

    action_app = typer.Typer(
        cls=ActionGroup,
        help="Postmortem action items: add, done, update, list. "
        '(`commandpost action INC-7 "text"` records a change on the live timeline.)',
        no_args_is_help=True,
    )
    action_app.command("add")(action_add)
    action_app.command("done")(action_done)
    action_app.command("update")(action_update)
    action_app.command("list")(action_list)
    action_app.command("ticket")(action_ticket)
    action_app.command("record", hidden=True)(incidents_cli.action)
    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "action"]
    app.add_typer(action_app, name="action")
