"""``commandpost --help | head -1`` and a listing piped into ``head`` end quietly (issue 14, item 18).

``head`` exits once it has its line; whatever commandpost still holds in its stdout buffer then meets
a closed pipe. When that happens at the interpreter's final flush, Python prints ``Exception ignored
… BrokenPipeError`` and exits 120. The race is made certain here: a ``sitecustomize`` in the child
holds it at exit (an ``atexit`` hook, which runs before that final flush) until the reader has closed
its end of the pipe — exactly when ``head`` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # the installed command writing into real pipes

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_OPS = REPO / "examples" / "ops"
HOLD = """\
import atexit, os

_fd = os.environ.get("CP_TEST_HOLD_FD")
if _fd:
    atexit.register(os.read, int(_fd), 1)  # returns when the test closes its end: after the reader
"""


def _run_into_head(tmp_path: Path, args: list[str], *, panels: int = 0) -> tuple[int, str, bytes]:
    """Run ``commandpost ARGS`` into a pipe the reader closes once it has read ``panels`` Rich panels
    (0: at once, before anything is written)."""
    (tmp_path / "sitecustomize.py").write_text(HOLD, encoding="utf-8")
    out_r, out_w = os.pipe()
    hold_r, hold_w = os.pipe()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(tmp_path),
        "CP_TEST_HOLD_FD": str(hold_r),
        "COLUMNS": "100",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "commandpost", *args],
        stdout=out_w,
        stderr=subprocess.PIPE,
        env=env,
        pass_fds=(hold_r,),
        cwd=tmp_path,
    )
    os.close(out_w)
    os.close(hold_r)
    seen = b""
    with os.fdopen(out_r, "rb", buffering=0) as reader:
        while seen.count("╯\n".encode()) < panels:
            chunk = reader.read(65536)
            if not chunk:
                break
            seen += chunk
    os.close(hold_w)  # the reader is gone: let the child finish
    _out, err = child.communicate(timeout=60)
    return child.returncode, err.decode(), seen


def _quiet(stderr: str) -> bool:
    return "BrokenPipeError" not in stderr and "Traceback" not in stderr and "Exception ignored" not in stderr


def test_root_help_into_head_exits_without_a_traceback(tmp_path):
    # The help page is written; `head` closes the pipe before the last byte is flushed.
    code, stderr, seen = _run_into_head(tmp_path, ["--help"], panels=2)
    assert b" Usage: commandpost" in seen.splitlines()[1], seen[:300]
    assert _quiet(stderr), stderr
    assert code in (0, 1)


@pytest.mark.parametrize(
    "args",
    [
        ["runbook", "list", "--ops", str(EXAMPLE_OPS), "--json"],
        ["runbook", "list", "--ops", str(EXAMPLE_OPS)],
        ["slo", "targets", "--ops", str(EXAMPLE_OPS)],
    ],
    ids=["json", "table", "text"],
)
def test_a_listing_into_a_closed_pipe_exits_without_a_traceback(tmp_path, args):
    code, stderr, _seen = _run_into_head(tmp_path, args)
    assert _quiet(stderr), stderr
    assert code == 1  # what Click and Rich answer a broken pipe with
