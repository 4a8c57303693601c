"""Terminal output shared by every CLI module: one Rich console, severity colours, --json printing,
listings (:func:`print_table`) and progress bars (:func:`progress`).

Text that came from a person or an alert source (titles, notes, summaries, labels, names, server
messages quoting them) is printed through :func:`inert` and never as Rich markup: an alert summary
``Disk 95% full on [/var/lib/postgresql]`` is a closing tag to Rich (``MarkupError``), and
``ESC ] 52 ; c ; … ESC \\`` would set the reader's clipboard. :func:`text` makes such a value a
table cell or a piece of a line; :func:`markup` places it inside a markup string of our own.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# emoji=False: ":fire:" in an alert summary stays those six characters
console = Console(emoji=False)
# soft_wrap: an error or summary line is never folded at 80 columns — a path or command in it stays
# whole for a pipe, a log or a copy from the terminal (which wraps long lines itself)
err_console = Console(stderr=True, emoji=False, soft_wrap=True)

SEVERITY_STYLE = {"SEV1": "bold white on red", "SEV2": "bold red", "SEV3": "yellow", "SEV4": "cyan"}
STATUS_STYLE = {
    "investigating": "bold red",
    "identified": "yellow",
    "mitigated": "cyan",
    "resolved": "green",
    "closed": "dim",
}

# C0 but tab and newline, DEL, and C1: what a terminal acts on instead of showing (ESC starts colour,
# cursor, title and clipboard sequences; 0x9b is CSI in one byte; CR and BS overwrite the line).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_JSON_CONTROL = re.compile("[\x7f-\x9f]")  # json.dumps escapes C0 itself
# A time as the API and the services write it: ISO 8601 with Z or an offset (dates alone are days).
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)")
# A source's own payload, printed as it came (its times are the source's, in the source's form).
_VERBATIM_KEYS = frozenset({"raw", "details", "labels", "annotations"})


def inert(value: object) -> str:
    """``value`` as text safe to write to a terminal: each control character shown as ``\\x1b``.

    Newline and tab are kept. This is the one escaping function for user and alert text; Rich
    markup is a separate matter (:func:`text`, :func:`markup`).
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def text(value: object, style: str = "") -> Text:
    """User or alert text as a Rich ``Text``: printed literally (no markup), control characters escaped."""
    return Text(inert(value), style=style)


def markup(value: object) -> str:
    """User or alert text to place inside a markup string of ours: escaped for Rich and for the terminal."""
    return escape(inert(value))


def sev(severity: str) -> str:
    """A severity rendered with its colour (Rich markup)."""
    style = SEVERITY_STYLE.get(severity, "")
    return f"[{style}]{severity}[/]" if style else markup(severity)


def status(value: str) -> str:
    style = STATUS_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else markup(value)


def utc(at: datetime) -> str:
    """A time as every ``--json`` prints it: ISO 8601 in UTC with ``Z`` (``2026-06-24T03:00:00Z``)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v if k in _VERBATIM_KEYS else _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _TIME.fullmatch(value):
        return utc(datetime.fromisoformat(value))
    return value


def print_json(data: Any) -> None:
    """``--json``: times in UTC with ``Z``; control characters as JSON escapes (``\\u001b``, ``\\u009b``)."""
    out = json.dumps(_jsonable(data), indent=2, default=str, ensure_ascii=False)
    sys.stdout.write(_JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", out) + "\n")


def print_table(table: Table, *, empty: str | None = None) -> None:
    """Every listing's output: a Rich table on a terminal; in a pipe, one line per row, as ``gh`` does.

    Piped (stdout not a terminal, so ``| cut -f2``, ``| grep``, a file), each row is its cells' plain
    text (colours and markup dropped, control characters escaped as on screen), tab-separated, with
    no header, title or truncation: a Rich table there is cut at 80 columns (``numb…``). A tab or
    newline inside a cell becomes a space so each row stays one line. ``empty`` is what to say when
    there are no rows: on the terminal in place of the table, in a pipe on stderr (stdout stays data).
    """
    if not table.rows and empty is not None:
        (console if console.is_terminal else err_console).print(empty, highlight=False)
        return
    if console.is_terminal:
        console.print(table)
        return
    columns = [list(column.cells) for column in table.columns]
    lines = ("\t".join(_plain(cell) for cell in row) for row in zip(*columns, strict=True))
    sys.stdout.write("".join(line + "\n" for line in lines))


_CELL_SPACE = re.compile(r"[\t\n]")


def _plain(cell: object) -> str:
    """A cell as the terminal shows it, without style (cells are ``Text`` or our own markup)."""
    if cell is None:
        return ""
    plain = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell), emoji=False).plain
    return _CELL_SPACE.sub(" ", inert(plain))


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Bar]:
    """A progress bar for long work, on stderr and only when stderr is a terminal.

    Yields a :class:`Bar`: ``bar(n)`` advances it. In a pipe, a log file or CI nothing is drawn (no
    carriage returns in the log), and stdout is never touched, so ``--json`` output stays clean. The
    bar disappears when done.
    """
    if not err_console.is_terminal:
        yield Bar(description)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as drawn:
        yield Bar(description, drawn, drawn.add_task(description, total=total))


class Bar:
    """What :func:`progress` yields; without a Rich ``Progress`` (stderr not a terminal) it draws nothing."""

    def __init__(self, description: str, drawn: Progress | None = None, task: TaskID | None = None) -> None:
        self._description, self._drawn, self._task = description, drawn, task

    def __call__(self, n: int = 1) -> None:
        """Move on by ``n``."""
        if self._drawn is not None and self._task is not None:
            self._drawn.advance(self._task, n)

    def at(self, step: str, done: int, total: int) -> None:
        """Where work that counts as it goes stands: ``done`` of ``total`` in all, ``step`` the part
        it is in (backup's table), shown after the description."""
        if self._drawn is not None and self._task is not None:
            shown = f"{self._description} {step}"
            self._drawn.update(self._task, description=shown, completed=done, total=total)
