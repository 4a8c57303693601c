"""``commandpost runbook …`` and ``commandpost step``.

Local verbs work on files, no server needed: ``lint`` (CI-friendly: ``--format github``) and
``new``. ``list``, ``show`` and ``coverage`` ask the server (the applied revision, with the
incident history) unless ``--ops DIR`` names a folder to read from disk instead. ``toil``,
``attach``, ``checklist`` and ``step`` need the incident history, so they always use the server.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from commandpost.client import Client
from commandpost.clock import Clock, SystemClock
from commandpost.console import console, err_console, inert, markup, print_json, print_table
from commandpost.errors import Conflict, NotFound, Unavailable, ValidationFailed

runbook_app = typer.Typer(
    help="Runbooks (guide §3): lint, new, list, show, coverage, toil, checklists in incidents.",
    no_args_is_help=True,
)
_clock: Clock = SystemClock()  # tests replace it to freeze "today"

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
OpsOption = Annotated[
    Path | None,
    typer.Option("--ops", help="read this ops folder from disk instead of asking the server", exists=True),
]
Number = Annotated[str, typer.Argument(help="incident number: INC-7 or 7")]


def _client() -> Client:
    return Client.from_settings()


def register(app: typer.Typer) -> None:
    """Attach ``runbook`` and ``step`` to the root CLI."""
    app.add_typer(runbook_app, name="runbook")
    app.command("step")(step)


# ---------------------------------------------------------------- local verbs


@runbook_app.command("lint")
def lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="runbook files, runbooks/ folders or ops folders [default: ops]"),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="stale runbooks (RB014) are errors")] = False,
    output: Annotated[
        str, typer.Option("--format", help="text | json | github (workflow annotations)")
    ] = "text",
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="also check RB015 (update requested) against this database"),
    ] = None,
) -> None:
    """Lint runbooks: every finding as path:line: RBxxx message; exit 1 on errors."""
    from commandpost.runbooks.lint import has_errors, lint_runbooks
    from commandpost.runbooks.render import github_annotations, lint_text

    if output not in ("text", "json", "github"):
        raise ValidationFailed(f"--format {output!r}: use text, json or github")
    targets = paths or [Path("ops")]
    for target in targets:
        if not target.exists():
            raise NotFound(f"{target}: no such file or folder")
    flagged = _flagged(database_url) if database_url else None
    now = _clock.now()
    findings = lint_runbooks(targets, today=_today(targets, now), strict=strict, flagged=flagged)
    if output == "json":
        print_json([f.to_dict() for f in findings])  # what lint_json writes, with control characters escaped
    elif printed := {"text": lint_text, "github": github_annotations}[output](findings):
        sys.stdout.write(inert(printed) + "\n")
    sys.stdout.flush()
    errors = sum(f.is_error for f in findings)
    if output == "text":
        colour = "red" if errors else "green"
        err_console.print(f"[{colour}]{errors} error(s), {len(findings) - errors} warning(s)[/]")
    if has_errors(findings):
        raise typer.Exit(1)


def _today(targets: list[Path], now: datetime) -> date:
    """Today in the timezone of the ops folder being linted (UTC outside one)."""
    from commandpost.runbooks import rules
    from commandpost.runbooks.context import LintContext, find_ops_root

    root = find_ops_root(targets[0])
    timezone = LintContext.from_folder(root).timezone if root else "UTC"
    return rules.local_today(now, timezone)


def _flagged(database_url: str) -> dict[str, str]:
    """RB015's requests from commandpost's database; a wrong URL is one error line, never a traceback.

    Read-only: a SQLite file that does not exist is refused (not created), nothing is migrated.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from commandpost.cli import _sessions
    from commandpost.db.engine import normalize_url
    from commandpost.runbooks import service

    try:
        url = make_url(normalize_url(database_url))
    except ArgumentError:
        raise ValidationFailed(f"--database-url {database_url!r} is not a database URL") from None
    file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if file and not Path(file).is_file():
        raise NotFound(f"--database-url: no SQLite database at {file}")
    try:
        with _sessions(database_url, upgrade=False)() as session:
            return service.runbooks_flagged_for_update(session, app=service.applied(session))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise Unavailable(
            f"--database-url {url.render_as_string(hide_password=True)}: cannot read the incident history "
            f"({reason}); is it commandpost's database, migrated and applied "
            "(commandpost db upgrade, commandpost apply)?"
        ) from None


