"""Issue 14, item 4: no secret is stored raw, whatever column it lands in and whatever door it used.

One sample of every detector — the corpus of ``tests/unit/test_redact.py``: an AWS key, a GitHub
token, a Slack token, a private key block, ``db password is hunter2``, a card number with dots, a
bearer token, … — goes through

- every text and JSON column of every table (from the SQLAlchemy metadata), written through the
  ORM and through Core, and looked up again by its original value where the column is an
  identifier;
- every write endpoint of the API (from the app's OpenAPI description) and every form of the web
  pages (from the app's routes), in each free-text field, identifier and path parameter, then the
  engine's passes with a sender whose channels record what they would send;
- the CLI: ``override add --note`` and ``token create --name``.

Then the raw strings are looked for in the database — on SQLite in the file *and* its -wal file,
byte by byte, and in every row; on PostgreSQL in every row of every table — in every log record,
and in every notification the engine sent. None may appear. Both databases.

Also: an alert whose dedup key holds a secret still deduplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

import commandpost.models_registry  # noqa: F401  (every table in the metadata)
from commandpost.alerts.models import Alert, AlertEvent
from commandpost.alerts.sources import registry, sns
from commandpost.db.base import Base
from commandpost.db.engine import transaction
from commandpost.engine.runner import Runner
from commandpost.notify.rules import Delivery
from commandpost.notify.sender import NotificationSender
from commandpost.security import stored
from commandpost.security import users as web_users
from commandpost.settings import Settings
from commandpost.wiring import engine_plan
from tests import cli_support
from tests.alert_support import keys, serve
from tests.api.test_postmortem_api import FILLED, ITEM
from tests.api.test_web_auth import PASSWORD, csrf_of, login
from tests.fixtures.sns import signer
from tests.unit.test_redact import CORPUS

SAMPLES = [text for _kind, text, _secrets in CORPUS]
SECRETS = sorted({secret for _kind, _text, secrets in CORPUS for secret in secrets}, key=len)
RANDOM_ONLY = {secret for kind, _text, secrets in CORPUS if kind == "high-entropy" for secret in secrets}
"""Secrets found by their randomness alone: an identifier keeps them (a fingerprint, a UUID and a hash
look the same), so they are looked for everywhere but in identifier columns (stored.store_identifier)."""
TOPIC = signer.EXAMPLE_OPS_TOPIC
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def leaks(where: str, text: str, secrets: Iterable[str] = SECRETS) -> list[str]:
    return [f"{where}: {secret!r}" for secret in secrets if secret in text]


def database_leaks(engine: Engine, secrets: Iterable[str] = SECRETS) -> list[str]:
    """Every raw secret left in the database: in the rows of every table (as the database returns
    them, not through the models), and on SQLite in the bytes of the file and its -wal file."""
    found: list[str] = []
    secrets = list(secrets)
    named = [s for s in secrets if s not in RANDOM_ONLY]
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            result = conn.exec_driver_sql(f'SELECT * FROM "{table.name}"')
            names = list(result.keys())
            identifiers = {c.name for c in table.columns if _kind(c) == stored.IDENTIFIER}
            for row in result:
                for name, value in zip(names, row, strict=True):
                    if value is not None:
                        shown = value if isinstance(value, str) else repr(value)
                        found += leaks(
                            f"{table.name}.{name}", shown, named if name in identifiers else secrets
                        )
        if engine.dialect.name == "sqlite":
            database = make_url(str(engine.url)).database
            assert database, "a file database"
            files = [Path(database), Path(database + "-wal")]
            assert files[1].exists(), "the WAL is scanned while a connection keeps it"
            for path in files:  # random-only ones are looked for column by column above
                data = path.read_bytes()
                found += [f"{path.name}: {s!r}" for s in named if s.encode() in data]
    return found


CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore")  # the test client's own log of the URLs it requests


def log_leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        leak
        for r in caplog.records
        if not r.name.startswith(CLIENT_LOGGERS)
        for leak in leaks(f"log {r.name}", caplog.handler.format(r))
    ]


# ---------------------------------------------------------------- every column of every table


def test_every_text_column_is_redacted_or_exempt_for_a_stated_reason(engine: Engine) -> None:
    """(The ``engine`` fixture: making an engine is what installs the redacting column types.)"""
    columns = {f"{t.name}.{c.name}": c for t in Base.metadata.sorted_tables for c in t.columns}
    unwrapped = [name for name, c in columns.items() if _kind(c) and not _wrapped(c)]
    assert unwrapped == [], "text columns stored as they come"
    texts = {name for name, c in columns.items() if _wrapped(c) or name in stored.EXEMPT}
    assert set(stored.EXEMPT) <= texts, f"exemptions naming no text column: {set(stored.EXEMPT) - texts}"
    assert set(stored.IDENTIFIERS) <= texts - set(stored.EXEMPT)
    identifiers = {name for name, c in columns.items() if _kind(c) == stored.IDENTIFIER}
    assert {
        "alert.open_dedup_key",
        "alert_event.idempotency_key",
        "incident.open_group",
        "user.handle",
    } <= identifiers
    assert all(len(reason) > 20 for reason in [*stored.EXEMPT.values(), *stored.IDENTIFIERS.values()])
    # what the issue found stored raw is redacted now
    for name in (
        "oncall_override.note",
        "api_token.name",
        "alert.dedup_key",
        "alert.open_dedup_key",
        "alert.group_key",
        "alert.alertname",
        "alert.details",
        "alert.raw",
        "alert_event.idempotency_key",
        "alert_event.raw",
    ):
        assert _wrapped(columns[name]), name


def _wrapped(column: Any) -> bool:
    return isinstance(column.type, stored.Redacted)


def _kind(column: Any) -> str | None:
    """How the column should be redacted (whether or not it is)."""
    return stored.treatment(column)


def _row(table: Table, text: str, n: int, ids: dict[tuple[str, int], Any], slot: int) -> dict[str, Any]:
    """Row ``n`` for ``table``: ``text`` in every redacted text column (a JSON column gets it as a
    key, a value and inside a list), something plain elsewhere; a foreign key points at the row
    of the same ``slot`` in its table (``ids``: (table, slot) → key)."""
    row: dict[str, Any] = {}
    for column in table.columns:
        plain = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
        if column is _numbered(table):
            continue  # the database numbers it
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table.name
            row[column.name] = None if target == table.name else ids[(target, slot)]
        elif (kind := _kind(column)) is not None:
            row[column.name] = (
                {"note": text, text: "value", "list": [text, 1]}
                if kind == stored.JSON_DATA
                else _fit(column, text)
            )
        elif isinstance(plain, Boolean):
            row[column.name] = False
        elif isinstance(plain, Integer):
            row[column.name] = n
        elif isinstance(plain, Float):
            row[column.name] = 1.5
        elif isinstance(plain, DateTime):
            row[column.name] = datetime(2026, 6, 24, 3, 0, tzinfo=UTC) + timedelta(minutes=n)
        elif isinstance(plain, Date):
            row[column.name] = date(2026, 6, 24)
        elif isinstance(plain, JSON):
            row[column.name] = {}
        elif isinstance(plain, String):
            row[column.name] = f"x{n}"[-(plain.length or 10) :]
        else:
            raise AssertionError(f"no sample value for {table.name}.{column.name} ({column.type!r})")
    return row


def _fit(column: Any, text: str) -> str:
    """An identifier keeps a random-only secret as it is (RANDOM_ONLY), so the value must fit the
    column itself: its end (the distinct ``#n``) is kept. Everything else is given whole, for
    redaction to shorten."""
    plain = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    length = getattr(plain, "length", None)
    keeps = _kind(column) == stored.IDENTIFIER and any(secret in text for secret in RANDOM_ONLY)
    return text[-length:] if keeps and length and len(text) > length else text


def _numbered(table: Table) -> Any:
    """The integer primary key the database assigns, if the table has one."""
    (key, *more) = table.primary_key.columns
    plain = key.type.impl if isinstance(key.type, TypeDecorator) else key.type
    return key if not more and isinstance(plain, Integer) else None


# Rows the database writes itself, from the incident's own (redacted) columns: a trigger.
BY_TRIGGER = {"incident_response"}


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in BY_TRIGGER]


def _mapped() -> dict[Any, type[Any]]:
    return {m.local_table: m.class_ for m in Base.registry.mappers}


def test_each_sample_through_every_column_orm_and_core_is_stored_redacted(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    classes = _mapped()
    n = 0
    originals: dict[str, str] = {}  # identifier column -> a value it was given
    for text in SAMPLES:
        ids: dict[tuple[str, int], Any] = {}  # (table, row of the round) -> its key
        with transaction(sessions) as s:  # the ORM: one object per table
            for table in _tables():
                n += 1
                value = f"{text} #{n}"  # distinct: identifier columns are often unique
                row = _row(table, value, n, ids, 0)
                cls = classes[table]
                attrs = {
                    p.key: row[p.columns[0].name]
                    for p in cls.__mapper__.column_attrs
                    if p.columns[0].name in row
                }
                obj = cls(**attrs)
                s.add(obj)
                s.flush()
                if (key := _numbered(table)) is not None:
                    ids[(table.name, 0)] = getattr(obj, cls.__mapper__.get_property_by_column(key).key)
                identifiers = {
                    cls.__mapper__.get_property_by_column(c).key
                    for c in table.columns
                    if _kind(c) == stored.IDENTIFIER
                }
                random_only = any(secret in text for secret in RANDOM_ONLY)
                for attr, given in attrs.items():  # what the caller holds is what was stored
                    if random_only and attr in identifiers:
                        continue  # an identifier keeps randomness (see RANDOM_ONLY)
                    assert given != value or getattr(obj, attr) != value, (
                        f"{table.name}.{attr} kept in memory"
                    )
                for column in table.columns:
                    if _kind(column) == stored.IDENTIFIER:
                        originals[f"{table.name}.{column.name}"] = _fit(column, value)
        with transaction(sessions) as s:  # Core: two rows per table in one executemany
            for table in _tables():
                rows = [_row(table, f"{text} #{n + k}", n + k, ids, k) for k in (1, 2)]
                n += 2
                key = _numbered(table)
                if key is None:
                    s.execute(insert(table), rows)
                else:
                    made = s.execute(insert(table).returning(key, sort_by_parameter_order=True), rows)
                    ids[(table.name, 1)], ids[(table.name, 2)] = made.scalars().all()
    assert database_leaks(engine) == []

    # An identifier column is matched by the original value, through the same redaction.
    assert set(stored.IDENTIFIERS) <= set(originals)
    with sessions() as s:
        for name, original in originals.items():
            table_name, column_name = name.split(".")
            table = Base.metadata.tables[table_name]
            found = s.scalar(select(func.count()).select_from(table).where(table.c[column_name] == original))
            assert found == 1, f"{name}: {found} rows found by the original value"


# ---------------------------------------------------------------- every write endpoint


class Sweep:
    """Requests made through the test client, remembering which route each used and any 5xx."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.people: dict[str, dict[str, str]] = {}
        self.integration: dict[str, str] = {}
        self.marked: list[str] = []
        self.used: set[tuple[str, str]] = set()
        self.failures: list[str] = []
        self.codes: dict[tuple[str, str], set[int]] = {}

    def __call__(self, method: str, route: str, *args: Any, headers: Any = None, **kw: Any) -> Any:
        path = route.format(*[quote(str(a), safe="") for a in args]) if args else route
        answer = self.client.request(method, path, headers=headers, **kw)
        self.used.add((method, _template(route)))
        self.codes.setdefault((method, _template(route)), set()).add(answer.status_code)
        if answer.status_code >= 500:
            self.failures.append(f"{method} {route} -> {answer.status_code}: {answer.text[:300]}")
        return answer


def _template(route: str) -> str:
    """``/api/v1/incidents/{}/status`` → the route's own template, matched by position."""
    return route


def _writes(app: Any, *, api: bool) -> set[tuple[str, str]]:
    """(method, path template) of every write route: the API's from OpenAPI, the pages' from the app."""
    if api:
        paths = app.openapi()["paths"]
        return {(m.upper(), _positional(p)) for p, ops in paths.items() for m in ops if m.upper() in WRITES}
    spec = {_positional(p) for p in app.openapi()["paths"]}
    found = set()
    for route in _routes(app.routes):
        for method in (getattr(route, "methods", None) or set()) & WRITES:
            if _positional(route.path) not in spec:
                found.add((method, _positional(route.path)))
    return found


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "path"):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            yield from _routes(getattr(inner, "routes", []))


