"""Paging verbs of the ``commandpost`` CLI (a client of the API): ``ack``, ``escalate``, ``pages``."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, markup, print_json, print_table, sev, text

Number = Annotated[str, typer.Argument(help="incident number: INC-7 or 7")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _path(number: str, tail: str) -> str:
    return f"/api/v1/incidents/{number.strip()}{tail}"


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else "—"


def _chain(esc: dict[str, Any] | None) -> str:
    """The escalation in one markup string (names escaped)."""
    if not esc:
        return "no escalation"
    line = f"escalation {markup(esc['state'])}"
    if esc["state"] == "active" and esc["next_level"]:
        targets = markup(", ".join(esc["next_targets"]))
        line += f" · level {esc['next_level']} ({targets}) at {_when(esc['next_escalation_at'])}"
    return line


def ack(number: Number) -> None:
    """Acknowledge: escalation stops; with no IC named yet, you become IC."""
    with Client.from_settings() as client:
        out = client.post(_path(number, "/ack"))
    ic = f"@{markup(out['ic'])}" if out.get("ic") else "—"
    console.print(f"{markup(out['number'])} acknowledged · IC {ic} · escalation stops", highlight=False)


def escalate(number: Number, as_json: AsJson = False) -> None:
    """Page the next level now ("when in doubt, escalate"), acknowledged or not."""
    with Client.from_settings() as client:
        out = client.post(_path(number, "/escalate"))
    if as_json:
        print_json(out)
        return
    esc = out["escalation"]
    console.print(
        f"{markup(out['number'])} escalated: {out['queued']} message(s) queued · {_chain(esc)}",
        highlight=False,
    )


def pages(number: Number, as_json: AsJson = False) -> None:
    """Who was paged when, on which channel, and whether it was delivered."""
    with Client.from_settings() as client:
        out = client.get(_path(number, "/pages"))
    if as_json:
        print_json(out)
        return
    console.print(
        f"{markup(out['number'])} {sev(out['severity'])} · {_chain(out['escalation'])}", highlight=False
    )
    table = Table(show_lines=False)
    for column in ("queued", "kind", "level", "to", "channel", "status", "sent", "attempts"):
        table.add_column(column)
    for p in out["pages"]:
        status = p["status"] + (" (late)" if p["late"] else "")
        table.add_row(
            _when(p["created_at"]),
            text(p["kind"]),
            str(p["level"] or "—"),
            text(f"@{p['person']}" if p["person"] else p["destination"]),
            text(p["channel"]),
            text(status if not p["last_error"] else f"{status}: {p['last_error'][:60]}"),
            _when(p["sent_at"]),
            str(p["attempts"]),
        )
    print_table(table)


Handle = Annotated[str, typer.Argument(help="whom to test: @mei (yourself unless you are an admin)")]
POLL_SECONDS = 2.0


def page_test(
    handle: Handle,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for deliveries and acknowledgements (0: do not wait)")
    ] = 120.0,
    as_json: AsJson = False,
) -> None:
    """Send a test page through each of a person's methods; report which were delivered and acknowledged."""
    path = f"/api/v1/people/{handle.strip().lstrip('@')}/page-test"
    with Client.from_settings() as client:
        out = client.post(path)
        deadline = time.monotonic() + max(0.0, wait)
        with console.status("waiting for deliveries and acknowledgements…", spinner="dots") as shown:
            while time.monotonic() < deadline and not _settled(out):
                time.sleep(POLL_SECONDS)
                out = client.get(path)
                done = sum(1 for m in out["methods"] if m["acknowledged_at"])
                shown.update(f"{done} of {len(out['methods'])} method(s) acknowledged…")
    if as_json:
        print_json(out)
        return
    table = Table(title=f"test page for @{markup(out['person'])}")
    for column in ("method", "to", "delivered", "acknowledged", "problem"):
        table.add_column(column)
    for m in out["methods"]:
        delivered = m["status"] + (f" ({m['receipt']})" if m["receipt"] else "")
        table.add_row(
            text(m["channel"]),
            text(m["destination"]),
            text(delivered),
            _when(m["acknowledged_at"]) if m["acknowledged_at"] else "no",
            text(m["error"] or ""),
        )
    print_table(table)


def _settled(out: dict[str, Any]) -> bool:
    """Every method delivered (and acknowledged, where a person can) or failed for good."""
    return all(
        m["status"] in ("dead", "cancelled")
        or (m["status"] == "delivered" and (m["acknowledged_at"] or m["channel"] == "console"))
        for m in out["methods"]
    )


def register(app: typer.Typer) -> None:
    app.command("ack")(ack)
    app.command("escalate")(escalate)
    app.command("pages")(pages)
    app.command("page-test")(page_test)
