"""The root of the ``commandpost`` command: its index of commands, its help page, its entry point.

``commandpost --help`` (or no arguments) is what a tired person types first, so it is answered from
here with Rich alone: no Typer, Click or domain import (``bench/startup.py`` times it); so is
``--version``. A shell asking for completions also calls with no arguments: that goes to Typer, as
does anything else, through :mod:`commandpost.cli`, whose lazy root group lists the same index and
imports only the module that owns the command being run. ``tests/unit/test_cli_index.py`` keeps the
index equal to what the modules register and this page equal to the one Typer draws.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

COMPLETE_VAR = "_COMMANDPOST_COMPLETE"  # Click's name for it: _{PROG}_COMPLETE
ROOT_HELP = "Incident response the SRE way: declare, page, run the runbook, learn."
USAGE = "Usage: commandpost [OPTIONS] COMMAND [ARGS]..."
# The root's options as Typer adds them: (option, type shown, help).
ROOT_OPTIONS = (
    ("--version", "<bool>", "Show the version and exit."),
    ("--install-completion", "<bool>", "Install completion for the current shell."),
    (
        "--show-completion",
        "<bool>",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("--help", "<bool>", "Show this message and exit."),
)

# Every top-level command in the order `--help` lists it (Typer's: plain commands, then groups):
# name → (the module whose ``register`` adds it, the first paragraph of its help).
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "commandpost.cli",
        "Apply OPS (if given), upgrade the schema, and serve the API, web pages and engine.",
    ),
    "check": (
        "commandpost.policy.cli",
        "Validate an ops folder: every error as path:line: message; "
        "exit 1 on errors (warnings too: --strict).",
    ),
    "apply": (
        "commandpost.policy.cli",
        "Validate an ops folder and store it as the new revision the server runs on (no-op if unchanged).",
    ),
    "init": (
        "commandpost.policy.cli",
        "Write a complete, valid example ops folder: the guide's payment platform.",
    ),
    "declare": (
        "commandpost.incidents.cli",
        'Declare an incident now ("when in doubt, declare"): number, command post, IC and next steps.',
    ),
    "incidents": ("commandpost.incidents.cli", "Incidents, newest first."),
    "status": (
        "commandpost.incidents.cli",
        "Move the incident along investigating → identified → mitigated → resolved → closed.",
    ),
    "sev": (
        "commandpost.incidents.cli",
        "Change severity; the new severity's rules (comms cadence, paging) apply at once.",
    ),
    "note": ("commandpost.incidents.cli", "Add a note to the live document."),
    "decide": ("commandpost.incidents.cli", "Record a decision."),
    "timeline": (
        "commandpost.incidents.cli",
        "The live document; --follow keeps polling the cursor until the incident is closed (or Ctrl-C).",
    ),
    "comms": (
        "commandpost.incidents.cli",
        "Post a comms update; the next one is due after the severity's cadence.",
    ),
    "alerts": (
        "commandpost.alerts.cli",
        "Alerts, newest first: status, SEV, how many times it fired, its incident and runbook.",
    ),
    "ack": (
        "commandpost.paging.cli",
        "Acknowledge: escalation stops; with no IC named yet, you become IC.",
    ),
    "escalate": (
        "commandpost.paging.cli",
        'Page the next level now ("when in doubt, escalate"), acknowledged or not.',
    ),
    "pages": (
        "commandpost.paging.cli",
        "Who was paged when, on which channel, and whether it was delivered.",
    ),
    "page-test": (
        "commandpost.paging.cli",
        "Send a test page through each of a person's methods; report which were delivered and acknowledged.",
    ),
    "step": (
        "commandpost.runbooks.cli",
        "Mark a runbook step in an incident (Mitigate steps: the Ops holder only).",
    ),
    "demo": (
        "commandpost.web.cli",
        "A throw-away server with a seeded history; then the payment-webhook scenario plays live.",
    ),
    "postmortems": (
        "commandpost.postmortems.cli",
        "Postmortems, newest first; --final --since 30d lists the month's finals for a read-out.",
    ),
    "actions": ("commandpost.postmortems.cli", "Every action item by due day: track them to done."),
    "star": (
        "commandpost.postmortems.praise_cli",
        "Star a Final postmortem (praise, guide §5); --remove takes the star back.",
    ),
    "stars": (
        "commandpost.postmortems.praise_cli",
        "Postmortems of the month: the Final postmortems starred most this month, most first.",
    ),
    "backup": (
        "commandpost.backup.cli",
        "Back up the database while it serves: SQLite's online backup, or a consistent PostgreSQL snapshot.",
    ),
    "restore": (
        "commandpost.backup.cli",
        "Restore a backup (or an export) into an empty database; a database holding data is refused.",
    ),
    "export": (
        "commandpost.backup.cli",
        "Everything as one JSON document: incidents, timelines, alerts, postmortems, users, audit log…",
    ),
    "import": (
        "commandpost.backup.cli",
        "Import an export into an empty database (a database holding data is refused).",
    ),
    "db": ("commandpost.cli", "Database schema."),
    "token": ("commandpost.cli", "API tokens (local admin: talks to the database directly)."),
    "integrations": (
        "commandpost.policy.cli",
        "Integration keys (generated by apply; local admin: talks to the database directly).",
    ),
    "ops": ("commandpost.policy.cli", "Ops files: their JSON Schemas, for an editor's YAML support."),
    "incident": (
        "commandpost.incidents.cli",
        "One incident: show, update, ack, export, publish (the status page).",
    ),
    "role": (
        "commandpost.incidents.cli",
        "Roles and explicit handover: offer, accept, decline, withdraw, assign, list.",
    ),
    "maintenance": (
        "commandpost.incidents.cli",
        "Scheduled maintenance on the status page: add, list, cancel.",
    ),
    "oncall": (
        "commandpost.oncall.cli",
        "Who is on call now (or --at): schedule, layer, person, until when.",
    ),
    "override": ("commandpost.oncall.cli", "Overrides: someone covers a schedule layer for a while."),
    "feed": ("commandpost.oncall.cli", "iCal feeds of a schedule's or a person's shifts."),
    "notifications": (
        "commandpost.notify.cli",
        "Outgoing notifications: the delivery log, dead letters, retry.",
    ),
    "runbook": (
        "commandpost.runbooks.cli",
        "Runbooks (guide §3): lint, new, list, show, coverage, toil, checklists in incidents.",
    ),
    "user": ("commandpost.web.cli", "Web users: people of people.yaml with a password and a role."),
    "postmortem": (
        "commandpost.postmortems.cli",
        "A postmortem: show, start, edit-section, submit, approve, reopen, export.",
    ),
    "action": (
        "commandpost.postmortems.cli",
        "Postmortem action items: add, done, update, list. "
        '(`commandpost action INC-7 "text"` records a change on the live timeline.)',
    ),
    "metrics": ("commandpost.metrics.cli", "Metrics that decide where to invest (guide §6-1, §7)."),
    "slo": ("commandpost.metrics.cli", "SLOs: error budgets, burn rates, freeze, response targets."),
    "drill": (
        "commandpost.drills.cli",
        "Wheel of Misfortune (guide §5): replay a past incident as a drill, then score it.",
    ),
    "slack": (
        "commandpost.slack.cli",
        "Slack as the command post (docs/slack.md): the app manifest, the incidents' channels.",
    ),
}

# The domain modules in registration order. A later module may replace a name an earlier one
# registered: postmortems comes after incidents because its `action` group wraps the timeline verb.
DOMAINS = (
    "commandpost.policy.cli",
    "commandpost.incidents.cli",
    "commandpost.alerts.cli",
    "commandpost.oncall.cli",
    "commandpost.paging.cli",
    "commandpost.notify.cli",
    "commandpost.runbooks.cli",
    "commandpost.web.cli",
    "commandpost.postmortems.cli",
    "commandpost.postmortems.praise_cli",
    "commandpost.metrics.cli",
    "commandpost.drills.cli",
    "commandpost.slack.cli",
    "commandpost.backup.cli",
)


def main() -> None:
    """The console script: the root help page and the version at once, anything else through Typer."""
    try:
        if os.environ.get(COMPLETE_VAR):
            _complete()
        args = sys.argv[1:]
        if args == ["--version"]:
            print_version()
            sys.exit(0)
        if args in ([], ["--help"]):
            print_root_help()
            sys.stdout.write("\n")  # Click echoes the (empty) formatted help after Typer's page
            sys.exit(0 if args else 2)  # no arguments is a usage error, as Typer's ``no_args_is_help`` says
        from commandpost.cli import main as run

        run()
    finally:
        _flush_stdout()


def _complete() -> NoReturn:
    """Answer a shell's completion request (``_COMMANDPOST_COMPLETE`` set, no arguments) through Typer.

    Answered with the root help page, each of its lines would be offered as a completion. Click's
    documented order (``bash_source``, ``zsh_complete``) is taken as Typer's (``source_bash``,
    ``complete_zsh``): Typer refuses it, so a line copied from Click's guide would print nothing.
    """
    shell, _, instruction = os.environ[COMPLETE_VAR].partition("_")
    if shell in ("bash", "zsh", "fish") and instruction in ("source", "complete"):
        os.environ[COMPLETE_VAR] = f"{instruction}_{shell}"
    if os.environ[COMPLETE_VAR] == "complete_bash":  # Typer would raise a traceback at a bad one
        words, index = os.environ.get("COMP_WORDS"), os.environ.get("COMP_CWORD", "")
        if words is None or not index.removeprefix("-").isdecimal():
            sys.stderr.write("commandpost: bash completion needs COMP_WORDS and a numeric COMP_CWORD\n")
            sys.exit(1)
    from commandpost.cli import main as run

    run()  # Typer answers and exits
    sys.exit(0)


def print_version() -> None:
    """``commandpost --version``: the installed distribution's version (pyproject.toml's)."""
    from commandpost import __version__

    print(f"commandpost {__version__}")


def _flush_stdout() -> None:
    """Flush what is still buffered for stdout; a reader that has gone (``| head -1``) ends us quietly.

    Left to the interpreter's last flush, a closed pipe prints ``Exception ignored … BrokenPipeError``
    and exits 120. Here it exits 1, as Click and Rich do for a pipe closed while they write, with
    stdout pointed at /dev/null so nothing is flushed into the closed pipe again.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def print_root_help() -> None:
    """Typer's ``rich_format_help`` for the root: usage, help, Options and Commands panels."""
    from rich.align import Align
    from rich.columns import Columns
    from rich.console import Console, Group
    from rich.highlighter import RegexHighlighter
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
    from rich.theme import Theme

    class Options(RegexHighlighter):
        highlights = [
            r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
            r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
            r"(?P<types>\<[^\>]+\>)",
            r"(?P<usage>Usage: )",
        ]

    class Types(RegexHighlighter):
        highlights = [r"^(?P<types_sep>(\[|<))", r"(?P<types_sep>\|)", r"(?P<types_sep>(\]|>))(\.\.\.)?$"]

    options, types = Options(), Types()
    force = bool(os.getenv("GITHUB_ACTIONS") or os.getenv("FORCE_COLOR") or os.getenv("PY_COLORS")) or None
    width = os.getenv("TERMINAL_WIDTH")
    console = Console(
        theme=Theme(
            {
                "option": "bold cyan",
                "switch": "bold green",
                "negative_option": "bold magenta",
                "negative_switch": "bold red",
                "types": "bold yellow",
                "types_sep": "dim",
                "usage": "yellow",
            }
        ),
        highlighter=options,
        color_system="auto",
        force_terminal=False if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL") else force,
        width=int(width) if width else None,
    )

    def panel(table: Table, title: str) -> Panel:
        return Panel(table, border_style="dim", title=title, title_align="left")

    def table(*, highlight: bool) -> Table:
        return Table(
            highlight=highlight, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1)
        )

    console.print(Padding(options(Text(USAGE)), 1), style="bold")
    console.print(Padding(Align(Group(options(Text(ROOT_HELP))), pad=False), (0, 1, 1, 1)))
    rows = table(highlight=True)
    for name, kind, text in ROOT_OPTIONS:
        shown = Text(kind, style="bold yellow", overflow="fold")
        blank = Text("")  # short form, negative long and short forms: none on the root's options
        rows.add_row(options(name), blank, blank, blank, types(shown), Columns([options(Text(text))]))
    console.print(panel(rows, "Options"))
    rows = table(highlight=False)
    rows.add_column(style="bold cyan", no_wrap=True, width=max(len(name) for name in COMMANDS))
    rows.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, (_module, text) in COMMANDS.items():
        rows.add_row(Text(name), options(Text.from_markup(text)))
    console.print(panel(rows, "Commands"))