def _positional(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "{}", path)


class CapturingChannels:
    """What the sender would send, recorded instead (every message delivered)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: Any, now: datetime) -> Delivery:
        self.sent.append(repr(message))
        return Delivery("delivered", 200)

    def close(self) -> None:
        pass


@pytest.fixture
def settings(db_url: str, cert_dir: Path) -> Settings:
    return Settings(database_url=db_url, engine_enabled=False, sns_cert_dir=cert_dir, sns_auto_confirm=False)


@pytest.fixture
def web_people(sessions: sessionmaker[Session], applied_ops: Any, clock: Any) -> None:
    with sessions() as s:
        for handle, role in (("yuta", "admin"), ("hana", "responder")):
            web_users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
        s.commit()


# Routes no call of the sweep is expected to get through: each stores no text of its own, and what
# it would store the API sweep stores (the page sweep is logged in as @yuta, who is neither offered
# a role nor the postmortem's reviewer; there is no pending SNS subscription to confirm).
SLACK_HOOKS = ("commands", "interactions", "events")
PHONE_HOOKS = (
    "twilio/sms",
    "twilio/voice",
    "twilio/status",
    "vonage/inbound",
    "vonage/dlr",
    "vonage/voice/input",
    "vonage/voice/event",
)
REFUSED_ONLY = {
    ("POST", "/incidents/{}/roles/{}/accept"),
    ("POST", "/incidents/{}/roles/{}/decline"),
    ("POST", "/postmortems/{}/approve"),
    ("POST", "/postmortems/{}/reopen"),
    ("POST", "/api/v1/integrations/subscriptions/{}/confirm"),
    # A page's one-tap link is made by the sender when it sends, never stored: a sweep can only
    # forge one (tests/api/test_page_link_pages.py acts through real links, tests/api/test_page_test.py too).
    ("POST", "/a/{}"),
    # So are a status subscription's confirm and unsubscribe links (made at send time;
    # tests/integration/test_status_subscriptions.py follows real ones from a real SMTP server).
    ("POST", "/status/{}/{}"),
    # An ops folder that validates is stored as given, as `commandpost apply` stores it (people.yaml may
    # hold a Slack webhook URL the sender needs): the sample goes only into uploads that are refused.
    ("POST", "/api/v1/ops/revisions"),
    # The phone providers' webhooks act only on what the provider signed; unsigned, the sweep's
    # samples are refused before anything is read into the database (tests/api/test_phone_hooks.py
    # signs them as Twilio and Vonage do).
    *(("POST", f"/hooks/{path}") for path in PHONE_HOOKS),
    # Slack's three URLs are off here (no bot token: 404) and refuse anything unsigned; signed
    # messages with secrets are swept in tests/api/test_slack_events.py and test_slack_commands.py.
    *(("POST", f"/api/v1/slack/{path}") for path in SLACK_HOOKS),
    # The example ops folder configures no tracker, so a ticket is refused before anything is stored,
    # and trackers' webhooks act only on what the tracker signed; tests/service/test_action_tickets.py
    # creates tickets and signs deliveries as each tracker's stand-in does, with tokens never shown.
    ("POST", "/api/v1/action-items/{}/ticket"),
    ("POST", "/api/v1/trackers/{}/webhook"),
}


@pytest.fixture
def sweep(
    client: TestClient,
    auth: Callable[..., dict[str, str]],
    sessions: sessionmaker[Session],
    applied_ops: Any,
    web_people: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> Sweep:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="commandpost")
    monkeypatch.setitem(registry.SOURCES, "sns", registry.Source("sns", sns.parse, blocking=True))
    sweep = Sweep(client)
    sweep.people = {p: auth("responder", person=p) for p in ("yuta", "hana", "ken", "mei", "sato")}
    sweep.people["admin"] = auth("admin", person="yuta")
    sweep.integration = keys(sessions)
    runbook = client.get("/api/v1/runbooks/payment-webhook-backlog", headers=sweep.people["yuta"]).json()
    steps = [step for section in runbook["sections"] for step in section["steps"]]
    sweep.marked = [
        next(s["id"] for s in steps if not s["needs_ops"]),
        next(s["id"] for s in steps if s["needs_ops"]),
    ]
    return sweep


def test_each_sample_through_every_api_write_endpoint_leaves_no_raw_secret(
    app: Any, sweep: Sweep, sessions: sessionmaker[Session], engine: Engine, clock: Any, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    for i, text in enumerate(SAMPLES):
        _api(sweep, i, text, sweep.people, sweep.integration, sweep.marked, clock)
    assert _writes(app, api=True) - sweep.used == set(), "API write endpoints the sweep does not exercise"
    _check(sweep, sessions, engine, clock, settings, caplog)


def test_each_sample_through_every_page_form_leaves_no_raw_secret(
    app: Any, sweep: Sweep, sessions: sessionmaker[Session], engine: Engine, clock: Any, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    client = sweep.client
    login(client, "yuta")
    for i, text in enumerate(SAMPLES):
        _pages(sweep, i, text, csrf_of(client.get("/declare").text), sweep.people, sweep.marked, clock)
    sweep(
        "POST", "/logout", data={"csrf_token": csrf_of(client.get("/declare").text)}, follow_redirects=False
    )
    page = client.get("/login").text
    welcome = {"handle": "yuta", "password": PASSWORD, "csrf_token": csrf_of(page), "next": "/incidents"}
    assert sweep("POST", "/login", data=welcome, follow_redirects=False).status_code == 303
    for text in _bundles(SAMPLES, 2000):  # a failed login hashes a password (~1 s here): a few, each of many
        fresh = csrf_of(client.get("/login").text)
        sweep("POST", "/login", data={"handle": text, "password": text, "csrf_token": fresh})
    assert _writes(app, api=False) - sweep.used == set(), "page forms the sweep does not exercise"
    _check(sweep, sessions, engine, clock, settings, caplog)


def _check(
    sweep: Sweep,
    sessions: sessionmaker[Session],
    engine: Engine,
    clock: Any,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The engine's passes send what they decided to a recording channel; then nothing raw anywhere."""
    channels = CapturingChannels()
    processors = engine_plan(settings).sequence()
    for processor in processors:
        if isinstance(processor, NotificationSender):
            processor._channels = channels  # type: ignore[assignment]
    runner = Runner(sessions, clock, settings=settings, processors=processors)
    for _ in range(3):
        runner.run_once()
        clock.advance(minutes=31)

    assert sweep.failures == []
    never = {route for route, codes in sweep.codes.items() if min(codes) >= 400} - REFUSED_ONLY
    assert never == set(), "routes the sweep never got through: it proves nothing about them"
    assert len(channels.sent) > 10, "the engine sent too little for the notification check to mean much"
    assert [leak for m in channels.sent for leak in leaks("notification", m)] == []
    assert log_leaks(caplog) == []
    assert database_leaks(engine) == []


