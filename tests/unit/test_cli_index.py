"""The lazy root CLI against the eager one it replaced, so its static index can never drift.

``commandpost.cli_root.COMMANDS`` lists every top-level name with the module that registers it and
its one-line help, so ``commandpost --help`` needs neither Typer nor a domain import. These tests
rebuild the root the old way (every domain registered up front, in ``DOMAINS`` order) and require
the same names, order, owners, help text, help page and commands — and that listing really imports
no domain.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from commandpost import cli, cli_root
from commandpost.postmortems.cli import ActionGroup


def _eager() -> typer.Typer:
    """The root as it was: a plain Typer group with every domain registered before parsing."""
    root = typer.Typer(
        name="commandpost",
        help=cli.app.info.help,
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )
    root.registered_callback = cli.app.registered_callback  # the root's own options (--version)
    root.registered_commands = list(cli.app.registered_commands)
    root.registered_groups = list(cli.app.registered_groups)
    cli._register_domains(root)
    return root


def _first_paragraph(command: Any) -> str:
    return inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].strip()


def _shape(command: Any) -> Any:
    """What a command is, structurally: class, the function it runs, its parameters, its subcommands."""
    callback = getattr(command.callback, "__wrapped__", command.callback)
    return {
        "class": type(command).__name__,
        "runs": f"{callback.__module__}.{callback.__qualname__}" if callback else None,
        "params": [(p.name, p.opts, p.secondary_opts, p.required, p.hidden) for p in command.params],
        "help": command.help,
        "hidden": command.hidden,
        "commands": {n: _shape(c) for n, c in getattr(command, "commands", {}).items()},
    }


def test_index_names_order_owners_and_help_are_what_the_modules_register():
    owners: dict[str, str] = {}
    for module in cli_root.DOMAINS:
        scratch = typer.Typer()
        importlib.import_module(module).register(scratch)
        for name in typer.main.get_group(scratch).commands:
            owners[name] = module  # a later module replaces an earlier one's name, as on the root
    eager = typer.main.get_group(_eager()).commands
    registered = {
        name: (owners.get(name, "commandpost.cli"), _first_paragraph(command))
        for name, command in eager.items()
    }
    assert list(registered.items()) == list(cli_root.COMMANDS.items())
    # the wrapper, not the timeline verb:
    assert cli_root.COMMANDS["action"][0] == "commandpost.postmortems.cli"


def test_every_name_resolves_to_the_command_the_eager_root_had():
    lazy = typer.main.get_group(cli.app)
    eager = typer.main.get_group(_eager())
    for name in cli_root.COMMANDS:
        assert _shape(lazy.get_command(None, name)) == _shape(eager.get_command(None, name)), name  # type: ignore[arg-type]
    assert isinstance(lazy.get_command(None, "action"), ActionGroup)  # type: ignore[arg-type]


@pytest.mark.parametrize("columns", ["60", "120"])
@pytest.mark.parametrize("args", [["--help"], []])
def test_root_help_page_is_the_one_typer_draws(columns, args):
    runner = CliRunner(env={"COLUMNS": columns, "TERMINAL_WIDTH": None, "FORCE_COLOR": None})
    lazy = runner.invoke(cli.app, args)
    eager = runner.invoke(_eager(), args)
    assert (lazy.exit_code, lazy.output) == (eager.exit_code, eager.output)
    assert lazy.exit_code == (0 if args else 2)
    assert all(name in lazy.output for name in cli_root.COMMANDS)


_PROBE = """
import json, sys
sys.argv = ["commandpost", *json.loads(sys.argv[1])]
if sys.argv[1:2] == ["eager"]:  # Typer's own page: a plain Typer root with every domain registered
    import typer
    from commandpost import cli
    main = typer.Typer(
        name="commandpost", help=cli.app.info.help, no_args_is_help=True, rich_markup_mode="rich"
    )
    main.registered_callback = cli.app.registered_callback
    main.registered_commands = list(cli.app.registered_commands)
    main.registered_groups = list(cli.app.registered_groups)
    cli._register_domains(main)
    sys.argv.pop(1)
else:
    from commandpost.cli_root import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ("httpx", "pydantic_settings", "sqlalchemy", "typer", "click", "markdown_it", "pygments")
loaded = sorted(m for m in sys.modules if m.startswith("commandpost.") and m.endswith(".cli") or m in heavy)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Run the CLI in a fresh interpreter: its stdout, exit code and which modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_lists_everything_without_importing_typer_or_a_domain():
    out, seen = _probe("--help")
    assert seen == {"code": 0, "loaded": []}
    assert "--version" in out
    version, seen = _probe("--version")
    assert seen == {"code": 0, "loaded": []} and version.startswith("commandpost ")
    assert all(f" {name} " in out for name in cli_root.COMMANDS)
    no_args, seen = _probe()
    assert seen == {"code": 2, "loaded": []}
    assert no_args == out


def test_a_command_past_the_root_page_goes_through_typer():
    _out, seen = _probe("db", "--help")
    assert seen["code"] == 0 and {"commandpost.cli", "typer"} <= set(seen["loaded"])


def test_colours_match_typers_page_too():
    colour = {"FORCE_COLOR": "1"}
    assert _probe("--help", env=colour)[0] == _probe("eager", "--help", env=colour)[0]
    assert "\x1b[" in _probe("--help", env=colour)[0]


@pytest.mark.parametrize(
    ("args", "domains"),
    [
        (["incidents", "--help"], ["commandpost.incidents.cli"]),
        (["action", "--help"], ["commandpost.incidents.cli", "commandpost.postmortems.cli"]),
        (["slo", "--help"], ["commandpost.metrics.cli"]),
        (["db", "--help"], []),
    ],
)
def test_a_command_imports_only_the_module_that_owns_it(args, domains):
    _out, seen = _probe(*args)
    assert seen["code"] == 0
    assert [m for m in seen["loaded"] if m.endswith(".cli")] == sorted(["commandpost.cli", *domains])


def test_a_mistyped_command_still_gets_suggestions_from_every_name():
    runner = CliRunner(env={"COLUMNS": "120"})
    result = runner.invoke(cli.app, ["incidnets"])
    assert result.exit_code == 2
    assert "Did you mean 'incidents', 'incident', 'init'?" in result.output
