"""``commandpost star INC-n [--remove]`` and ``commandpost stars``: clients of the stars API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, markup, print_json, print_table, text

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def register(app: typer.Typer) -> None:
    app.command("star")(star)
    app.command("stars")(stars)


def star(
    number: Annotated[str, typer.Argument(help="the incident whose Final postmortem you praise: INC-n")],
    remove: Annotated[bool, typer.Option("--remove", help="take your star back")] = False,
    as_json: AsJson = False,
) -> None:
    """Star a Final postmortem (praise, guide §5); --remove takes the star back."""
    with Client.from_settings() as client:
        path = f"/api/v1/postmortems/{number}/star"
        out = client.request("DELETE", path).json() if remove else client.post(path)
    if as_json:
        print_json(out)
        return
    verb = "unstarred" if remove else "starred"
    console.print(f"{verb} the postmortem of {markup(out['number'])}: {out['stars']} ★")


def stars(as_json: AsJson = False) -> None:
    """Postmortems of the month: the Final postmortems starred most this month, most first."""
    with Client.from_settings() as client:
        out: list[dict[str, Any]] = client.get("/api/v1/postmortems-of-the-month")
    if as_json:
        print_json(out)
        return
    table = Table("postmortem", "title", "stars", title="Postmortems of the month")
    for row in out:
        table.add_row(row["number"], text(row["title"]), str(row["stars"]))
    print_table(table, empty="no postmortem starred this month yet: commandpost star INC-n")