def _ops_archive(text: str) -> bytes:
    """The example ops folder as a tar.gz, its first person given ``text`` as an unknown key and value."""
    import io
    import tarfile

    import yaml

    from tests.conftest import EXAMPLE_OPS

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(EXAMPLE_OPS, arcname=".")
        people = yaml.safe_load((EXAMPLE_OPS / "people.yaml").read_text(encoding="utf-8"))
        people["people"][0][text] = text
        data = yaml.safe_dump(people, allow_unicode=True).encode()
        info = tarfile.TarInfo("people.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _api(
    call: Sweep,
    i: int,
    text: str,
    people: dict[str, dict[str, str]],
    integration: dict[str, str],
    marked: list[str],
    clock: Any,
) -> None:
    yuta, hana, admin = people["yuta"], people["hana"], people["admin"]
    now = clock.now()
    for path in SLACK_HOOKS:
        call("POST", f"/api/v1/slack/{path}", data={"text": text, "payload": text})
    # tokens
    made = call(
        "POST", "/api/v1/tokens", json={"person": "hana", "scope": "read", "name": text}, headers=admin
    )
    call("POST", "/api/v1/tokens", json={"person": text, "scope": "read", "name": "x"}, headers=admin)
    if made.status_code == 201:  # (a name of several lines is refused)
        call("DELETE", "/api/v1/tokens/{}", made.json()["id"], headers=admin)
    # the ops folder as a tar.gz (CI's apply), the sample as an unknown key and its value: refused (422),
    # nothing stored or logged raw. (A valid folder is stored as given, as 'commandpost apply' stores it.)
    refused = call(
        "POST",
        "/api/v1/ops/revisions",
        content=_ops_archive(text),
        headers={**admin, "content-type": "application/gzip"},
    )
    assert refused.status_code == 422, refused.text
    # an incident, from its declaration to a reopened postmortem
    declared = call(
        "POST",
        "/api/v1/incidents",
        json={
            "title": f"sweep {i}",
            "severity": "SEV2",
            "service": "payment-platform",
            "summary": text,
            "impact": text,
            "labels": {"note": text, text: "value"},
        },
        headers=yuta,
    )
    number = declared.json()["number"]
    call("POST", "/api/v1/incidents", json={"title": text, "severity": "SEV4"}, headers=yuta)
    call("POST", "/api/v1/incidents", json={"title": "x", "severity": "SEV4", "ic": text}, headers=yuta)
    base = "/api/v1/incidents/{}"
    call(
        "PATCH",
        base,
        number,
        json={"summary": text, "impact": text, "labels": {"k": text, text: "v"}},
        headers=yuta,
    )
    call("PATCH", base, number, json={"title": text, "runbook": text}, headers=yuta)
    call("POST", base + "/severity", number, json={"severity": "SEV1", "reason": text}, headers=yuta)
    call("POST", base + "/ack", number, headers=hana)
    call("POST", base + "/roles/{}/assign", number, "ops", json={"person": "mei"}, headers=yuta)
    call("POST", base + "/roles/{}/assign", number, "ops", json={"person": text}, headers=yuta)
    call("POST", base + "/roles/{}/offer", number, "planning", json={"person": "sato"}, headers=yuta)
    call("POST", base + "/roles/{}/withdraw", number, "planning", headers=yuta)
    call("POST", base + "/roles/{}/offer", number, "planning", json={"person": "sato"}, headers=yuta)
    call("POST", base + "/roles/{}/accept", number, "planning", headers=people["sato"])
    call("POST", base + "/roles/{}/offer", number, "comms", json={"person": "ken"}, headers=yuta)
    call("POST", base + "/roles/{}/decline", number, "comms", headers=people["ken"])
    call("POST", base + "/timeline", number, json={"kind": "note", "text": text}, headers=yuta)
    call("POST", base + "/timeline", text, json={"kind": "note", "text": text}, headers=yuta)
    call(
        "POST",
        base + "/comms",
        number,
        json={"kind": "update", "audience": "internal", "body": text},
        headers=yuta,
    )
    public = {"title": f"sweep {i}", "message": text, "services": {"payment-platform": "degraded"}}
    call("POST", base + "/public-updates", number, json=public, headers=yuta)
    call("POST", base + "/public-updates", number, json={"title": text, "message": text}, headers=yuta)
    call(
        "POST",
        base + "/public-updates",
        number,
        json={**public, "services": {text: "degraded"}},
        headers=yuta,
    )
    window = {
        "title": f"sweep {i}",
        "message": text,
        "services": ["payment-platform"],
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    scheduled = call("POST", "/api/v1/status/maintenance", json=window, headers=yuta)
    call("POST", "/api/v1/status/maintenance", json={**window, "title": text}, headers=yuta)
    call("POST", "/api/v1/status/maintenance", json={**window, "services": [text]}, headers=yuta)
    if scheduled.status_code == 201:
        call("POST", "/api/v1/status/maintenance/{}/cancel", scheduled.json()["id"], headers=yuta)
    call("POST", base + "/runbooks", number, json={"slug": "payment-webhook-backlog"}, headers=yuta)
    call("POST", base + "/runbooks", number, json={"slug": text}, headers=yuta)
    for step in marked:
        call(
            "POST",
            base + "/runbooks/{}/steps/{}",
            number,
            "payment-webhook-backlog",
            step,
            json={"state": "done", "note": text},
            headers=people["mei"],
        )
    call("POST", base + "/escalate", number, headers=yuta)
    call("POST", "/api/v1/people/{}/page-test", "yuta", headers=yuta)
    call("POST", "/api/v1/people/{}/page-test", text[:100] or "x", headers=admin)
    call("POST", base + "/status", number, json={"status": "mitigated", "note": text}, headers=yuta)
    call("POST", base + "/status", number, json={"status": "resolved", "note": text}, headers=yuta)
    pm = "/api/v1/postmortems/{}"
    call("POST", pm, number, headers=yuta)
    sections = {name: f"{value}\n{text}" for name, value in FILLED.items()}
    call(
        "PATCH",
        pm,
        number,
        json={"sections": sections, "title": text, "no_action_reason": text},
        headers=yuta,
    )
    call("PATCH", pm, number, json={"author": text}, headers=yuta)
    item = call(
        "POST",
        pm + "/action-items",
        number,
        json={**ITEM, "verification": f"{ITEM['verification']}; {text}"},
        headers=yuta,
    )
    call(
        "POST",
        pm + "/action-items",
        number,
        json={**ITEM, "title": text, "owner": text, "ticket": text},
        headers=yuta,
    )
    call(
        "PATCH",
        "/api/v1/action-items/{}",
        item.json()["id"],
        json={"note": text, "verification": f"{ITEM['verification']}; {text}", "status": "in_progress"},
        headers=yuta,
    )
    call(
        "PATCH",
        "/api/v1/action-items/{}",
        item.json()["id"],
        json={"title": text, "ticket": text},
        headers=yuta,
    )
    call("POST", "/api/v1/action-items/{}/ticket", item.json()["id"], json={"tracker": text}, headers=yuta)
    for tracker in ("github", "linear"):
        call("POST", "/api/v1/trackers/{}/webhook", tracker, content=text.encode(), headers=yuta)
    for row in call.client.get(f"/api/v1/postmortems/{number}/action-items", headers=yuta).json():
        if not row["ticket"]:  # the pre-filled monitoring item: approval needs a ticket on every item
            call("PATCH", "/api/v1/action-items/{}", row["id"], json={"ticket": "OPS-124"}, headers=yuta)
    call("POST", pm + "/submit", number, json={"reviewer": text}, headers=yuta)
    call("POST", pm + "/submit", number, json={"reviewer": "hana"}, headers=yuta)
    call("POST", pm + "/approve", number, headers=hana)
    call("POST", pm + "/star", number, headers=people["ken"])
    call("DELETE", pm + "/star", number, headers=people["ken"])
    call("POST", pm + "/star", number, headers=people["mei"])
    drill = {"source": number, "trainee": text[:100] or "x", "speed": 2}
    call("POST", "/api/v1/drills", json=drill, headers=people["mei"])
    call("POST", "/api/v1/drills", json={**drill, "trainee": "ken"}, headers=people["mei"])
    call("POST", pm + "/reopen", number, json={"to": text}, headers=yuta)
    call("POST", pm + "/reopen", number, json={"to": "draft"}, headers=yuta)
    # overrides and feeds
    window = {"start": (now + timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=2)).isoformat()}
    override = call(
        "POST",
        "/api/v1/overrides",
        json={"schedule": "payment-platform", "layer": "primary", "person": "ken", "note": text, **window},
        headers=yuta,
    )
    call("DELETE", "/api/v1/overrides/{}", override.json()["id"], headers=yuta)
    call(
        "POST",
        "/api/v1/overrides",
        json={"schedule": text, "layer": text, "person": text, "note": text, **window},
        headers=yuta,
    )
    feed = call("POST", "/api/v1/feeds", json={"schedule": "payment-platform"}, headers=yuta)
    call("POST", "/api/v1/feeds", json={"person": text}, headers=yuta)
    call("POST", "/api/v1/feeds/{}/rotate", feed.json()["id"], headers=yuta)
    call("DELETE", "/api/v1/feeds/{}", feed.json()["id"], headers=yuta)
    _swaps(call, i, text, people, now)
    call("POST", "/api/v1/notifications/{}/retry", 1, headers=yuta)
    call("POST", "/api/v1/integrations/subscriptions/{}/confirm", 1, headers=admin)
    # SLO counts: the pusher's id is an identifier
    count = {"id": text, "good": 9, "total": 10, "at": now.isoformat()}
    call(
        "POST",
        "/api/v1/slos/{}/{}/events",
        "payment-platform",
        "availability",
        json={"events": [count]},
        headers=yuta,
    )
    call("POST", "/api/v1/slos/{}/{}/events", text, text, json={"events": [count]}, headers=yuta)
    _intake(call, i, text, integration, now)


