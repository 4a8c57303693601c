"""Every ``commandpost …`` command line the docs and templates tell a person to run parses (issue 14,
item 13): ``commandpost incident declare …`` in a runbook is "No such command 'declare'" at 3 a.m.

Command lines come from docs/*.md and README.md (inline code and sh/console/plain code blocks), the
page templates (``<code>``), the ops example in both places (examples/ops, the copy ``commandpost
init`` writes) and the runbook skeleton ``runbook new`` writes. Each is run in-process on the real
CLI (:mod:`commandpost.cli`, the lazy root) with ``--help`` appended: Click resolves every subcommand
of the path ("No such command"), parses every option ("No such option"), then shows the help of the
exact command and exits 0 before it would run anything. Placeholders stay as they are written:
``[--json]`` is read as ``--json``, ``note|action|decide`` as each of the three.
"""

from __future__ import annotations

import functools
import itertools
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from commandpost.cli import app
from commandpost.runbooks import template
from commandpost.runbooks.context import ServiceInfo

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "src" / "commandpost" / "web" / "templates"
OPS_EXAMPLES = (REPO / "examples" / "ops", REPO / "src" / "commandpost" / "policy" / "example")
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}  # ```text, ```json, ```python… are not commands

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w-]*)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_CODE = re.compile(r"<code>(.*?)</code>", re.S)
# "commandpost" as a word that starts a command (not commandpost.yaml, commandpost/app.py, pip install …)
START = re.compile(r"(?<![\w./@:-])(?<!install )commandpost(?=\s|$)")
# where a command line ends: a comment, a pipe or list operator, a column gap in a reference table
END = re.compile(r"\s#|\s\|\|?\s|\s&&\s|;|\s{2,}|\s—\s")
COMMAND_POSITION = re.compile(r"(^\s*|(\|\|?|&&|;|\$\(|\w:)\s*|^\s*(\w+=\S*\s+)+|\S\s{2,})$")
ALTERNATIVES = re.compile(r"^[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)+$")


@dataclass(frozen=True)
class Found:
    where: str  # path:line
    line: str  # the command line as written, from "commandpost"


def _commands_in(text: str) -> Iterator[str]:
    """Each command line in a line of code: "commandpost" where a shell would run it — first on the
    line, after a pipe, ``&&``, ``;``, ``$(`` or ``VAR=value``, in a column of a reference table, or
    after a label as in a page's "Ack: commandpost ack INC-7" — and not in a sentence of output such
    as "… where commandpost runs" or "but commandpost takes …"."""
    starts = [m.start() for m in START.finditer(text) if COMMAND_POSITION.search(text[: m.start()])]
    for start, stop in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True):
        rest = text[start:stop]
        end = END.search(rest)
        yield (rest[: end.start()] if end else rest).strip()


def _markdown(label: str, text: str) -> Iterator[Found]:
    """Inline code and ``<code>`` outside code blocks; the lines of sh/console/plain code blocks."""
    fence: str | None = None  # the opening fence (a closing one is at least as long, no info string)
    language = ""
    block: list[tuple[int, str]] = []
    for no, line in enumerate(text.splitlines(), 1):
        marker = FENCE.match(line)
        if marker and fence is None:
            fence, language, block = marker.group(1), marker.group(2).lower(), []
            continue
        if fence is not None and re.fullmatch(rf"\s{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*", line):
            if language in SHELL_FENCES:
                yield from _shell_block(label, block)
            fence = None
            continue
        if fence is not None:
            block.append((no, line))
            continue
        yield from _inline(f"{label}:{no}", line)


def _inline(where: str, line: str) -> Iterator[Found]:
    for pattern, group in ((CODE_SPAN, 2), (HTML_CODE, 1)):
        for match in pattern.finditer(line):
            for command in _commands_in(match.group(group)):
                yield Found(where, command)


def _shell_block(label: str, block: list[tuple[int, str]]) -> Iterator[Found]:
    """Lines of a code block, continuations joined; in a console block (``$ `` prompts) only the
    prompted lines are commands, the rest is their output."""
    prompted = any(line.lstrip().startswith("$ ") for _no, line in block)
    joined: list[tuple[int, str]] = []
    carry: tuple[int, str] | None = None
    for no, line in block:
        if carry is not None:
            no, line = carry[0], carry[1] + " " + line.strip()
            carry = None
        if line.rstrip().endswith("\\"):
            carry = (no, line.rstrip()[:-1])
            continue
        joined.append((no, line))
    for no, line in joined:
        if prompted:
            if not line.lstrip().startswith("$ "):
                continue
            line = line.lstrip()[2:]
        for command in _commands_in(line):
            yield Found(f"{label}:{no}", command)


