"""Issue 14 item 16: one public URL — the serving app's — in the CLI's intake URLs and in notifications.

``commandpost integrations list`` printed port 8080 after ``serve --port 56637`` (the CLI read its own
defaults), and a role offer linked to ``http://127.0.0.1:8080`` (``incident_url()`` read the
environment). ``serve`` now settles the app's ``public_url`` (``COMMANDPOST_PUBLIC_URL``, else from
``--host``/``--port``) and records it in the database, where a CLI with the database URL finds it.
The real server, on a random port, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.notify.models import OutgoingMessage
from commandpost.policy import cli as policy_cli
from tests.alert_support import free_port, stop_serve, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")


def _cli() -> typer.Typer:
    app = typer.Typer()
    policy_cli.register(app)
    return app


def test_cli_and_role_offers_use_the_serving_url(
    db_url: str, tmp_path: Path, make_token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "COMMANDPOST_PUBLIC_URL",
        "COMMANDPOST_PORT",
        "COMMANDPOST_HOST",
        "COMMANDPOST_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--database-url", db_url, "--no-engine"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    err = tmp_path / "stderr.log"
    with (tmp_path / "stdout.log").open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)

        # the CLI, given only the database, prints the URLs of the server that serves it
        listed = CliRunner().invoke(_cli(), ["integrations", "list", "--json", "--database-url", db_url])
        assert listed.exit_code == 0, listed.output
        urls = [row["intake_url"] for row in json.loads(listed.stdout)]
        assert len(urls) == 6  # the example's 5 integrations and its heartbeat
        assert [u for u in urls if not u.startswith(f"{base}/")] == [], urls

        # a role offer made on that server links to that server
        yuta = {"Authorization": f"Bearer {make_token('responder', person='yuta')}"}
        make_token("responder", person="hana")  # hana can accept the offer
        declared = httpx.post(
            f"{base}/api/v1/incidents",
            headers=yuta,
            json={"title": "Checkout latency", "severity": "SEV3", "service": "payment-platform"},
            timeout=10,
        )
        assert declared.status_code == 201, declared.text
        number = declared.json()["number"]
        offer = httpx.post(
            f"{base}/api/v1/incidents/{number}/roles/comms/offer",
            headers=yuta,
            json={"person": "hana"},
            timeout=10,
        )
        assert offer.status_code == 201, offer.text
    finally:
        stop_serve(proc)

    engine = create_db_engine(db_url)
    try:
        with make_session_factory(engine, read_only=True)() as session:
            messages = [
                m for m in session.scalars(select(OutgoingMessage)) if m.key.startswith("role-offer/")
            ]
    finally:
        engine.dispose()
    assert messages, "the offer told hana nothing"
    for message in messages:
        assert (message.payload or {}).get("url") == f"{base}/incidents/{number}", message.payload
        assert f"Incident: {base}/incidents/{number}" in message.body
        assert ":8080" not in message.body


def test_a_role_offer_links_to_the_recorded_public_url(
    sessions: Any, applied_ops: Any, clock: Any, session: Any
) -> None:
    """What ``serve`` records is what every process links to — the engine's, a request's, a CLI's."""
    from commandpost import public_url
    from commandpost.db.engine import transaction
    from tests.factories import make_incident, make_offer

    with transaction(sessions) as s:
        public_url.record(s, "https://cp.example:56637/", now=clock.now())
    with transaction(sessions) as s:
        incident = make_incident(s, now=clock.now())
        make_offer(s, incident, now=clock.now())
    session.rollback()
    urls = {
        (m.payload or {}).get("url")
        for m in session.scalars(select(OutgoingMessage))
        if m.key.startswith("role-offer/")
    }
    assert urls == {"https://cp.example:56637/incidents/INC-1"}


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 56637, "http://127.0.0.1:56637"),
        ("::1", 8080, "http://[::1]:8080"),
        ("cp.internal", 443, "http://cp.internal:443"),
    ],
)
def test_the_default_public_url_comes_from_host_and_port(host: str, port: int, expected: str) -> None:
    from commandpost.public_url import default_public_url

    assert default_public_url(host, port) == expected


def test_a_wildcard_host_is_not_a_link() -> None:
    from commandpost.public_url import default_public_url

    for wildcard in ("0.0.0.0", "::", ""):
        url = default_public_url(wildcard, 8080)
        assert url.endswith(":8080") and "0.0.0.0" not in url and "[::]" not in url, url
