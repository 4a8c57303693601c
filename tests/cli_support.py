"""The ``commandpost`` console script run in this process, answering as a subprocess would.

Starting ``python -m commandpost`` costs one to two seconds of imports per command; a test that runs
a dozen commands spent most of its time there. :func:`run_cli` calls the console script's own entry
point (``cli_root.main``: the root help page, the error tree's red line and exit code) inside Click's
test isolation: stdin, stdout, stderr and the environment are the command's own for the call, and the
result has the ``returncode``/``stdout``/``stderr`` of :class:`subprocess.CompletedProcess`.

Where the process itself is the point — the installed executable, a terminal's colours
(``FORCE_COLOR`` is read when Rich's console is made, at import), a signal — tests still start one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner

from commandpost import cli_root


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
    cwd: Path | str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``commandpost *args`` with ``env`` over this process's environment, ``stdin`` as its input.

    A ``None`` in ``env`` unsets that variable for the call. ``TZ`` is the command's local time zone,
    as in a process of its own (``time.tzset`` before and after).
    """
    argv, here = sys.argv, Path.cwd()
    code: int | str | None = 0
    with CliRunner().isolation(input=stdin, env=dict(env or {})) as (out, err, _mixed):
        time.tzset()
        sys.argv = ["commandpost", *args]
        if cwd is not None:
            os.chdir(cwd)
        try:
            cli_root.main()
        except SystemExit as exc:
            code = exc.code
        finally:
            sys.argv = argv
            os.chdir(here)
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    time.tzset()
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        stderr += code + "\n"
    return subprocess.CompletedProcess(["commandpost", *args], returncode, stdout, stderr)
