"""Incident verbs of the ``commandpost`` CLI — a client of the API (see ``commandpost.client``).

``declare``, ``incidents``, ``incident show|update|ack|export|publish``, ``status``, ``sev``,
``role offer|accept|decline|withdraw|assign|list``, ``maintenance add|list|cancel``, ``note``,
``action``, ``decide``, ``timeline``, ``comms``. Every listing has ``--json``. Errors come back as
the error tree and the root CLI turns them into one red line and the class's exit code.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from commandpost.client import Client
from commandpost.console import console, inert, markup, print_json, print_table, sev, text
from commandpost.console import status as status_style
from commandpost.errors import ValidationFailed

Number = Annotated[str, typer.Argument(help="incident number: INC-7 or 7")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
POLL_SECONDS = 2.0
_sleep = time.sleep  # tests replace it to drive --follow without waiting


def _client() -> Client:
    return Client.from_settings()


def _path(number: str, tail: str = "") -> str:
    return f"/api/v1/incidents/{number.strip()}{tail}"


def _when(value: str | None, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if not value:
        return "—"
    at = datetime.fromisoformat(value)
    return at.astimezone(ZoneInfo(tz)).strftime(fmt) if tz else at.strftime(fmt)


def _person(handle: str | None) -> str:
    """``@handle`` for a markup string (escaped)."""
    return f"@{markup(handle)}" if handle else "—"


# ---------------------------------------------------------------- declare and read


def declare(
    title: Annotated[str, typer.Argument(help="what is wrong, in a few words")],
    severity: Annotated[str, typer.Option("--sev", help="1–4 or SEV1–SEV4 (when in doubt, higher)")],
    service: Annotated[str | None, typer.Option("--service", help="a service from ops/services")] = None,
    summary: Annotated[str | None, typer.Option("--summary")] = None,
    impact: Annotated[str | None, typer.Option("--impact", help="customer / business impact")] = None,
    ic: Annotated[str | None, typer.Option("--ic", help="the IC if not you")] = None,
    page: Annotated[
        bool, typer.Option("--page/--no-page", help="page the service's on-call when the severity pages")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Declare an incident now ("when in doubt, declare"): number, command post, IC and next steps."""
    body = {
        "title": title,
        "severity": severity,
        "service": service,
        "summary": summary,
        "impact": impact,
        "ic": ic,
        "page": page,
    }
    with _client() as client:
        out = client.post("/api/v1/incidents", {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(out)
        return
    where = f" · {markup(out['service'])}" if out["service"] else ""
    console.print(
        f"[bold]{markup(out['number'])}[/] declared · {sev(out['severity'])}{where} · {markup(out['title'])}"
    )
    console.print(f"  command post  #{markup(out['channel'])}", highlight=False)
    console.print(f"  IC            {_person(out['ic'])}", highlight=False)
    console.print(f"  paging        {out['paging']}", highlight=False, markup=False)
    console.print("next:")
    for i, step in enumerate(out["next_steps"], 1):
        console.print(f"  {i}. {markup(step)}", highlight=False)


def list_incidents(
    status: Annotated[str | None, typer.Option("--status", help="a status, or 'open'")] = None,
    severity: Annotated[str | None, typer.Option("--sev", help="SEV1–SEV4")] = None,
    service: Annotated[str | None, typer.Option("--service")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: AsJson = False,
) -> None:
    """Incidents, newest first."""
    with _client() as client:
        rows = client.get("/api/v1/incidents", status=status, severity=severity, service=service, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no incidents match")
        return
    zone = _when(rows[0]["declared_at"], rows[0]["timezone"], "%Z")
    table = Table()
    for name in ("number", "sev", "status", "title", "service", "IC", f"declared ({zone})", "comms due"):
        table.add_column(name, no_wrap=name != "title", overflow="fold" if name == "title" else "ellipsis")
    for r in rows:
        due = _when(r["comms_due_at"], r["timezone"], "%H:%M")
        table.add_row(
            text(r["number"]),
            sev(r["severity"]),
            status_style(r["status"]),
            text(r["title"]),
            text(r["service"] or "—"),
            _person(r["ic"]),
            _when(r["declared_at"], r["timezone"], "%m-%d %H:%M"),
            f"[bold red]{due} overdue[/]" if r["comms_overdue"] else due,
        )
    print_table(table)


def show(number: Number, as_json: AsJson = False) -> None:
    """One incident: fields, milestones and roles."""
    with _client() as client:
        out = client.get(_path(number))
        held = client.get(_path(number, "/roles"))
    if as_json:
        print_json({**out, "roles": held})
        return
    console.print(f"[bold]{markup(out['number'])}[/] {markup(out['title'])}", highlight=False)
    console.print(
        f"  {sev(out['severity'])} · {status_style(out['status'])} · "
        f"{markup(out['service'] or 'no service')} · {markup(out['detection'])} · #{markup(out['channel'])}",
        highlight=False,
    )
    for label in ("summary", "impact"):
        if out[label]:
            console.print(f"  {label}: {markup(out[label])}", highlight=False)
    console.print(f"  next statuses: {markup(', '.join(out['allowed_next']) or 'none (closed)')}")
    tz = out["timezone"]
    for name in (
        "impact_started",
        "detected",
        "declared",
        "acknowledged",
        "identified",
        "mitigated",
        "resolved",
        "closed",
    ):
        if out[f"{name}_at"]:
            console.print(f"  {name.replace('_', ' '):<15}{_when(out[f'{name}_at'], tz)}")
    if out["comms_due_at"]:
        overdue = " [bold red](overdue)[/]" if out["comms_overdue"] else ""
        console.print(f"  comms due      {_when(out['comms_due_at'], tz)}{overdue}")
    console.print(_roles_table(held, tz))


def _roles_table(held: list[dict[str, Any]], tz: str) -> Table:
    table = Table("role", "holder", "by default", "pending offer")
    for r in held:
        offer = r["pending_offer"]
        pending = (
            f"to @{markup(offer['to_person'])} until {_when(offer['expires_at'], tz, '%H:%M:%S %Z')}"
            if offer
            else ""
        )
        table.add_row(
            text(r["label"]), _person(r["holder"]), "IC" if r["held_by_ic_by_default"] else "", pending
        )
    return table


def update(
    number: Number,
    title: Annotated[str | None, typer.Option("--title")] = None,
    summary: Annotated[str | None, typer.Option("--summary")] = None,
    impact: Annotated[str | None, typer.Option("--impact")] = None,
    impact_started_at: Annotated[
        str | None, typer.Option("--impact-started", help="ISO time with offset, e.g. 2026-06-24T11:52+09:00")
    ] = None,
    data_loss: Annotated[bool | None, typer.Option("--data-loss/--no-data-loss")] = None,
    manual: Annotated[bool | None, typer.Option("--manual-intervention/--no-manual-intervention")] = None,
    runbook: Annotated[str | None, typer.Option("--runbook")] = None,
) -> None:
    """Edit the descriptive fields (the change is a timeline entry)."""
    body = {
        "title": title,
        "summary": summary,
        "impact": impact,
        "impact_started_at": impact_started_at,
        "data_loss": data_loss,
        "manual_intervention": manual,
        "runbook": runbook,
    }
    with _client() as client:
        out = client.patch(_path(number), {k: v for k, v in body.items() if v is not None})
    console.print(f"{markup(out['number'])} updated", highlight=False)


def ack(number: Number) -> None:
    """Acknowledge; on an incident opened from an alert, the first acker becomes IC."""
    with _client() as client:
        out = client.post(_path(number, "/ack"))
    console.print(f"{markup(out['number'])} acknowledged · IC {_person(out['ic'])}", highlight=False)


def export(number: Number) -> None:
    """The live document as Markdown (times in the org timezone)."""
    with _client() as client:
        typer.echo(inert(client.get_text(_path(number, "/timeline.md"))), nl=False)


# ---------------------------------------------------------------- changes


def change_status(
    number: Number,
    new_status: Annotated[
        str, typer.Argument(metavar="STATUS", help="identified | mitigated | resolved | closed | reopen")
    ],
    note: Annotated[str | None, typer.Option("--note")] = None,
) -> None:
    """Move the incident along investigating → identified → mitigated → resolved → closed."""
    with _client() as client:
        out = client.post(_path(number, "/status"), {"status": new_status, "note": note})
    console.print(f"{markup(out['number'])} is {status_style(out['status'])}", highlight=False)
    if out.get("status_page"):
        console.print(f"[bold yellow]next:[/] {markup(out['status_page'])}", highlight=False)


def change_severity(
    number: Number,
    severity: Annotated[str, typer.Argument(help="SEV1–SEV4 or 1–4")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept on the timeline)")],
) -> None:
    """Change severity; the new severity's rules (comms cadence, paging) apply at once."""
    with _client() as client:
        out = client.post(_path(number, "/severity"), {"severity": severity, "reason": reason})
    due = f" · comms due {_when(out['comms_due_at'], out['timezone'])}" if out["comms_due_at"] else ""
    console.print(f"{markup(out['number'])} is {sev(out['severity'])}{due}", highlight=False)


def _entry(number: str, kind: str, text: str, corrects: int | None) -> None:
    with _client() as client:
        out = client.post(_path(number, "/timeline"), {"kind": kind, "text": text, "corrects": corrects})
    console.print(f"#{out['id']} {markup(out['kind'])} recorded on {markup(number.upper())}", highlight=False)


EntryText = Annotated[str, typer.Argument(help="the entry (secrets are redacted before it is stored)")]
Corrects = Annotated[int | None, typer.Option("--corrects", help="id of the entry this corrects")]


def note(number: Number, text: EntryText, corrects: Corrects = None) -> None:
    """Add a note to the live document."""
    _entry(number, "note", text, corrects)


def action(number: Number, text: EntryText, corrects: Corrects = None) -> None:
    """Record a change to the system (only the Ops holder, or the IC while holding Ops)."""
    _entry(number, "action", text, corrects)


def decide(number: Number, text: EntryText, corrects: Corrects = None) -> None:
    """Record a decision."""
    _entry(number, "decision", text, corrects)


def comms(
    number: Number,
    kind: Annotated[str, typer.Argument(help="initial | update | resolved")],
    audience: Annotated[str, typer.Option("--audience", help="internal | external")] = "internal",
    body: Annotated[
        str | None, typer.Option("--body", help="default: the kind's template, prefilled")
    ] = None,
) -> None:
    """Post a comms update; the next one is due after the severity's cadence."""
    with _client() as client:
        out = client.post(_path(number, "/comms"), {"kind": kind, "audience": audience, "body": body})
        incident = client.get(_path(number))
    console.print(f"#{out['id']} comms {markup(kind)} ({markup(audience)}) posted:", highlight=False)
    console.print(text(out["text"]), highlight=False)
    if incident["comms_due_at"]:
        console.print(
            f"next update due {_when(incident['comms_due_at'], incident['timezone'])}", highlight=False
        )


# ---------------------------------------------------------------- the public status page


def _services(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, state = value.partition("=")
        if not sep or not name.strip() or not state.strip():
            raise ValidationFailed(
                f"--service {value!r} is not SERVICE=STATE, e.g. payment-platform=partial_outage"
            )
        out[name.strip()] = state.strip()
    return out


def publish(
    number: Number,
    message: Annotated[str, typer.Option("--message", "-m", help="what the public reads")],
    title: Annotated[
        str | None, typer.Option("--title", help="the public title (default: as last published)")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="investigating | identified | monitoring | resolved (default: as last)"),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            help="SERVICE=STATE, repeatable; STATE: operational | degraded | partial_outage | major_outage "
            "| maintenance (default: as last published)",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Publish an update to the public status page (the Comms holder or the IC). The public sees this
    title and message, never the incident's internal title, SEV or number."""
    body = {"title": title, "message": message, "state": state, "services": _services(service or [])}
    with _client() as client:
        out = client.post(_path(number, "/public-updates"), {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(out)
        return
    console.print(
        f"#{out['id']} published to the status page for {markup(out['number'])}: "
        f"{markup(out['state'])} · {markup(out['title'])}",
        highlight=False,
    )
    for name, shown in sorted(out["services"].items()):
        console.print(f"  {markup(name)}: {markup(shown.replace('_', ' '))}", highlight=False)


# ---------------------------------------------------------------- scheduled maintenance

MAINTENANCE = "/api/v1/status/maintenance"


def _window_line(w: dict[str, Any]) -> str:
    state = " (cancelled)" if w["cancelled_at"] else ""
    return (
        f"#{w['id']} {_when(w['starts_at'])} → {_when(w['ends_at'])} {', '.join(w['services'])}: "
        f"{w['title']}{state}"
    )


def maintenance_add(
    title: Annotated[str, typer.Option("--title", help="the public title")],
    message: Annotated[str, typer.Option("--message", "-m", help="what the public reads")],
    start: Annotated[str, typer.Option("--start", help="ISO 8601 with its offset: 2026-12-08T02:00+09:00")],
    end: Annotated[
        str, typer.Option("--end", help="ISO 8601 with its offset, after --start (14 days at most)")
    ],
    service: Annotated[list[str], typer.Option("--service", help="a service it covers, repeatable")],
    as_json: AsJson = False,
) -> None:
    """Schedule a maintenance window on the status page (an admin, a member of the owning team, or the
    Comms holder or IC of an open incident on the service)."""
    body = {"title": title, "message": message, "services": service, "starts_at": start, "ends_at": end}
    with _client() as client:
        out = client.post(MAINTENANCE, body)
    if as_json:
        print_json(out)
        return
    console.print(f"scheduled {markup(_window_line(out))}", highlight=False)


def maintenance_list(
    past: Annotated[bool, typer.Option("--past", help="every window, cancelled and over too")] = False,
    as_json: AsJson = False,
) -> None:
    """Maintenance windows on now or upcoming, soonest first."""
    with _client() as client:
        out = client.get(MAINTENANCE, **({"past": "true"} if past else {}))
    if as_json:
        print_json(out)
        return
    if not out:
        console.print("no maintenance scheduled")
    for w in out:
        console.print(markup(_window_line(w)), highlight=False)


def maintenance_cancel(
    window: Annotated[int, typer.Argument(help="the window's id (maintenance list)")],
) -> None:
    """Cancel a window not yet over; if it is on, its services go back to their published state at once."""
    with _client() as client:
        out = client.post(f"{MAINTENANCE}/{window}/cancel")
    console.print(f"cancelled {markup(_window_line(out))}", highlight=False)


# ---------------------------------------------------------------- roles


Role = Annotated[str, typer.Argument(help="ic | ops | comms | planning")]
Person = Annotated[str, typer.Argument(help="a handle from people.yaml")]


def role_list(number: Number, as_json: AsJson = False) -> None:
    """Who holds each role (the IC holds every role not delegated)."""
    with _client() as client:
        held = client.get(_path(number, "/roles"))
        tz = client.get(_path(number))["timezone"]
    if as_json:
        print_json(held)
    else:
        console.print(_roles_table(held, tz))


def role_offer(number: Number, role: Role, person: Person) -> None:
    """Offer a role; it stays with its holder until the person accepts with their own token."""
    with _client() as client:
        out = client.post(_path(number, f"/roles/{role}/offer"), {"person": person})
        tz = client.get(_path(number))["timezone"]
    until = _when(out["expires_at"], tz, "%H:%M:%S %Z")
    console.print(
        f"{markup(out['role'].upper())} offered to {_person(out['to_person'])} until {until}; "
        f"they accept with: commandpost role accept {markup(number.upper())} {markup(out['role'])}",
        highlight=False,
    )


def role_accept(number: Number, role: Role) -> None:
    """Accept a role offered to you."""
    with _client() as client:
        out = client.post(_path(number, f"/roles/{role}/accept"))
    console.print(
        f"you ({_person(out['to_person'])}) now hold {markup(out['role'].upper())} "
        f"on {markup(number.upper())}"
    )


def role_decline(number: Number, role: Role) -> None:
    """Decline a role offered to you; it stays with its holder."""
    with _client() as client:
        out = client.post(_path(number, f"/roles/{role}/decline"))
    console.print(f"declined {markup(out['role'].upper())} on {markup(number.upper())}")


def role_withdraw(number: Number, role: Role) -> None:
    """Take back a pending offer (you made it, hold the role, or are IC); the role stays put."""
    with _client() as client:
        out = client.post(_path(number, f"/roles/{role}/withdraw"))
    console.print(
        f"withdrew the offer of {markup(out['role'].upper())} on {markup(number.upper())} "
        f"to {_person(out['to_person'])}",
        highlight=False,
    )


def role_assign(number: Number, role: Role, person: Person) -> None:
    """The IC (or an admin token) gives a role directly."""
    with _client() as client:
        out = client.post(_path(number, f"/roles/{role}/assign"), {"person": person})
    console.print(
        f"{markup(out['label'])} on {markup(number.upper())}: {_person(out['holder'])}", highlight=False
    )


# ---------------------------------------------------------------- the live timeline


def _print_entry(entry: dict[str, Any], tz: str) -> None:
    author = entry["author"] if entry["author"] == "commandpost" else f"@{entry['author']}"
    fix = f" (corrects #{entry['corrects']})" if entry["corrects"] else ""
    clock = _when(entry["at"], tz, "%H:%M:%S")
    line = Text.assemble(
        (clock, "dim"),
        f" #{entry['id']} ",
        text(entry["kind"], "bold"),
        text(f" {author}{fix}: "),
        text(entry["text"]),
    )
    console.print(line, soft_wrap=True)


def show_timeline(
    number: Number,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep polling for new entries")] = False,
    after: Annotated[int, typer.Option("--after", help="start after this entry id")] = 0,
    interval: Annotated[float, typer.Option("--interval", help="seconds between polls")] = POLL_SECONDS,
    as_json: AsJson = False,
) -> None:
    """The live document; --follow keeps polling the cursor until the incident is closed (or Ctrl-C)."""
    cursor = after
    collected: list[dict[str, Any]] = []
    with _client() as client:
        try:
            while True:
                page = client.get(_path(number, "/timeline"), after=cursor or None, limit=500)
                for entry in page["entries"]:
                    if as_json and not follow:
                        collected.append(entry)
                    elif as_json:
                        print_json(entry)
                    else:
                        _print_entry(entry, page["timezone"])
                cursor = page["next_cursor"]
                if page["entries"] and len(page["entries"]) == 500:
                    continue
                if not follow or page["status"] == "closed":
                    break
                _sleep(interval)
        except KeyboardInterrupt:
            pass
    if as_json and not follow:
        print_json(collected)


def register(app: typer.Typer) -> None:
    """Attach the incident verbs to the root CLI."""
    app.command("declare")(declare)
    app.command("incidents")(list_incidents)
    app.command("status")(change_status)
    app.command("sev")(change_severity)
    app.command("note")(note)
    app.command("action")(action)
    app.command("decide")(decide)
    app.command("timeline")(show_timeline)
    app.command("comms")(comms)

    incident_app = typer.Typer(
        help="One incident: show, update, ack, export, publish (the status page).", no_args_is_help=True
    )
    incident_app.command("show")(show)
    incident_app.command("update")(update)
    incident_app.command("ack")(ack)
    incident_app.command("export")(export)
    incident_app.command("publish")(publish)
    app.add_typer(incident_app, name="incident")

    role_app = typer.Typer(
        help="Roles and explicit handover: offer, accept, decline, withdraw, assign, list.",
        no_args_is_help=True,
    )
    role_app.command("list")(role_list)
    role_app.command("offer")(role_offer)
    role_app.command("accept")(role_accept)
    role_app.command("decline")(role_decline)
    role_app.command("withdraw")(role_withdraw)
    role_app.command("assign")(role_assign)
    app.add_typer(role_app, name="role")

    maintenance_app = typer.Typer(
        help="Scheduled maintenance on the status page: add, list, cancel.", no_args_is_help=True
    )
    maintenance_app.command("add")(maintenance_add)
    maintenance_app.command("list")(maintenance_list)
    maintenance_app.command("cancel")(maintenance_cancel)
    app.add_typer(maintenance_app, name="maintenance")
