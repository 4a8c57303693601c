"""``commandpost.console``: the one escaping function for user and alert text, and ``--json`` printing
(issue 14, items 3 and 18). The commands themselves are tested in tests/api/test_cli_terminal_output.py."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rich.console import Console
from rich.table import Table

from commandpost import console as out

JST = timezone(timedelta(hours=9))
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Disk 95% full on [/var/lib/postgresql]", "Disk 95% full on [/var/lib/postgresql]"),
        ("\x1b]52;c;c2hlbGw=\x1b\\", "\\x1b]52;c;c2hlbGw=\\x1b\\"),  # OSC 52: set the clipboard
        ("\x1b]0;root@prod\x07", "\\x1b]0;root@prod\\x07"),  # the window title
        ("\x9b2J", "\\x9b2J"),  # C1 CSI in one byte: clear the screen
        ("ok\rFAILED", "ok\\x0dFAILED"),  # CR overwrites what was printed
        ("a\x00b\x08c\x7fd", "a\\x00b\\x08c\\x7fd"),
        ("line 1\nline 2\tcolumn", "line 1\nline 2\tcolumn"),  # newline and tab stay
        ("ünïcødé — 障害 ✓", "ünïcødé — 障害 ✓"),
    ],
)
def test_inert_shows_control_characters_escaped_and_keeps_everything_else(given, shown):
    assert out.inert(given) == shown


def _render(*renderables: object) -> str:
    terminal = Console(width=200, force_terminal=True, color_system="truecolor", emoji=False)
    with terminal.capture() as captured:
        terminal.print(*renderables)
    return SGR.sub("", captured.get())  # the colours are ours; what is left is the text


def test_text_and_markup_print_user_text_literally_on_a_terminal():
    hostile = "[bold]Disk[/] :fire: full on [/var/lib/postgresql] \x1b]52;c;eA==\x1b\\"
    table = Table("summary")
    table.add_row(out.text(hostile))
    printed = _render(table, f"[red]error:[/] {out.markup(hostile)}")
    assert printed.count("[bold]Disk[/] :fire: full on [/var/lib/postgresql] \\x1b]52;c;eA==\\x1b\\") == 2
    assert "\x1b]52" not in printed


def test_severity_and_status_outside_the_known_words_are_not_markup():
    assert _render(out.sev("[/x]"), out.status("[/y]")).strip() == "[/x] [/y]"


def test_print_json_times_are_utc_with_z_and_control_characters_are_json_escapes(capsys):
    out.print_json(
        {
            "created_at": datetime(2026, 6, 24, 12, 0, tzinfo=JST),
            "from": "2026-06-24T03:00:00+00:00",
            "at": "2026-06-24T12:00:00.250000+09:00",
            "declared_at": "2026-06-24T03:00:00Z",
            "spaced": "2026-06-24 03:00:00+00:00",
            "due": "2026-12-15",
            "summary": "Disk full \x1b]52;c;eA==\x1b\\ \x9b2J",
            "raw": {"timestamp": "2015-07-17T08:42:58.315+09:00"},
            "none": None,
        }
    )
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x9b" not in printed
    assert "\\u001b]52" in printed and "\\u009b2J" in printed
    data = json.loads(printed)
    assert data == {
        "created_at": "2026-06-24T03:00:00Z",
        "from": "2026-06-24T03:00:00Z",
        "at": "2026-06-24T03:00:00.250000Z",
        "declared_at": "2026-06-24T03:00:00Z",
        "spaced": "2026-06-24T03:00:00Z",
        "due": "2026-12-15",
        "summary": "Disk full \x1b]52;c;eA==\x1b\\ \x9b2J",
        "raw": {"timestamp": "2015-07-17T08:42:58.315+09:00"},  # the source's payload, as it came
        "none": None,
    }


def test_utc_of_a_naive_time_reads_it_as_utc():
    assert out.utc(datetime(2026, 6, 24, 3, 0)) == out.utc(datetime(2026, 6, 24, 3, 0, tzinfo=UTC))
    assert out.utc(datetime(2026, 6, 24, 3, 0)) == "2026-06-24T03:00:00Z"
