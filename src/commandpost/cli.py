"""The ``commandpost`` command: local admin verbs (serve, check, apply, init, db, token) and API clients.

The root group is lazy: it lists every command from the index in :mod:`commandpost.cli_root`
(name → the module that registers it, one-line help) without importing any domain, and running a
command imports only the module that owns it (``tests/unit/test_cli_index.py`` keeps the index equal
to what the modules register). Heavy imports live inside the commands for the same reason; settings
(pydantic-settings) and SQLAlchemy load only when a command needs them.

Errors from the one error tree become a red line on stderr and the exit code
``errors.py`` assigns; no stack trace reaches the person at the keyboard.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from commandpost.cli_root import COMMANDS, DOMAINS, ROOT_HELP, print_root_help, print_version
from commandpost.console import err_console, markup

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy.orm import Session, sessionmaker

    from commandpost.settings import Settings


class _Unloaded(TyperCommand):
    """A listed command whose module is not imported yet: a name and its help, nothing to run."""

    def __init__(self, name: str, module: str, help_text: str) -> None:
        super().__init__(name, short_help=help_text)
        self.module = module


class LazyRoot(TyperGroup):
    """The root group: holds every name from :data:`COMMANDS`, importing a domain only when used.

    Listing (``--help``, no arguments) reads the index; resolving a command — to run it, show its
    own help or complete it — imports the module that owns it and builds its real commands.
    """

    def __init__(self, *, commands: dict[str, Any] | None = None, **attrs: Any) -> None:
        super().__init__(commands=commands, **attrs)
        built = self.commands
        self.commands = {name: _Unloaded(name, module, text) for name, (module, text) in COMMANDS.items()}
        self.commands.update(built)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.commands.get(cmd_name)
        if isinstance(command, _Unloaded):
            self._load(command.module)
            command = self.commands.get(cmd_name)
        return command

    def _load(self, module: str) -> None:
        """Import ``module``, register it on a scratch Typer and take the names the index gives it."""
        scratch = typer.Typer(rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)
        importlib.import_module(module).register(scratch)
        for name, command in typer.main.get_group(scratch).commands.items():
            if name in COMMANDS and COMMANDS[name][0] == module:
                self.commands[name] = command

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click.Context, click.HelpFormatter
        """Typer's rich help page, drawn with Rich alone from the index (see :mod:`commandpost.cli_root`).

        ``typer.rich_utils`` imports Markdown, Pygments and attrs, a third of the start-up, for a page
        that needs none of them; ``tests/unit/test_cli_index.py`` checks this page is Typer's own.
        """
        print_root_help()


app = typer.Typer(
    name="commandpost",
    cls=LazyRoot,
    help=ROOT_HELP,
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


def _print_version(show: bool) -> None:
    """``--version`` as Typer parses it (eager: before a command is looked up)."""
    if show:
        print_version()
        raise typer.Exit()


@app.callback(help=ROOT_HELP)
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """The root's own options; ``cli_root.main`` answers ``--version`` before Typer loads, this lists it."""


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="COMMANDPOST_DATABASE_URL", help="sqlite:///file.db or postgresql://…"
    ),
]


def _settings(database_url: str | None = None) -> Settings:
    from commandpost.settings import Settings

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