def _file(path: Path) -> Iterator[Found]:
    label, text = str(path.relative_to(REPO)), path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        yield from _markdown(label, text)
        return
    for no, line in enumerate(text.splitlines(), 1):  # page templates, YAML comments
        yield from _inline(f"{label}:{no}", line)


def skeleton() -> str:
    """What ``commandpost runbook new`` writes for the example's payment platform."""
    return template.render(
        "webhook-backlog",
        service=ServiceInfo(name="payment-platform", owner="team-payments", slos=("availability",)),
        alert="WebhookBacklogHigh",
        severity="SEV2",
        escalates_to="SEV1",
        today=date(2026, 6, 24),
    )


def every_command() -> list[Found]:
    paths = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
    for folder in (TEMPLATES, *OPS_EXAMPLES):
        paths += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    found = [f for path in paths for f in _file(path)]
    return found + list(_markdown("runbook new skeleton", skeleton()))


def argv(line: str) -> list[list[str]]:
    """The arguments after ``commandpost``, as Click should see them (one list per alternative)."""
    try:
        words = shlex.split(line)
    except ValueError:  # an unbalanced quote in an illustration: words as written
        words = line.split()
    assert words[0] == "commandpost", line
    words = [w.strip("[]") for w in words[1:]]
    words = [w for w in words if w]
    if words and _needs_value(words):  # prose such as "`commandpost oncall --at` a past instant"
        words.append("VALUE")  # so the --help appended is not read as that option's value
    choices = [w.split("|") if ALTERNATIVES.match(w) else [w] for w in words]
    return [list(c) for c in itertools.product(*choices)]


@functools.cache
def _root() -> Any:
    return typer.main.get_command(app)


def _needs_value(words: list[str]) -> bool:
    """Whether the last word is an option, of the command the words lead to, that takes a value."""
    command = _root()
    for word in words:
        if hasattr(command, "commands"):  # a group: the lazy root imports the module owning the word
            command = command.get_command(None, word) or command
    option = next((p for p in command.params if words[-1] in p.opts), None)
    return (
        option is not None and not getattr(option, "is_flag", False) and not getattr(option, "count", False)
    )


COMMANDS = every_command()
runner = CliRunner()


def test_the_extractor_finds_the_command_lines():
    """Sanity: the extractor sees each kind of source (a silent extractor would pass everything)."""
    where = {f.where.split(":")[0] for f in COMMANDS}
    assert len(COMMANDS) > 150
    assert {"README.md", "docs/incidents.md", "docs/web.md", "runbook new skeleton"} <= where
    assert any(w.startswith("src/commandpost/web/templates/") for w in where)
    assert any(w.startswith("examples/ops/runbooks/") for w in where)
    assert any(w.startswith("src/commandpost/policy/example/runbooks/") for w in where)
    lines = {f.line for f in COMMANDS}
    assert "commandpost token create … | tail -n1" not in lines and "commandpost token create …" in lines
    assert not any(line.startswith("commandpost serving") for line in lines)  # output, not a command
    assert 'echo "$PASSWORD" | commandpost user set-password ken --stdin' not in lines
    assert "commandpost user set-password ken --stdin" in lines  # after a pipe
    assert "commandpost incidents" in lines  # after COMMANDPOST_TOKEN=… in a console block
    assert "commandpost incident update N [--impact …] [--data-loss] …" in lines  # a second column
    assert list(_commands_in("Ack: commandpost ack INC-7 — or open https://x")) == ["commandpost ack INC-7"]
    assert list(_commands_in("set the host where commandpost runs, or remove them")) == []  # prose


def test_a_wrong_command_is_caught():
    """The check itself: an unknown subcommand and an unknown option both fail."""
    for line in ("commandpost incident declare --service x", "commandpost declare T --severity SEV1"):
        (args,) = argv(line)
        assert runner.invoke(app, [*args, "--help"]).exit_code != 0, line


@pytest.mark.parametrize("found", COMMANDS, ids=[f"{f.where} {f.line}"[:120] for f in COMMANDS])
def test_every_documented_command_parses(found: Found):
    for args in argv(found.line):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"{found.where}: `{found.line}` does not parse:\n{result.output}"