@runbook_app.command("new")
def new(
    slug: Annotated[str, typer.Argument(help="the runbook's slug, e.g. webhook-backlog")],
    service_name: Annotated[str, typer.Option("--service", help="the service it belongs to")],
    alert: Annotated[str, typer.Option("--alert", help="the firing alert it answers")],
    severity: Annotated[str, typer.Option("--severity", help="expected severity, SEV1–SEV4")],
    directory: Annotated[Path, typer.Option("--dir", help="the runbooks folder")] = Path("ops/runbooks"),
    escalates_to: Annotated[str | None, typer.Option("--escalates-to", help="SEV it may escalate to")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write guide §3-1's skeleton with front matter filled (owner and SLO from the service, today's date)."""
    from commandpost.runbooks import rules, template
    from commandpost.runbooks.context import LintContext

    root = directory.parent
    if not (root / "commandpost.yaml").is_file():
        raise ValidationFailed(
            f"{directory} is not the runbooks/ folder of an ops folder (no {root}/commandpost.yaml)"
        )
    context = LintContext.from_folder(root)
    info = context.service(service_name)
    if info is None:
        known = ", ".join(sorted(context.services or {})) or "none that validate"
        raise ValidationFailed(f"unknown service '{service_name}' in {root}/services (services: {known})")
    today = rules.local_today(_clock.now(), context.timezone)
    text = template.render(
        slug, service=info, alert=alert, severity=severity, today=today, escalates_to=escalates_to
    )
    target = directory / f"{slug}.md"
    if target.exists() and not force:
        raise Conflict(f"{target} exists; use --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    console.print(f"[bold green]wrote {markup(target)}[/]", highlight=False)
    console.print(
        f"next: replace the TODOs and placeholder commands, point an alert rule of "
        f"services/{markup(service_name)}.yaml at it (runbook: {markup(slug)}), "
        f"then commandpost runbook lint {markup(target)}",
        highlight=False,
    )


# ---------------------------------------------------------------- server or folder


@runbook_app.command("list")
def list_runbooks(ops: OpsOption = None, as_json: AsJson = False) -> None:
    """Runbooks with owner, severity, age and lint counts."""
    from commandpost.runbooks.render import runbook_table

    if ops is not None:
        from commandpost.runbooks.folder import Folder

        rows = [r.model_dump(mode="json") for r in Folder(ops, _clock.now()).summaries()]
    else:
        with _client() as client:
            rows = client.get("/api/v1/runbooks")
    if as_json:
        print_json(rows)
        return
    print_table(runbook_table(rows), empty="no runbooks")


@runbook_app.command("show")
def show(slug: str, ops: OpsOption = None, as_json: AsJson = False) -> None:
    """One runbook for a terminal: sections, steps with commands, warnings beside their steps, lint."""
    from commandpost.runbooks.render import runbook_renderable

    if ops is not None:
        from commandpost.runbooks.folder import Folder

        data = Folder(ops, _clock.now()).detail(slug).model_dump(mode="json")
    else:
        with _client() as client:
            data = client.get(f"/api/v1/runbooks/{slug}")
    if as_json:
        print_json(data)
        return
    console.print(runbook_renderable(data))


@runbook_app.command("coverage")
def coverage_cmd(
    strict: Annotated[
        bool, typer.Option("--strict", help="exit 1 if a paging alert rule has no runbook")
    ] = False,
    days: Annotated[int, typer.Option("--days", help="history window for alerts that paged")] = 30,
    ops: OpsOption = None,
    as_json: AsJson = False,
) -> None:
    """Paging alerts without runbooks, runbooks no alert points to, stale and never-used runbooks."""
    from commandpost.runbooks.render import coverage_renderable

    if ops is not None:
        from commandpost.runbooks import coverage

        data = coverage.from_folder(ops, now=_clock.now(), days=days).to_dict()
    else:
        with _client() as client:
            data = client.get("/api/v1/runbooks/coverage", days=days)
    if as_json:
        print_json(data)
    else:
        console.print(coverage_renderable(data))
    if strict and not data["strict_ok"]:
        err_console.print("[bold red]--strict: a paging alert rule has no runbook (guide §4)[/]")
        raise typer.Exit(1)


# ---------------------------------------------------------------- server only


@runbook_app.command("toil")
def toil_cmd(
    min_incidents: Annotated[
        int, typer.Option("--min-incidents", help="done by hand in at least N incidents")
    ] = 3,
    as_json: AsJson = False,
) -> None:
    """Automation candidates (guide §6-3): steps with a command people keep running by hand."""
    from commandpost.runbooks.render import toil_table

    with _client() as client:
        rows = client.get("/api/v1/runbooks/toil", min_incidents=min_incidents)
    if as_json:
        print_json(rows)
        return
    print_table(
        toil_table(rows), empty=f"no step with a command was done by hand in {min_incidents}+ incidents"
    )


@runbook_app.command("attach")
def attach(number: Number, slug: str, as_json: AsJson = False) -> None:
    """Attach a runbook to an incident by hand (attaching again changes nothing)."""
    with _client() as client:
        rows = client.post(f"/api/v1/incidents/{number.strip()}/runbooks", {"slug": slug})
    _print_checklists(rows, number, as_json)


@runbook_app.command("checklist")
def checklist(number: Number, as_json: AsJson = False) -> None:
    """An incident's runbooks as checklists, Mitigate first, with who marked each step when."""
    with _client() as client:
        rows = client.get(f"/api/v1/incidents/{number.strip()}/runbooks")
    _print_checklists(rows, number, as_json)


def _print_checklists(rows: list[dict[str, Any]], number: str, as_json: bool) -> None:
    from commandpost.runbooks.render import checklist_renderable

    if as_json:
        print_json(rows)
        return
    console.print(checklist_renderable(rows, number))


def step(
    number: Number,
    slug: Annotated[str, typer.Argument(help="the runbook attached to the incident")],
    step_id: Annotated[str, typer.Argument(help="the step id (3.2-a1b2c3) or its short form (3.2)")],
    state: Annotated[str, typer.Argument(help="done | skipped | failed")],
    note: Annotated[str | None, typer.Option("--note", help="what you saw")] = None,
    as_json: AsJson = False,
) -> None:
    """Mark a runbook step in an incident (Mitigate steps: the Ops holder only)."""
    body: dict[str, Any] = {"state": state.strip().lower()}
    if note:
        body["note"] = note
    with _client() as client:
        out = client.post(f"/api/v1/incidents/{number.strip()}/runbooks/{slug}/steps/{step_id}", body)
    if as_json:
        print_json(out)
        return
    marked = out["step"]
    verb = marked["state"]["state"] if marked["state"] else state
    unchanged = " (unchanged)" if not out["changed"] else ""
    console.print(
        f"{markup(out['incident'])} {markup(out['slug'])} [bold]{markup(marked['id'])}[/] "
        f"{markup(verb)}{unchanged}: {markup(marked['text'])}",
        highlight=False,
    )