def _swaps(call: Sweep, i: int, text: str, people: dict[str, dict[str, str]], now: datetime) -> None:
    """hana (secondary this week) asks for cover three times — accepted, declined, withdrawn — and
    someone takes the primary's shift; each in a slot of its own."""
    hana, ken, mei = people["hana"], people["ken"], people["mei"]
    swaps = "/api/v1/oncall/swaps"
    for n, (target, verb, actor) in enumerate(
        (("ken", "accept", ken), ("ken", "decline", ken), ("mei", "withdraw", hana))
    ):
        start = now + timedelta(hours=1, minutes=30 * i + 10 * n)
        asked = {"schedule": "payment-platform", "layer": "secondary", "target": target, "note": text}
        made = call(
            "POST",
            swaps,
            json={**asked, "start": start.isoformat(), "end": (start + timedelta(minutes=10)).isoformat()},
            headers=hana,
        )
        call("POST", swaps + "/{}/" + verb, made.json().get("id", 1), headers=actor)
    call("POST", swaps, json={"schedule": text, "layer": text, "target": text, "note": text,
                              "start": now.isoformat(), "end": now.isoformat()}, headers=hana)  # fmt: skip
    taker = mei if i % 2 == 0 else ken
    call(
        "POST",
        "/api/v1/oncall/take",
        json={"schedule": "payment-platform", "layer": "primary", "note": text},
        headers=taker,
    )


