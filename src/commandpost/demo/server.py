"""The demo's throw-away server: its ops copy, people and tokens, the fast clock, uvicorn in a thread."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from commandpost.clock import Clock, SystemClock

PASSWORD = "commandpost-demo"
USERS = {"yuta": "admin", "hana": "responder", "ken": "responder", "mei": "responder", "sato": "read"}
EXAMPLE = Path(__file__).parents[1] / "policy" / "example"


class FastClock:
    """Real time × ``speed`` from the moment it is made: the demo's escalations and reminders come sooner."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        self.speed = speed
        self.start = start or SystemClock().now()
        self._real = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._real) * self.speed)

    def sleep_until(self, at: datetime) -> None:
        wait = (at - self.now()).total_seconds() / self.speed
        if wait > 0:
            time.sleep(wait)


def demo_ops(folder: Path) -> Path:
    """The packaged example, with every person and team notified on the console only (no real webhooks)."""
    target = folder / "ops"
    shutil.copytree(EXAMPLE, target)
    people_file = target / "people.yaml"
    people = yaml.safe_load(people_file.read_text())
    for person in people["people"]:
        person["contact"] = {}
        person["notify"] = {sev: [] for sev in ("SEV1", "SEV2", "SEV3", "SEV4")}
    for team in people.get("teams", []):
        if team.get("channel"):
            team["channel"] = {"name": team["channel"]["name"]}
    people_file.write_text(
        "# demo copy: console notifications only\n" + yaml.safe_dump(people, sort_keys=False)
    )
    return target


def prepare(database_url: str, ops: Path, clock: Clock) -> dict[str, str]:
    """Schema, ops, users with the demo password, and one API token per person (the scenario's actors)."""
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine, make_session_factory, transaction
    from commandpost.policy import service as policy_service
    from commandpost.security import service as security_service
    from commandpost.security import users

    engine = create_db_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    tokens = {}
    with transaction(sessions) as session:
        policy_service.apply_folder(session, path=ops, now=clock.now(), actor="demo")
        config = policy_service.current_config(session)
        for handle, role in USERS.items():
            users.set_password(
                session, config=config, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
            scope = "admin" if role == "admin" else role
            _row, tokens[handle] = security_service.create_token(
                session, person=handle, scope=scope, name="demo", now=clock.now(), people=USERS
            )
    engine.dispose()
    return tokens


@contextlib.contextmanager
def serving(database_url: str, clock: Clock, port: int) -> Iterator[str]:
    """The real app (API, pages, engine on the fast clock) under uvicorn in a thread."""
    import uvicorn

    from commandpost import public_url
    from commandpost.app import create_app
    from commandpost.db.engine import transaction
    from commandpost.settings import Settings

    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        public_url=base,
        engine_enabled=True,
        engine_max_sleep_seconds=0.25,
        notify_backoff_base_seconds=1.0,
    )
    app = create_app(settings, clock=clock, run_engine=True)
    with transaction(app.state.sessions) as session:  # links in notices point at this demo server
        public_url.record(session, base, now=clock.now())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the demo server did not start on {base}")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
