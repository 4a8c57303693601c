"""A realistic database for the backup and migration tests, and the small helpers they share.

The dataset is the demo's history (incidents of every SEV with their alerts, pages, timelines,
postmortems taken to Final, action items, users and tokens, written by the real services) and a
pass through the real app for what the history leaves out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select

from commandpost.app import create_app
from commandpost.backup import service
from commandpost.clock import FrozenClock
from commandpost.db.base import Base
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.demo import history, server
from commandpost.security import service as security
from commandpost.security import users
from commandpost.settings import Settings
from tests.alert_support import keys, load_jsonc, pd_trigger
from tests.conftest import pg_database

END = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """A new database with no schema at all."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'target.db'}"
        return
    with pg_database("commandpost_restore") as url:
        yield url


def seed(url: str, folder: Path, *, days: int) -> None:
    """The demo's history of ``days`` before :data:`END`, then :func:`through_the_app`."""
    server.prepare(url, server.demo_ops(folder), FrozenClock(END - timedelta(days=days)))
    history.seed_history(url, days=days, end=END)
    through_the_app(url)


def through_the_app(url: str) -> None:
    """Intake events (generic and PagerDuty, some repeated), a change event, an override (audited)
    through the real app, and a web session."""
    engine = create_db_engine(url)
    sessions = make_session_factory(engine)
    clock = FrozenClock(END)
    key = keys(sessions)
    with transaction(sessions) as session:
        _row, token = security.create_token(
            session, person="yuta", scope="admin", name="backup test", now=END, people={"yuta"}
        )
    settings = Settings(database_url=url, engine_enabled=False)
    app = create_app(settings, clock=clock, engine=engine, run_engine=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        for n in range(12):
            body = {
                "dedup_key": f"disk-{n % 4}",
                "summary": f"Disk {90 + n}% full",
                "idempotency_key": f"e-{n}",
            }
            assert client.post(f"/api/v1/intake/generic/{key['generic']}", json=body).status_code < 300
            assert (
                client.post("/v2/enqueue", json=pd_trigger(key["pagerduty"], f"pd-{n % 3}")).status_code
                == 202
            )
            clock.advance(seconds=7)
        change = load_jsonc("pagerduty_change_events_v2.jsonc")[0] | {"routing_key": key["pagerduty"]}
        change["payload"].pop("timestamp")
        assert client.post("/v2/change/enqueue", json=change).status_code == 202
        override = {
            "schedule": "payment-platform",
            "layer": "primary",
            "person": "hana",
            "start": (END + timedelta(hours=1)).isoformat(),
            "end": (END + timedelta(hours=5)).isoformat(),
            "note": "covering for ken",
        }
        admin = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/v1/overrides", json=override, headers=admin).status_code == 201
    with transaction(sessions) as session:
        user = users.get_user(session, handle="hana")
        assert user is not None
        users.start_session(session, user=user, now=END)
    engine.dispose()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, of the model tables the database has."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
            if t.name in present
        }


def derived_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """The trigger-kept tables, which the export leaves out, in a stable order."""
    out = {}
    with engine.connect() as conn:
        for name in sorted(service.DERIVED):
            out[name] = sorted(tuple(r) for r in conn.execute(select(Base.metadata.tables[name])))
    return out