def _intake(call: Sweep, i: int, text: str, integration: dict[str, str], now: datetime) -> None:
    details = {"note": text, text: "value", "nested": [{"deep": text}]}
    link = [{"href": f"https://status.example.com/{i}", "text": text}]
    pd = integration["pagerduty"]
    for action in ("trigger", "trigger", "acknowledge", "resolve"):
        payload = {
            "summary": text,
            "source": text,
            "severity": "critical",
            "component": text,
            "group": text,
            "class": text,
            "custom_details": details,
        }
        event = {
            "routing_key": pd,
            "event_action": action,
            "dedup_key": text,
            "links": link,
            "payload": payload,
        }
        call("POST", "/v2/enqueue", json=event)
        call("POST", "/v2/enqueue", json={**event, "dedup_key": f"{i}/{text}", "client": text})
    change = {
        "routing_key": pd,
        "payload": {"summary": text, "source": text, "custom_details": details},
        "links": link,
    }
    call("POST", "/v2/change/enqueue", json=change)
    labels = {
        "alertname": text,
        "severity": "critical",
        "service": "payment-platform",
        "note": text,
        text: "v",
    }
    am = {
        "receiver": text,
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": text, "description": text, text: "v"},
                "startsAt": now.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus:9090/graph?g0.expr={quote(text)}",
                "fingerprint": f"{i:016x}",
            }
        ],
        "groupLabels": {"alertname": text},
        "commonLabels": labels,
        "commonAnnotations": {"summary": text},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": text,
        "truncatedAlerts": 0,
    }
    call("POST", "/api/v1/intake/{}/{}", "alertmanager", integration["alertmanager"], json=am)
    alert = {**am["alerts"][0], "valueString": text, "values": {"B": 1}}  # type: ignore[index]
    grafana = {
        **am,
        "version": "1",
        "orgId": 1,
        "title": text,
        "message": text,
        "state": "alerting",
        "alerts": [alert],
    }
    call("POST", "/api/v1/intake/{}/{}", "grafana", integration["grafana"], json=grafana)
    generic = {
        "dedup_key": f"generic/{i}/{text}"[:255],
        "summary": text,
        "severity": "critical",
        "alertname": text,
        "source": text,
        "labels": {"note": text, text: "v"},
        "annotations": {"description": text},
        "details": details,
        "links": link,
        "group": text,
        "idempotency_key": text,
    }
    for _ in range(2):  # the second is a retry of the same delivery
        call("POST", "/api/v1/intake/{}/{}", "generic", integration["generic"], json=generic)
    resolved = {**generic, "status": "resolved", "idempotency_key": f"{text} resolved"}
    call("POST", "/api/v1/intake/{}/{}", "generic", integration["generic"], json=resolved)
    alarm = signer.alarm(AlarmName=text, AlarmDescription=text, NewStateReason=text)
    note = signer.sign(signer.notification(alarm, subject=text, topic=TOPIC, message_id=f"sns-{i}-{text}"))
    plain = {"Content-Type": "text/plain; charset=UTF-8"}
    call("POST", "/api/v1/intake/{}/{}", "sns", integration["sns"], content=signer.body(note), headers=plain)
    # a heartbeat's ping: a body (the sample) is ignored, never stored; the sample as the key is a 404
    call("POST", "/api/v1/heartbeats/{}", integration["heartbeat"], content=text.encode(), headers=plain)
    call("POST", "/api/v1/heartbeats/{}", text, content=text.encode(), headers=plain)


