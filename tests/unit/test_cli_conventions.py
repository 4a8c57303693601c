"""A CLI like gh (issue 20, item 8): conventions every command keeps, checked over the whole command tree.

- one meaning per short flag: ``-f`` was ``--follow`` on ``timeline`` and ``--format`` on
  ``postmortem show``; a letter now means one long option everywhere it appears;
- every listing (a command that prints through :func:`commandpost.console.print_table`) has ``--json``;
- a listing in a pipe is tab-separated, untruncated and without colour;
- the exit-codes table in docs/cli.md is the one ``errors.py`` assigns.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from commandpost import console, errors
from commandpost.cli import app
from commandpost.cli_root import COMMANDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands() -> Iterator[tuple[str, Any]]:
    """Every command of the tree (groups' own callbacks included), each module loaded as to run it."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)

    def walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        yield path, command
        if hasattr(command, "commands"):
            names = sorted(COMMANDS) if not path else sorted(command.commands)
            for name in names:
                yield from walk(command.get_command(ctx, name), f"{path} {name}".strip())

    yield from walk(root, "")


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if getattr(p, "param_type_name", "") == "option"]


def test_the_walk_sees_the_whole_tree():
    paths = {path for path, _ in _commands()}
    assert {"timeline", "postmortem show", "user list", "oncall swap list", "db upgrade"} <= paths
    assert len(paths) > 100


def test_each_short_flag_means_one_long_option_everywhere():
    meanings: dict[str, dict[str, list[str]]] = {}
    for path, command in _commands():
        for option in _options(command):
            names = [*option.opts, *option.secondary_opts]
            longs = sorted(n for n in names if n.startswith("--"))
            for short in (n for n in names if re.fullmatch(r"-[^-]", n)):
                meanings.setdefault(short, {}).setdefault("/".join(longs), []).append(path)
    clashes = {short: means for short, means in meanings.items() if len(means) > 1}
    assert clashes == {}, f"short flags with two meanings: {clashes}"
    assert meanings["-f"] == {"--follow": ["timeline"]}  # and postmortem show --format has no -f


def _prints_a_listing(command: Any) -> bool:
    callback = getattr(command, "callback", None)
    return callback is not None and "print_table(" in inspect.getsource(inspect.unwrap(callback))


def test_every_listing_has_json():
    listings = {path: command for path, command in _commands() if _prints_a_listing(command)}
    assert {"incidents", "alerts", "user list", "token list", "oncall swap list", "runbook list"} <= set(
        listings
    )
    without = [
        path
        for path, command in listings.items()
        if "--json" not in {n for o in _options(command) for n in o.opts}
    ]
    assert without == []


def test_every_listings_json_is_run_and_parsed_by_the_json_test():
    """tests/api/test_cli_terminal_output.py runs each listing's --json against a real server and parses
    it; a listing missing there is caught here. page-test is left out: its --json pages a person."""
    from tests.api import test_cli_terminal_output as json_test

    source = inspect.getsource(json_test.test_every_json_listing_prints_times_as_iso_8601_utc_with_z)
    local = re.findall(r'\("([a-z-]+(?:", "[a-z-]+)*)", "--json"', source)  # ("token", "list", "--json", …)
    run = [" ".join(args) for args in json_test.JSON_LISTINGS] + [
        words.replace('", "', " ") for words in local
    ]
    listings = sorted(path for path, command in _commands() if _prints_a_listing(command))
    missing = [path for path in listings if not any(line.startswith(path) for line in run)]
    assert missing == ["page-test"]


def test_no_table_is_printed_around_the_listing_helper():
    """Every table a command prints goes through print_table: a bare console.print(table) would be cut at 80
    columns in a pipe again."""
    src = Path(console.__file__).parent
    bare = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("cli.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(
            r"console\.print\((table|_table|people|rotations|acked|toil_table|runbook_table)\b", line
        )
    ]
    assert bare == []


def test_a_piped_listing_is_tab_separated_plain_and_whole(capsys):
    long = "an-integration-name-" * 12  # 240 characters: a Rich table in a pipe cut this at 80 columns
    table = Table("name", "sev", "note", title="a title")
    table.add_row(console.text(long), console.sev("SEV1"), "two\tcells?\nno: [bold]one[/]")
    table.add_row(None, console.text("\x1b]52;c;eA==\x07"), "")
    console.print_table(table, empty="nothing")
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"{long}\tSEV1\ttwo cells? no: one", "\t\\x1b]52;c;eA==\\x07\t"]
    assert "\x1b" not in out.out and out.err == ""


def test_an_empty_piped_listing_says_so_on_stderr_only(capsys):
    console.print_table(Table("name"), empty="no runbooks")
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "no runbooks\n")


def test_progress_draws_nothing_when_stderr_is_not_a_terminal(capsys):
    with console.progress("seeding", total=3) as advance:
        for _ in range(3):
            advance(1)
    with console.progress("export", total=None) as bar:
        bar.at("incident", 3, 10)  # as backup's tables report rows done of all
    assert capsys.readouterr() == ("", "")


def test_the_exit_codes_table_in_the_docs_is_the_one_errors_py_assigns():
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \|$", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    documented = {(int(code), name.strip("` ")) for code, names, _ in rows for name in names.split(", ")}
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.CommandpostError)
    ]
    expected = {(c.exit_code, c.__name__) for c in classes if c is not errors.CommandpostError}
    assert documented - {(0, "success"), (1, "CommandpostError")} == expected
    assert {code for code, _ in documented} >= {0, 1, 2, 3, 4, 5, 6}


def test_progress_draws_on_stderr_when_it_is_a_terminal(monkeypatch, capsys):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich's way to say "this is a terminal"
    with console.progress("seeding incidents", total=2) as advance:
        advance(1)
        advance(1)
    out = capsys.readouterr()
    # a live display ran on stderr (cursor hidden, then shown; transient: the bar is gone at the end)
    assert out.out == "" and out.err.startswith("\x1b[?25l") and "\x1b[?25h" in out.err


def test_a_setting_the_environment_gets_wrong_is_one_red_line_without_its_value() -> None:
    """A COMMANDPOST_* variable the settings cannot take stops the CLI with exit 2 and a line naming
    the variable and why — no traceback, and not the value (it may be a token pasted in the wrong place)."""
    from tests.cli_support import run_cli

    done = run_cli(
        ["check", "examples/ops"],
        env={
            "COMMANDPOST_SQLITE_BUSY_TIMEOUT_MS": "cp_pasted_token_a1b2c3d4e5f6",
            "COMMANDPOST_WORKERS": "two",
        },
    )
    assert done.returncode == 2, done
    assert "COMMANDPOST_SQLITE_BUSY_TIMEOUT_MS: Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.stderr and "cp_pasted_token" not in done.stderr + done.stdout
