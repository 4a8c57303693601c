"""``commandpost backup | restore | export | import`` (local admin: talks to the database directly)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commandpost.cli import DatabaseUrl, _settings
from commandpost.console import err_console, markup, progress
from commandpost.errors import BadRequest

if TYPE_CHECKING:
    from sqlalchemy import Engine


class Format(StrEnum):
    json = "json"


def _engine(database_url: str | None) -> Engine:
    from commandpost.db.engine import create_db_engine

    settings = _settings(database_url)
    return create_db_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def backup(
    file: Annotated[Path, typer.Argument(help="where to write the backup (owner-only permissions)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the database while it serves: SQLite's online backup, or a consistent PostgreSQL snapshot."""
    from commandpost.backup import service

    with progress("backup", total=None) as bar:
        kind = service.backup(_engine(database_url), file, progress=bar.at)
    what = "a SQLite copy" if kind == "sqlite" else "an export read in one snapshot"
    err_console.print(f"[green]backed up to {markup(file)}[/] ({what}; 'commandpost restore' reads it)")


def restore(
    file: Annotated[Path, typer.Argument(help="a backup or an export")],
    database_url: DatabaseUrl = None,
) -> None:
    """Restore a backup (or an export) into an empty database; a database holding data is refused."""
    from commandpost.backup import service

    with progress("restore", total=None) as bar:
        counts = service.restore(_engine(database_url), file, progress=bar.at)
    err_console.print(f"[green]restored {sum(counts.values())} rows into {len(counts)} tables[/]")


def export(
    output: Annotated[
        Path | None, typer.Option("--output", help="write here (owner-only) instead of to stdout")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="json: the document 'import' reads")] = Format.json,
    password_hashes: Annotated[
        bool,
        typer.Option(
            "--include-password-hashes",
            help="keep the web users' password hashes and sessions (left out: users set a new password)",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Everything as one JSON document: incidents, timelines, alerts, postmortems, users, audit log…"""
    from commandpost.backup import service

    with progress("export", total=None) as bar:
        doc = service.export_data(_engine(database_url), password_hashes=password_hashes, progress=bar.at)
    text = service.dumps(doc)
    if output is None:
        sys.stdout.write(text)
        return
    service.write_file(output, text)
    err_console.print(f"[green]exported to {markup(output)}[/]")


def import_(
    what: Annotated[
        str,
        typer.Argument(
            help="an export written by 'commandpost export', or a tool to import from: "
            "pagerduty, opsgenie, grafana-oncall",
            metavar="FILE|VENDOR",
        ),
    ],
    source: Annotated[
        Path | None,
        typer.Argument(help="with a VENDOR: the folder of its saved API responses (docs/migrate.md)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="with a VENDOR: where to write the ops folder")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="COMMANDPOST_IMPORT_TOKEN",
            help="with a VENDOR: read its REST API live with this token (better: the environment variable)",
            show_default=False,
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="with --token: the API's base URL, when not the vendor's default"),
    ] = None,
    grafana_url: Annotated[
        str | None,
        typer.Option(
            "--grafana-url",
            envvar="COMMANDPOST_IMPORT_GRAFANA_URL",
            help="with grafana-oncall and a service-account token (glsa_…): the Grafana stack's URL",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="with a VENDOR: write over a non-empty --out")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Import an export into an empty database (a database holding data is refused).

    With a VENDOR (pagerduty, opsgenie, grafana-oncall): read its users, teams, schedules, escalation
    policies and services (saved API responses or --token) and write an ops folder to --out."""
    from commandpost.importers.cli import VENDORS, vendor_import

    if what in VENDORS:
        vendor_import(
            what, source, out=out, token=token, api_url=api_url, grafana_url=grafana_url, force=force
        )
        return
    if source is not None or out is not None or token or api_url or grafana_url:
        raise BadRequest(
            f"{what!r} is not a vendor ({', '.join(VENDORS)}): SOURCE, --out, --token, --api-url, "
            "--grafana-url go with one"
        )
    from commandpost.backup import service

    doc = service.read_file(Path(what))
    with progress("import", total=None) as bar:
        counts = service.import_data(_engine(database_url), doc, progress=bar.at)
    err_console.print(f"[green]imported {sum(counts.values())} rows into {len(counts)} tables[/]")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("export")(export)
    app.command("import")(import_)
