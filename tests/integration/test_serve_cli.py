"""``commandpost serve`` end to end, started as ``make run`` starts it, on a fresh database.

One server per database (SQLite and PostgreSQL): it upgrades the empty schema (in a child process,
``db/migrate.py``), applies ``examples/ops``, prints the first-run admin token and every intake URL
— each on one line although stderr is a file and Rich is told the terminal is 40 columns wide —
and writes an access log that never holds a token from a query string nor a secret path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.logfilter import MASK
from commandpost.policy import service as policy_service
from tests.alert_support import free_port, wait_ready
from tests.conftest import BACKENDS, EXAMPLE_OPS, REPO, pg_database

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
QUERY_SECRET = "SECRETinQUERY0123456789"
FEED_SECRET = "cpf_SECRETfeed0123456789"


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: no schema at all, so ``serve`` has to upgrade it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'commandpost.db'}"
        return
    with pg_database("commandpost_serve") as url:
        yield url


def test_serve_on_a_fresh_database(fresh_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(fresh_url)
    assert migrate.current_revisions(engine) == frozenset()  # really empty
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    env["COLUMNS"] = "40"  # Rich hard-wraps at this width unless a line is printed unwrapped
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    assert COMMANDPOST.exists(), f"the console script is missing at {COMMANDPOST}"
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--database-url", fresh_url]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--first-run-token"]  # as `make run`
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)
        lines = err.read_text().splitlines()

        # the schema was upgraded from empty, and the ops revision applied
        heads = ", ".join(sorted(migrate.HEADS))
        assert f"schema: upgraded from empty to {heads}" in lines
        assert migrate.current_revisions(engine) == migrate.HEADS
        assert f"ops: applied new revision 1 from {EXAMPLE_OPS}" in lines

        # the first-run admin token: one line, and it works
        url = re.escape(base)
        pattern = re.compile(rf"  export COMMANDPOST_URL={url} COMMANDPOST_TOKEN=(cp_[\w-]{{43}})")
        tokens = [m[1] for line in lines if (m := pattern.fullmatch(line))]
        assert len(tokens) == 1, "\n".join(lines)
        assert any(line.startswith("admin token for @") for line in lines)
        bearer = {"Authorization": f"Bearer {tokens[0]}"}
        assert httpx.get(f"{base}/api/v1/incidents", headers=bearer, timeout=10).status_code == 200
        assert httpx.get(f"{base}/api/v1/incidents", timeout=10).status_code == 401

        # every integration's intake URL, each on one line
        with make_session_factory(engine, read_only=True)() as session:
            keys = policy_service.list_integrations(session)
        expected = {policy_service.intake_line(base, k) for k in keys}
        assert len(keys) == 6 and all(len(line) > 40 for line in expected)  # 5 integrations, 1 heartbeat
        assert {line for line in lines if line.startswith(("intake ", "heartbeat "))} == expected
        pagerduty = next(k for k in keys if k.source == "pagerduty")  # its key goes in the body, not the URL
        assert any(line.endswith(f"/v2/enqueue  routing_key={pagerduty.key}") for line in lines)

        # requests whose URL holds a secret: the access log masks it
        query = httpx.get(f"{base}/api/v1/incidents?token={QUERY_SECRET}&limit=1", headers=bearer, timeout=10)
        assert query.status_code == 401
        assert httpx.get(f"{base}/ical/{FEED_SECRET}.ics", timeout=10).status_code == 404
        intake_key = next(k.key for k in keys if k.source == "generic")
        assert httpx.get(f"{base}/api/v1/intake/generic/{intake_key}", timeout=10).status_code == 405
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as a person ends `make run`
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        engine.dispose()
    assert proc.returncode == 0, err.read_text()

    access = out.read_text()
    assert f'"GET /api/v1/incidents?token={MASK}&limit=1 HTTP/1.1" 401' in access, access
    assert f'"GET /ical/{MASK}.ics HTTP/1.1" 404' in access, access
    assert f'"GET /api/v1/intake/generic/{MASK} HTTP/1.1" 405' in access, access
    everything = access + err.read_text()
    assert QUERY_SECRET not in everything and FEED_SECRET not in everything
    assert intake_key not in access  # (stderr shows it on purpose: the intake URL line)
