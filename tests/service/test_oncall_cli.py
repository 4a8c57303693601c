"""``commandpost oncall`` / ``override`` / ``feed`` as a real user runs them: the console script (in this
process, tests/cli_support.py) talking to a real uvicorn server (frozen clock) over HTTP, on both
databases."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests import cli_support


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def cli(app, applied_ops, make_token, tmp_path: Path):  # type: ignore[no-untyped-def]
    token = make_token("responder", person="hana")
    with _serve(app) as url:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            env = {
                "COMMANDPOST_URL": url,
                "COMMANDPOST_TOKEN": token,
                "HOME": str(tmp_path),
                "TZ": "UTC",
                "COLUMNS": "200",
            }
            return cli_support.run_cli(args, env=env)

        run.url = url  # type: ignore[attr-defined]
        yield run


def test_oncall_table_and_json(cli):
    table = cli("oncall")
    assert table.returncode == 0, table.stderr
    assert "payment-platform" in table.stdout and "@yuta" in table.stdout and "@hana" in table.stdout
    assert "Mon 2026-06-29 01:00 UTC" in table.stdout  # until the next Monday 10:00 JST
    out = cli("oncall", "--json", "--at", "2026-06-29T10:00+09:00")
    assert out.returncode == 0, out.stderr
    assert [(x["layer"], x["person"]) for x in json.loads(out.stdout)["oncall"]] == [
        ("primary", "hana"),
        ("secondary", "ken"),
    ]
    bad = cli("oncall", "--schedule", "nope")
    assert bad.returncode == 4 and "no schedule named 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_override_add_list_remove(cli):
    added = cli(
        "override", "add", "--schedule", "payment-platform", "--layer", "primary", "--person", "ken",
        "--start", "2026-06-24T04:00:00Z", "--end", "2026-06-24 12:00", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    override = json.loads(added.stdout)
    assert override["person"] == "ken" and override["end"].startswith("2026-06-24T12:00:00")
    now = json.loads(cli("oncall", "--json", "--at", "2026-06-24T05:00:00Z").stdout)["oncall"][0]
    assert (now["person"], now["by_override"]) == ("ken", True)
    listed = cli("override", "list")
    assert listed.returncode == 0 and "@ken" in listed.stdout and "@hana" in listed.stdout
    assert [o["id"] for o in json.loads(cli("override", "list", "--json").stdout)] == [override["id"]]
    removed = cli("override", "remove", str(override["id"]))
    assert removed.returncode == 0 and f"override {override['id']} removed" in removed.stdout
    assert json.loads(cli("override", "list", "--json").stdout) == []
    again = cli("override", "remove", str(override["id"]))
    assert again.returncode == 4 and "no override with id" in again.stderr

    invalid = cli(
        "override", "add", "--schedule", "payment-platform", "--layer", "tertiary", "--person", "ken",
        "--start", "2026-06-24T04:00:00Z", "--end", "2026-06-24T05:00:00Z",
    )  # fmt: skip
    assert invalid.returncode == 2
    assert "has no layer 'tertiary' (layers: primary, secondary)" in invalid.stderr


def test_feed_add_prints_a_working_url(cli):
    added = cli("feed", "add", "--person", "yuta")
    assert added.returncode == 0, added.stderr
    url = added.stdout.strip().splitlines()[-1]
    assert url.startswith(cli.url + "/ical/cpf_") and url.endswith(".ics")
    calendar = httpx.get(url)
    assert calendar.status_code == 200 and "BEGIN:VEVENT" in calendar.text
    (feed,) = json.loads(cli("feed", "list", "--json").stdout)
    assert (feed["kind"], feed["target"]) == ("person", "yuta")
    rotated = cli("feed", "rotate", str(feed["id"]))
    assert rotated.returncode == 0, rotated.stderr
    assert httpx.get(url).status_code == 404
    assert httpx.get(rotated.stdout.strip().splitlines()[-1]).status_code == 200
    assert "yuta" in cli("feed", "list").stdout
    assert cli("feed", "remove", str(feed["id"])).returncode == 0
    assert json.loads(cli("feed", "list", "--json").stdout) == []
