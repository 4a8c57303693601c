"""``commandpost user …`` (local admin, on the database directly like ``token``) and ``commandpost demo``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from commandpost.console import err_console, markup

user_app = typer.Typer(
    help="Web users: people of people.yaml with a password and a role.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="COMMANDPOST_DATABASE_URL", help="sqlite:///file.db or postgresql://…"
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("password", hide_input=True)
    second = typer.prompt("again", hide_input=True)
    if first != second:
        err_console.print("[bold red]error:[/] the two passwords differ; nothing was changed")
        raise typer.Exit(2)
    return str(first)


@user_app.command("set-password")
def set_password(
    handle: Annotated[str, typer.Argument(help="a handle from people.yaml")],
    role: Annotated[
        str | None, typer.Option("--role", help="admin | responder | read (new users: responder)")
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="read the password from one line of stdin")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a web user or change their password (and role); their browser sessions end."""
    from commandpost.cli import _sessions
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.policy import service as policy_service
    from commandpost.security import users

    password = _password(stdin)
    with transaction(_sessions(database_url)) as session:
        user, created = users.set_password(
            session,
            config=policy_service.current_config(session),
            handle=handle,
            password=password,
            role=role,
            now=SystemClock().now(),
        )
        what = "created" if created else "password changed"
        err_console.print(f"[green]user @{markup(user.handle)} {what}[/] (role {markup(user.role)})")


@user_app.command("role")
def set_role(
    handle: str,
    role: Annotated[str, typer.Argument(help="admin | responder | read")],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a user's role (what their browser may do, like a token's scope)."""
    from commandpost.cli import _sessions
    from commandpost.db.engine import transaction
    from commandpost.security import users

    with transaction(_sessions(database_url)) as session:
        user = users.set_role(session, handle=handle, role=role)
        err_console.print(f"[green]@{markup(user.handle)} is now {markup(user.role)}[/]")


@user_app.command("list")
def list_users(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Users: handle, role, state (active, or disabled since when), last login. Never a password hash."""
    from rich.table import Table

    from commandpost.cli import _sessions
    from commandpost.console import print_json, print_table, text
    from commandpost.security import users

    with _sessions(database_url)() as session:
        rows = users.list_users(session)
    if as_json:
        print_json(
            [
                {
                    "handle": u.handle,
                    "role": u.role,
                    "disabled_at": u.disabled_at,
                    "created_at": u.created_at,
                    "last_login_at": u.last_login_at,
                }
                for u in rows
            ]
        )
        return
    table = Table("handle", "role", "state", "created", "last login")
    for u in rows:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        table.add_row(
            text("@" + u.handle),
            text(u.role),
            state,
            f"{u.created_at:%Y-%m-%d}",
            str(u.last_login_at or "never"),
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    from commandpost.demo.command import demo_command

    app.add_typer(user_app, name="user")
    app.command("demo")(demo_command)
