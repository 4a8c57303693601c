"""The ``commandpost`` command: local admin verbs (serve, check, apply, init, db, token) and API clients.

Heavy imports live inside the commands so ``commandpost --help`` starts fast.
Errors from the one error tree become a red line on stderr and the exit code
``errors.py`` assigns; no stack trace reaches the person at the keyboard.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commandpost.console import err_console
from commandpost.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

app = typer.Typer(
    name="commandpost",
    help="Incident response the SRE way: declare, page, run the runbook, learn.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens (local admin: talks to the database directly).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="COMMANDPOST_DATABASE_URL", help="sqlite:///file.db or postgresql://…"
    ),
]


def _settings(database_url: str | None = None) -> Settings:

    return Settings(database_url=database_url) if database_url else Settings()


def _sessions(database_url: str | None, *, upgrade: bool = True) -> sessionmaker[Session]:
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine, make_session_factory

    settings = _settings(database_url)
    engine = create_db_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    if upgrade:
        migrate.upgrade(engine)
    return make_session_factory(engine)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Bring the schema to the latest migration."""
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine

    engine = create_db_engine(_settings(database_url).database_url)
    migrate.upgrade(engine)
    err_console.print(f"[green]schema at {migrate.current_revision(engine)}[/]")


@token_app.command("create")
def token_create(
    person: Annotated[str, typer.Option("--person", help="the person's handle from people.yaml")],
    scope: Annotated[str, typer.Option("--scope", help="read | responder | admin")] = "responder",
    name: Annotated[str, typer.Option("--name", help="what the token is for")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a token; the token alone is printed on the last line (shown once, stored only as a hash)."""
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.security import service

    with transaction(_sessions(database_url)) as session:
        row, plaintext = service.create_token(
            session, person=person, scope=scope, name=name, now=SystemClock().now()
        )
    err_console.print(f"token {row.id} for @{row.person} with scope {row.scope} (shown once):")
    print(plaintext)


@token_app.command("revoke")
def token_revoke(token_id: int, database_url: DatabaseUrl = None) -> None:
    """Revoke a token by id; it stops working at once."""
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.security import service

    with transaction(_sessions(database_url)) as session:
        row = service.revoke_token(session, token_id=token_id, now=SystemClock().now())
    err_console.print(f"[green]token {row.id} (@{row.person}, {row.scope}) revoked[/]")


@token_app.command("list")
def token_list(
    database_url: DatabaseUrl = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Tokens: id, person, scope, prefix, last used, revoked."""
    from rich.table import Table

    from commandpost.console import console, print_json
    from commandpost.security import service

    with _sessions(database_url)() as session:
        rows = service.list_tokens(session)
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "person": r.person,
                    "scope": r.scope,
                    "name": r.name,
                    "prefix": r.prefix,
                    "created_at": r.created_at,
                    "last_used_at": r.last_used_at,
                    "revoked_at": r.revoked_at,
                }
                for r in rows
            ]
        )
        return
    table = Table("id", "person", "scope", "name", "prefix", "last used", "revoked")
    for r in rows:
        table.add_row(
            str(r.id),
            "@" + r.person,
            r.scope,
            r.name,
            r.prefix + "…",
            str(r.last_used_at or "never"),
            str(r.revoked_at or ""),
        )
    console.print(table)


@app.command()
def serve(
    ops: Annotated[Path | None, typer.Option("--ops", help="apply this ops folder before serving")] = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option("--host", envvar="COMMANDPOST_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", envvar="COMMANDPOST_PORT")] = 8080,
    first_run_token: Annotated[
        bool, typer.Option("--first-run-token", help="create an admin token when none exists and print it")
    ] = False,
    engine: Annotated[bool, typer.Option("--engine/--no-engine", help="run the engine loop")] = True,
) -> None:
    """Apply OPS (if given), upgrade the schema, and serve the API, web pages and engine."""
    from commandpost.serve import run_server

    settings = _settings(database_url).model_copy(
        update={"host": host, "port": port, "engine_enabled": engine, "ops_dir": ops}
    )
    run_server(settings, first_run_token=first_run_token)


def _register_domains() -> None:
    from commandpost.alerts import cli as alerts_cli
    from commandpost.incidents import cli as incidents_cli
    from commandpost.metrics import cli as metrics_cli
    from commandpost.notify import cli as notify_cli
    from commandpost.oncall import cli as oncall_cli
    from commandpost.paging import cli as paging_cli
    from commandpost.policy import cli as policy_cli
    from commandpost.postmortems import cli as postmortems_cli
    from commandpost.runbooks import cli as runbooks_cli

    policy_cli.register(app)
    incidents_cli.register(app)
    alerts_cli.register(app)
    oncall_cli.register(app)
    paging_cli.register(app)
    notify_cli.register(app)
    runbooks_cli.register(app)
    from commandpost.web import cli as web_cli

    web_cli.register(app)
    postmortems_cli.register(app)  # after incidents: its `action` group wraps the timeline verb
    metrics_cli.register(app)


def main() -> None:
    """Run the CLI; an error from the error tree becomes a red line and its exit code, no traceback."""
    from commandpost.errors import CommandpostError

    _register_domains()
    try:
        app()  # standalone: Typer prints usage errors and exits with the command's code
    except CommandpostError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if isinstance(exc.details, list):
            for line in exc.details:
                err_console.print(f"  {line}", highlight=False)
        sys.exit(exc.exit_code)