@db_app.command("status")
def db_status(
    database_url: DatabaseUrl = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The schema's revision, the head this version knows, and the migrations 'db upgrade' would apply."""
    from commandpost.console import console, print_json
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine

    engine = create_db_engine(_settings(database_url).database_url)
    current = sorted(migrate.current_revisions(engine))
    pending = migrate.pending_revisions(engine)
    if as_json:
        print_json(
            {
                "current": current,
                "head": migrate.HEAD,
                "pending": [{"revision": rev, "description": doc.splitlines()[0]} for rev, doc in pending],
                "up_to_date": not pending,
            }
        )
        return
    console.print(f"current: {', '.join(current) or 'empty (no schema yet)'}", highlight=False)
    console.print(f"head:    {migrate.HEAD}", highlight=False)
    if not pending:
        console.print("[green]up to date[/]")
        return
    console.print(f"pending: {len(pending)} (commandpost db upgrade applies them)", highlight=False)
    for rev, doc in pending:
        console.print(f"  {rev}  {markup(doc.splitlines()[0])}", highlight=False)


@token_app.command("create")
def token_create(
    person: Annotated[
        str, typer.Option("--person", help="a handle from people.yaml, or svc:NAME for automation")
    ],
    scope: Annotated[str, typer.Option("--scope", help="read | responder | admin")] = "responder",
    name: Annotated[str, typer.Option("--name", help="what the token is for")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a token; the token alone is printed on the last line (shown once, stored only as a hash)."""
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.policy import service as policy_service
    from commandpost.security import service

    with transaction(_sessions(database_url)) as session:
        row, plaintext = service.create_token(
            session,
            person=person,
            scope=scope,
            name=name,
            now=SystemClock().now(),
            people=policy_service.people_handles(session),
        )
    err_console.print(
        f"token {row.id} for @{markup(row.person)} with scope {markup(row.scope)} (shown once):"
    )
    print(plaintext)


@token_app.command("revoke")
def token_revoke(token_id: int, database_url: DatabaseUrl = None) -> None:
    """Revoke a token by id; it stops working at once."""
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.security import service

    with transaction(_sessions(database_url)) as session:
        row = service.revoke_token(session, token_id=token_id, now=SystemClock().now())
    err_console.print(f"[green]token {row.id} (@{markup(row.person)}, {markup(row.scope)}) revoked[/]")


@token_app.command("list")
def token_list(
    database_url: DatabaseUrl = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Tokens: id, person, scope, prefix, last used, revoked."""
    from rich.table import Table

    from commandpost.console import print_json, print_table, text
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
            text("@" + r.person),
            text(r.scope),
            text(r.name),
            text(r.prefix + "…"),
            str(r.last_used_at or "never"),
            str(r.revoked_at or ""),
        )
    print_table(table)


@app.command()
def serve(
    ops: Annotated[
        Path | None,
        typer.Option("--ops", envvar="COMMANDPOST_OPS_DIR", help="apply this ops folder before serving"),
    ] = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option("--host", envvar="COMMANDPOST_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", envvar="COMMANDPOST_PORT")] = 8080,
    first_run_token: Annotated[
        bool, typer.Option("--first-run-token", help="create an admin token when none exists and print it")
    ] = False,
    engine: Annotated[bool, typer.Option("--engine/--no-engine", help="run the engine loop")] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="COMMANDPOST_WORKERS",
            help="server processes sharing the port, one per core (PostgreSQL only)",
        ),
    ] = 1,
) -> None:
    """Apply OPS (if given), upgrade the schema, and serve the API, web pages and engine."""
    from commandpost.prefork import check_workers
    from commandpost.serve import run_server

    settings = _settings(database_url).model_copy(
        update={"host": host, "port": port, "engine_enabled": engine, "ops_dir": ops}
    )
    problem = check_workers(workers, settings.database_url)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--workers")
    run_server(settings, first_run_token=first_run_token, workers=workers)


def _register_domains(target: typer.Typer = app) -> None:
    """Import every domain's CLI now and register it on ``target`` (a pre-forking parent, the index test)."""
    for module in DOMAINS:
        importlib.import_module(module).register(target)


def main() -> None:
    """Run the CLI; an error from the error tree becomes a red line and its exit code, no traceback."""
    from pydantic import ValidationError

    from commandpost import wiring
    from commandpost.errors import CommandpostError

    try:
        settings = _settings()
    except ValidationError as exc:  # a COMMANDPOST_* variable the settings cannot take
        for line in settings_problems(exc):
            err_console.print(f"[bold red]error:[/] {markup(line)}", highlight=False)
        sys.exit(2)
    try:
        wiring.wire(settings)
        app()  # standalone: Typer prints usage errors and exits with the command's code
    except CommandpostError as exc:
        err_console.print(f"[bold red]error:[/] {markup(exc.message)}", highlight=False)
        if isinstance(exc.details, list):
            for line in exc.details:
                err_console.print(f"  {markup(line)}", highlight=False)
        sys.exit(exc.exit_code)


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per refused setting, naming its environment variable and why, never its value
    (a database URL or a token may be the one that is wrong)."""
    return [
        f"COMMANDPOST_{str(error['loc'][0]).upper() if error['loc'] else '?'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
