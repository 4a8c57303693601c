"""``commandpost slack manifest``: the Slack app manifest to paste at api.slack.com/apps.

Local admin, like ``integrations list``: the public URL is the one ``serve`` recorded in the database
(else ``COMMANDPOST_PUBLIC_URL``), the org's name and slash command come from the applied ops
revision; ``--url`` and ``--ops DIR`` replace them, and with both no database is opened. The document
alone goes to stdout, plain JSON or YAML whatever the terminal; notes and warnings go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from commandpost.cli import DatabaseUrl, _sessions, _settings
from commandpost.console import console, err_console, markup, print_json, print_table, text
from commandpost.errors import PolicyInvalid, Unavailable, ValidationFailed

if TYPE_CHECKING:
    from commandpost.policy.opsfiles import OrgSettings

slack_app = typer.Typer(
    help="Slack as the command post (docs/slack.md): the app manifest, the incidents' channels.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Attach this domain's commands to the root CLI."""
    app.add_typer(slack_app, name="slack")


@slack_app.command("manifest")
def manifest(
    as_yaml: Annotated[bool, typer.Option("--yaml", help="print YAML")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (the default)")] = False,
    url: Annotated[
        str | None, typer.Option("--url", help="the public URL Slack calls (default: the server's)")
    ] = None,
    ops: Annotated[
        Path | None, typer.Option("--ops", help="read org and slash command from this ops folder offline")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the Slack app manifest: request URLs from the public URL, scopes, events, slash command."""
    import yaml

    from commandpost.policy.opsfiles import SlackSettings
    from commandpost.slack import manifest as slack_manifest

    if as_yaml and as_json:
        raise ValidationFailed("--json and --yaml: choose one")
    base, org = _sources(url, ops, database_url)
    slack = org.slack if org else SlackSettings()
    document = slack_manifest.build(base, org=org.org if org else "", command=slack.command)
    warning = slack_manifest.tls_warning(base)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {markup(warning)}", highlight=False)
    if as_yaml:
        typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=4096), nl=False)
    else:
        print_json(document)
    err_console.print(
        "next: api.slack.com/apps → Create New App → From a manifest; then docs/slack.md, step 2",
        highlight=False,
    )


@slack_app.command("channels")
def channels(
    failed: Annotated[bool, typer.Option("--failed", help="only channels Slack refused for good")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Each incident's channel: its state, the step it is at, and why the last try failed."""
    from rich.table import Table

    from commandpost.slack import service

    with _sessions(database_url)() as session:
        rows = service.list_channels(session, failed=failed)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no channels" + (" failed" if failed else " yet (is COMMANDPOST_SLACK_BOT_TOKEN set?)"))
        return
    table = Table("incident", "channel", "id", "state", "step", "tries", "last error")
    for row in rows:
        table.add_row(
            text(row["incident"]),
            text("#" + row["name"]),
            text(row["channel_id"] or "—"),
            text(row["state"], "bold red" if row["state"] == "failed" else ""),
            text(row["step"]),
            str(row["attempts"]),
            text(row["last_error"] or ""),
        )
    print_table(table)


@slack_app.command("retry")
def retry(
    incident: Annotated[str, typer.Argument(help="the incident whose channel failed, e.g. INC-7")],
    database_url: DatabaseUrl = None,
) -> None:
    """Try a failed channel again from the step it failed at (after fixing what Slack said)."""
    from commandpost.clock import SystemClock
    from commandpost.db.engine import transaction
    from commandpost.incidents.rules import parse_number
    from commandpost.slack import service

    with transaction(_sessions(database_url)) as session:
        out = service.retry_channel(session, number=parse_number(incident), now=SystemClock().now())
    console.print(
        f"{markup(out['incident'])}: the channel is tried again from step {markup(out['step'])} "
        "at the engine's next pass"
    )


def _sources(url: str | None, ops: Path | None, database_url: str | None) -> tuple[str, OrgSettings | None]:
    """The public URL and the org settings: from the options, else from the database."""
    org = _offline(ops) if ops is not None else None
    if url is not None and ops is not None:
        return url, org
    from commandpost import public_url
    from commandpost.policy import service as policy_service

    with _sessions(database_url)() as session:
        base = url if url is not None else public_url.base_url(session, _settings(database_url))
        if ops is None:
            try:
                org = policy_service.current_config(session).settings
            except Unavailable:
                err_console.print(
                    "note: no ops revision is applied yet: the default slash command is used "
                    "(run 'commandpost apply OPS', or pass --ops OPS)",
                    highlight=False,
                )
    return base, org


def _offline(ops: Path) -> OrgSettings:
    from commandpost.policy.loader import load_ops

    loaded = load_ops(ops)
    if loaded.errors or loaded.config is None:
        raise PolicyInvalid(
            f"{ops}: {len(loaded.errors)} error(s); run 'commandpost check {ops}'",
            details=[str(f) for f in loaded.errors],
        )
    return loaded.config.settings