def _pages(
    call: Sweep,
    i: int,
    text: str,
    csrf: str,
    people: dict[str, dict[str, str]],
    marked: list[str],
    clock: Any,
) -> None:
    fetch = {"Sec-Fetch-Mode": "cors"}

    def form(route: str, *args: Any, **data: Any) -> Any:
        return call(
            "POST", route, *args, data={**data, "csrf_token": csrf}, headers=fetch, follow_redirects=False
        )

    def newest(path: str) -> int:
        rows = call.client.get(path, headers=people["admin"]).json()
        return max((row["id"] for row in rows), default=1)

    form("/oncall/page-test")
    # the status page's email form carries its own CSRF token (a double-submit cookie, no session)
    found = re.search(r'name="csrf_token" value="([^"]+)">\s*<label>Email', call.client.get("/status").text)
    assert found, "the status page has no subscription form"
    for email in (text, f"sweep{i}@example.org"):
        call(
            "POST",
            "/status/subscribe",
            data={"email": email, "csrf_token": found.group(1)},
            headers=fetch,
            follow_redirects=False,
        )
    call("POST", "/status/{}/{}", "confirm", text[:150] or "x", headers=fetch)
    call("POST", "/a/{}", text[:150] or "x", headers=fetch)
    for path in PHONE_HOOKS:
        call("POST", f"/hooks/{path}", data={"From": text, "Body": text, "Digits": "1", "text": text})
    declared = form(
        "/declare", title=f"page sweep {i}", severity="SEV2", service="payment-platform", summary=text
    )
    number = declared.headers["location"].rsplit("/", 1)[-1]
    form("/declare", title=text, severity="SEV4", service=text, summary=text)
    base = "/incidents/{}"
    form(base + "/severity", number, severity="SEV1", reason=text)
    form(base + "/ack", number)
    form(base + "/entries", number, kind="note", text=text)
    form(base + "/roles/offer", number, role="ops", person=text)
    form(base + "/roles/offer", number, role="planning", person="hana")
    form(base + "/roles/{}/withdraw", number, "planning")
    form(base + "/roles/offer", number, role="planning", person="hana")
    form(base + "/roles/{}/accept", number, "planning")
    form(base + "/roles/{}/decline", number, "planning")
    form(base + "/comms", number, kind="update", audience="internal", body=text)
    form(
        base + "/publish", number, title=f"page sweep {i}", message=text, services="payment-platform=degraded"
    )
    form(base + "/publish", number, title=text, message=text, services=f"{text}=degraded")
    form(base + "/runbooks", number, slug="payment-webhook-backlog")
    form(base + "/runbooks", number, slug=text)
    form(
        base + "/runbooks/{}/steps/{}", number, "payment-webhook-backlog", marked[0], state="done", note=text
    )
    form(base + "/escalate", number)
    form(base + "/status", number, status="resolved", note=text)
    pm = "/postmortems/{}"
    form(pm + "/start", number)
    sections = {name: f"{value}\n{text}" for name, value in FILLED.items()}
    form(pm + "/sections", number, **sections, title=text, no_action_reason=text)
    form(pm + "/action-items", number, **{**ITEM, "verification": f"{ITEM['verification']}; {text}"})
    form(pm + "/action-items", number, **{**ITEM, "title": text, "owner": text, "ticket": text})
    items = call.client.get(f"/api/v1/postmortems/{number}/action-items", headers=people["yuta"]).json()
    form("/action-items/{}/status", items[0]["id"], status="in_progress", note=text)
    form(pm + "/submit", number, reviewer=text)
    form(pm + "/submit", number, reviewer="hana")
    form(pm + "/approve", number)
    for row in call.client.get(f"/api/v1/postmortems/{number}/action-items", headers=people["yuta"]).json():
        if not row["ticket"]:  # approval needs a ticket on every item
            call.client.patch(
                f"/api/v1/action-items/{row['id']}", json={"ticket": "OPS-1"}, headers=people["yuta"]
            )
    # the reviewer approves (Final), so the page's star below gets through
    approved = call.client.post(f"/api/v1/postmortems/{number}/approve", headers=people["hana"])
    assert approved.status_code == 200, approved.text
    form(pm + "/star", number)  # stores no text: the signed-in person and the time
    form(base + "/drill", number, trainee=text[:100], speed=text[:20])
    form(base + "/drill", number, trainee="ken", speed="3")
    form(pm + "/reopen", number, to=text)
    now = clock.now()
    window = {
        "start": (now + timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M"),  # ahead in any timezone
        "end": (now + timedelta(hours=31)).strftime("%Y-%m-%dT%H:%M"),
    }
    form("/oncall/overrides", layer="payment-platform/primary", person="ken", note=text, **window)
    form("/oncall/overrides", layer=text, person=text, note=text, **window)
    form("/oncall/overrides/{}/remove", newest("/api/v1/overrides"))
    slot = now + timedelta(hours=20, minutes=30 * i)  # yuta's primary shift
    ahead = {"start": slot.isoformat(), "end": (slot + timedelta(minutes=10)).isoformat()}
    form("/oncall/swaps", layer="payment-platform/primary", person="hana", note=text, **ahead)
    form("/oncall/swaps/{}/{}", newest("/api/v1/oncall/swaps"), "withdraw")
    form("/oncall/swaps", layer=text, person=text, note=text, **ahead)
    for n, verb in enumerate(("accept", "decline")):  # yuta, the team's lead, answers for mei
        start = datetime(2026, 6, 29, 1, tzinfo=UTC) + timedelta(minutes=30 * i + 10 * n)  # hana's week
        asked = {"schedule": "payment-platform", "layer": "primary", "target": "mei", "note": text}
        window = {"start": start.isoformat(), "end": (start + timedelta(minutes=10)).isoformat()}
        made = call("POST", "/api/v1/oncall/swaps", json={**asked, **window}, headers=people["hana"])
        form("/oncall/swaps/{}/{}", made.json().get("id", 1), verb)
    form("/oncall/take", layer="payment-platform/secondary")
    form("/oncall/feeds", of="schedule:payment-platform")
    form("/oncall/feeds", of=f"person:{text}")
    feed = newest("/api/v1/feeds")
    form("/oncall/feeds/{}/rotate", feed)
    form("/oncall/feeds/{}/delete", feed)
    form("/settings/tokens", person="hana", scope="read", name=text)
    form("/settings/tokens", person=text, scope="read", name="x")
    form("/settings/tokens/{}/revoke", newest("/api/v1/tokens"))
    form("/settings/users", handle="ken", role="responder", password=text)  # ken's user once, then 409
    form("/settings/users", handle=text, role=text, password=text)
    form("/settings/users/{}/role", "ken", role="read", confirm="yes")
    form("/settings/users/{}/role", text, role="read")
    # argon2 takes ~0.6 s a hash here: two samples become ken's password, the rest are asked to confirm
    form("/settings/users/{}/password", "ken", password=text, confirm="yes" if i < 2 else "")
    form("/settings/users/{}/disable", "ken", confirm="yes")
    form("/settings/users/{}/disable", text, confirm="yes")
    form("/settings/users/{}/enable", "ken")


# ---------------------------------------------------------------- the CLI


def test_the_cli_stores_no_raw_secret(
    app: Any,
    applied_ops: Any,
    make_token: Callable[..., str],
    engine: Engine,
    db_url: str,
    clock: Any,
    tmp_path: Path,
) -> None:
    token = make_token("responder", person="hana")
    start = clock.now() + timedelta(hours=1)
    env = {"HOME": str(tmp_path), "TZ": "UTC", "COLUMNS": "200"}
    outputs = []
    with serve(app) as url:
        for n, note in enumerate(_bundles(SAMPLES, 2000)):  # a note is at most 2,000 characters
            window = [
                "--start",
                (start + timedelta(hours=n)).isoformat(),
                "--end",
                (start + timedelta(hours=n + 1)).isoformat(),
            ]
            added = cli_support.run_cli(
                [
                    "override", "add",
                    "--schedule", "payment-platform", "--layer", "primary", "--person", "ken", *window,
                    "--note", note,
                ],
                env={**env, "COMMANDPOST_URL": url, "COMMANDPOST_TOKEN": token},
            )  # fmt: skip
            assert added.returncode == 0, added.stderr
            outputs.append(added.stdout + added.stderr)
    name = "db password is hunter2, key AKIAIOSFODNN7EXAMPLE"  # a name is one line of at most 200
    created = cli_support.run_cli(
        ["token", "create", "--person", "hana", "--scope", "read", "--name", name],
        env={**env, "COMMANDPOST_DATABASE_URL": db_url},
    )
    assert created.returncode == 0, created.stderr
    outputs.append(created.stderr)  # (stdout is the new token itself)
    assert [leak for out in outputs for leak in leaks("cli output", out)] == []
    assert database_leaks(engine) == []
    with engine.connect() as conn:  # the override notes and the token's name did get there, redacted
        notes = [row[0] for row in conn.exec_driver_sql("SELECT note FROM oncall_override")]
        names = [row[0] for row in conn.exec_driver_sql("SELECT name FROM api_token WHERE name <> ''")]
    assert len(notes) == len(_bundles(SAMPLES, 2000)) and all("[REDACTED:" in note for note in notes)
    assert names == ["db password is [REDACTED:keyword], key [REDACTED:aws-access-key]"]


def _bundles(texts: list[str], limit: int) -> list[str]:
    """``texts`` joined a line each, in as few pieces of at most ``limit`` characters as they go."""
    bundles: list[str] = []
    for text in texts:
        if bundles and len(bundles[-1]) + 1 + len(text) <= limit:
            bundles[-1] += "\n" + text
        else:
            bundles.append(text)
    return bundles


# ---------------------------------------------------------------- identifiers keep working


def test_a_dedup_key_holding_a_secret_still_deduplicates_and_is_stored_redacted(
    client: TestClient, sessions: sessionmaker[Session], session: Session, engine: Engine, applied_ops: Any
) -> None:
    key = keys(sessions)["generic"]
    url = f"/api/v1/intake/generic/{key}"
    secret_key = "db01 password is hunter2"
    other_key = "db01 password is hunter3"  # redacts alike: must stay a second alert

    def send(dedup_key: str, status: str = "firing", idempotency_key: str | None = None) -> Any:
        body = {
            "dedup_key": dedup_key,
            "summary": "DB login failing",
            "severity": "warning",
            "status": status,
        }
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
        answer = client.post(url, json=body)
        assert answer.status_code == 202, answer.text
        return answer.json()

    first, again = send(secret_key), send(secret_key)
    assert (first["outcome"], again["outcome"], again["alert"]) == (
        "recorded",
        "deduplicated",
        first["alert"],
    )
    third = send(other_key)
    assert third["outcome"] == "recorded" and third["alert"] != first["alert"]
    resolved = send(secret_key, "resolved")
    assert (resolved["outcome"], resolved["alert"]) == ("resolved", first["alert"])
    reopened = send(secret_key)
    assert reopened["alert"] not in (first["alert"], third["alert"])
    # A retried delivery whose idempotency key holds a secret changes nothing; another key does.
    delivered = send("disk/db02", idempotency_key="token is cp_9f8e7d6c5b")
    retried = send("disk/db02", idempotency_key="token is cp_9f8e7d6c5b")
    assert (retried["outcome"], retried["alert"]) == ("deduplicated", delivered["alert"])
    send("disk/db02", idempotency_key="token is cp_9f8e7d6c5c")

    session.rollback()
    alerts = {a.id: a for a in session.scalars(select(Alert))}
    assert alerts[first["alert"]].count == 2 and alerts[third["alert"]].count == 1
    assert alerts[delivered["alert"]].count == 2  # the retry was not counted, the new delivery was
    shown = alerts[first["alert"]].dedup_key
    assert shown.startswith("db01 password is [REDACTED:keyword] [sha256:") and shown.endswith("]")
    assert shown != alerts[third["alert"]].dedup_key
    assert alerts[reopened["alert"]].dedup_key == shown  # the same key, stored the same way
    assert session.scalar(select(func.count()).select_from(AlertEvent)) == 2
    assert database_leaks(engine, ["hunter2", "hunter3", "cp_9f8e7d6c5b", "cp_9f8e7d6c5c"]) == []
