"""What the project depends on, and why (issue 20, item 11).

uvicorn's ``[standard]`` extra brought websockets, watchfiles (for ``--reload``) and python-dotenv,
which nothing here uses; serve needs httptools (its protocol class subclasses uvicorn's httptools
one) and uvloop (uvicorn's ``loop="auto"`` takes it). Starlette deprecated httpx in its TestClient
for httpx2: the tests' client is httpx2, declared, and importing it warns about nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(names: list[str]) -> dict[str, Requirement]:
    return {r.name.lower(): r for r in map(Requirement, names)}


def test_uvicorn_without_its_standard_extra_but_with_what_serve_runs_on():
    runtime = _requirements(PROJECT["dependencies"])
    assert runtime["uvicorn"].extras == set()
    assert {"httptools", "uvloop"} <= runtime.keys()
    assert not {"websockets", "watchfiles", "python-dotenv"} & runtime.keys()


def test_nothing_in_commandpost_imports_what_the_extra_brought():
    unused = re.compile(r"^\s*(import|from)\s+(websockets|watchfiles|dotenv)\b", re.MULTILINE)
    found = [p for p in (REPO / "src").rglob("*.py") if unused.search(p.read_text(encoding="utf-8"))]
    assert found == []


def test_serve_uses_httptools_and_uvicorn_picks_uvloop():
    from uvicorn.loops.auto import auto_loop_factory
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from commandpost.http_protocol import OneWriteHttpProtocol

    assert issubclass(OneWriteHttpProtocol, HttpToolsProtocol)
    assert auto_loop_factory().__module__.startswith("uvloop")


def test_the_test_client_runs_on_httpx2_without_starlettes_deprecation_warning():
    assert "httpx2" in _requirements(PROJECT["optional-dependencies"]["dev"])
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import starlette.testclient as t; print(t.httpx.__name__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "httpx2", "")
