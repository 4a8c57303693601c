"""Metrics at volume: response-time statistics over 1,000,000 incidents, budgets and burn rates of
100 SLOs over 10,000,000 pushed counts, on SQLite and PostgreSQL.

Seeding is bulk SQL (a recursive CTE on SQLite, ``generate_series`` on PostgreSQL) into the real
tables. Incidents go into ``incident``; on SQLite the migration's triggers keep ``incident_response``
and its day and histogram tables as in production, on PostgreSQL the same logic runs set-wise after
the load (row triggers would take many minutes there). Counts go into ``slo_event`` and the rollups
are rebuilt with ``slo.rebuild_rollups`` (what ``push`` maintains one batch at a time).

The seeded databases are kept between runs (``~/.cache/commandpost-bench/metrics-v2.sqlite``, or
under ``BENCH_METRICS_CACHE``, and the PostgreSQL database ``commandpost_bench_metrics_v2``):
seeding takes minutes, a cached run well under one. ``BENCH_METRICS_FRESH=1`` seeds again,
``BENCH_METRICS_DROP=1`` drops both afterwards. Timed: the service calls the API makes, best of 3
after one cold call.

    .venv/bin/python -m bench.metrics
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.metrics import percentiles, response, slo
from commandpost.metrics.models import RESPONSE_METRICS
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"
CACHE = Path(os.environ.get("BENCH_METRICS_CACHE", Path.home() / ".cache" / "commandpost-bench"))
"""Outside the working tree: ``make clean`` (rm -r var) must not throw away ten minutes of seeding."""
PG_ADMIN_URL = os.environ.get("COMMANDPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_NAME = "commandpost_bench_metrics_v2"
SEED_VERSION = "metrics-v2"
INCIDENTS = 1_000_000
EVENTS = 10_000_000
SLOS = 100
NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
END = int(NOW.timestamp())
TARGET_SECONDS = 1.0
Row = tuple[str, str, str, bool]

NOTES = """\
- **Response times** (`GET /api/v1/metrics/response`): count, mean, median and p90 of MTTD, MTTA,
  MTTM and MTTR for each severity over all 1,000,000 incidents (1 % drills excluded). Counts and sums
  come from the per-day table (a few thousand rows) plus the partial days at the edges; each median
  and p90 is one `ORDER BY … LIMIT 1 OFFSET k` walking a covering index from its nearer end
  (32 such queries), so nothing is sorted at query time.
- **SLOs** (`GET /api/v1/slos`): budget over each SLO's window (30d, 28d, 7d or the calendar
  quarter) and burn rates over 5m/30m/1h/6h/3d for 100 SLOs fed by 10,000,000 counts spread over
  30 days, read from minute/hour/day rollups: one UNION ALL of bucket ranges.
- Seeding (first run only, then cached) is reported as information; the timed figures are the
  best of three warm calls, after one cold call that is shown too.
"""


# ---------------------------------------------------------------- databases (cached between runs)


def _seeded(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version FROM bench_seed")).scalar() == SEED_VERSION
    except Exception:
        return False


@contextmanager
def database(kind: str) -> Iterator[tuple[Engine, bool] | None]:
    """A migrated database with the bench data, and whether it had to be seeded now."""
    fresh = os.environ.get("BENCH_METRICS_FRESH") == "1"
    drop = os.environ.get("BENCH_METRICS_DROP") == "1"
    if kind == "sqlite":
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / "metrics-v2.sqlite"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = create_db_engine(f"sqlite:///{path}")
        try:
            yield engine, _prepare(engine)
        finally:
            engine.dispose()
            if drop:
                shutil.rmtree(CACHE, ignore_errors=True)
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_NAME}
            ).scalar()
            if exists and fresh:
                conn.execute(text(f'DROP DATABASE "{PG_NAME}" WITH (FORCE)'))
                exists = None
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    except Exception:
        yield None
        return
    engine = create_db_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_NAME)
    try:
        yield engine, _prepare(engine)
    finally:
        engine.dispose()
        if drop:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        admin.dispose()


def _prepare(engine: Engine) -> bool:
    migrate.upgrade(engine)
    if _seeded(engine):
        return False
    _seed(engine)
    return True


def _ops_folder(tmp: Path) -> Path:
    """examples/ops with 100 SLOs on the payment platform (its two, then slo-000 … slo-097), windows
    and SLIs mixed."""
    folder = tmp / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    path = folder / "services" / "payment-platform.yaml"
    data = yaml.safe_load(path.read_text())
    windows = ("30d", "quarter", "28d", "7d")
    data["slos"] += [
        {
            "name": f"slo-{i:03d}",
            "objective": (99.9, 99.99, 99.5, 99.95)[i % 4],
            "window": windows[i % 4],
            "sli": "availability" if i % 2 else "correctness",
        }
        for i in range(SLOS - len(data["slos"]))
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _loader(engine: Engine) -> Engine:
    """The engine bulk loading runs on: for SQLite, no journal and no fsync (a bench file, rebuilt
    if a load is interrupted) with a 1 GiB page cache; PostgreSQL as it is, without commit waits."""
    if engine.dialect.name != "sqlite":
        return engine
    engine.dispose()
    loader = create_engine(engine.url)

    @event.listens_for(loader, "connect")
    def _fast(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1048576", "temp_store=MEMORY"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    return loader


def _seed(engine: Engine) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with tempfile.TemporaryDirectory() as tmp, make_session_factory(engine)() as s:
        policy_service.apply_folder(
            s, path=_ops_folder(Path(tmp)), now=NOW - timedelta(days=400), actor="bench"
        )
        s.commit()
    loader = _loader(engine)
    incidents, *counts = _seed_sql(sqlite)
    with make_session_factory(loader)() as s:
        if sqlite:
            s.execute(text(incidents))  # the triggers keep the fact, day and histogram tables
        else:
            s.execute(text("SET LOCAL synchronous_commit = off"))
            _bulk_incidents(s, incidents)
        fast = not sqlite and _without_fk_checks(s)
        for statement in counts:
            s.execute(text(statement))
        if fast:
            s.execute(text("ALTER TABLE slo_event ENABLE TRIGGER ALL"))
        slo.rebuild_rollups(s)
        _check_facts(s)
        s.execute(text("CREATE TABLE IF NOT EXISTS bench_seed (version VARCHAR(40))"))
        s.execute(text("DELETE FROM bench_seed"))
        s.execute(text("INSERT INTO bench_seed VALUES (:v)"), {"v": SEED_VERSION})
        s.commit()
    with loader.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        if sqlite:
            conn.execute(text("PRAGMA journal_mode=WAL"))
    if loader is not engine:
        loader.dispose()


def _migration() -> Any:
    """Migration 0010 as a module: its backfill statement is the triggers' logic, set at a time."""
    path = next((REPO / "src" / "commandpost" / "db" / "migrations" / "versions").glob("0010_*.py"))
    spec = importlib.util.spec_from_file_location("metrics_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bulk_incidents(s: Session, incidents: str) -> None:
    """PostgreSQL: a million rows through row triggers takes many minutes, so load them with the
    triggers off, then fill the fact table with the migration's own backfill and the day and
    histogram tables with one GROUP BY each (checked against the facts by :func:`_check_facts`)."""
    for table in ("incident", "incident_response"):
        s.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    s.execute(text(incidents))
    migration = _migration()
    s.execute(text(migration._BACKFILL.format(**migration._fill("postgresql", "i"))))
    sums = ", ".join(f"COUNT({m}), COALESCE(SUM({m}), 0)" for m in RESPONSE_METRICS)
    s.execute(
        text(
            "INSERT INTO incident_response_day SELECT severity, detected / 86400 * 86400, service, COUNT(*), "
            f"{sums} FROM incident_response GROUP BY severity, detected / 86400 * 86400, service"
        )
    )
    for m in RESPONSE_METRICS:
        s.execute(
            text(
                f"INSERT INTO incident_response_hist SELECT detected / 86400 * 86400, severity, '{m}', "
                f"{percentiles.bucket_sql(m)}, COUNT(*) FROM incident_response WHERE {m} IS NOT NULL "
                f"GROUP BY detected / 86400 * 86400, severity, {percentiles.bucket_sql(m)}"
            )
        )
    for table in ("incident", "incident_response"):
        s.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def _without_fk_checks(s: Session) -> bool:
    """PostgreSQL: skip the per-row foreign-key check of 10M counts whose series exist (superuser
    only; otherwise load with the checks)."""
    try:
        with s.begin_nested():
            s.execute(text("ALTER TABLE slo_event DISABLE TRIGGER ALL"))
    except Exception:
        return False
    return True


def _check_facts(s: Session) -> None:
    counts = ", ".join(f"COUNT({m})" for m in RESPONSE_METRICS)
    facts = s.execute(text(f"SELECT COUNT(*), {counts} FROM incident_response")).one()
    day_counts = ", ".join(f"SUM(n_{m})" for m in RESPONSE_METRICS)
    days = s.execute(text(f"SELECT SUM(incidents), {day_counts} FROM incident_response_day")).one()
    hist: dict[str, int] = dict(
        s.execute(text("SELECT metric, SUM(n) FROM incident_response_hist GROUP BY metric")).all()
    )
    assert tuple(facts) == tuple(days) == (facts[0], *(hist[m] for m in RESPONSE_METRICS)), (
        facts,
        days,
        hist,
    )


def _seed_sql(sqlite: bool) -> list[str]:
    """1M incidents over 360 days (severity mix 5/15/40/40 %, 1 % drills, 10 % without an impact
    start) and 10M counts for 100 SLOs, one count every 26 s per SLO over 30 days."""

    def numbers(count: int) -> tuple[str, str]:
        """(prefix, FROM clause) yielding i = 1 … count."""
        if sqlite:
            return (
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) ",
                "FROM n",
            )
        return "", f"FROM generate_series(1::bigint, {count}) AS n(i)"

    def at(seconds: str) -> str:
        if sqlite:
            return f"strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000'"
        return f"to_timestamp({seconds})"

    false = "0" if sqlite else "false"
    empty, drill = (
        ("'{}'", """'{"drill": "true"}'""") if sqlite else ("'{}'::jsonb", """'{"drill": "true"}'::jsonb""")
    )
    slo_name = "substr('00' || (i - 1), -3)" if sqlite else "lpad((i - 1)::text, 3, '0')"
    detected = f"({END} - 360 * 86400 + i * 31)"
    mitigated = f"({detected} + 60 + (i * 7) % 14400)"
    severity = (
        "CASE WHEN i % 20 = 0 THEN 'SEV1' WHEN i % 20 < 4 THEN 'SEV2' "
        "WHEN i % 20 < 12 THEN 'SEV3' ELSE 'SEV4' END"
    )
    prefix, source = numbers(INCIDENTS)
    incidents = (
        f"{prefix}INSERT INTO incident (id, number, title, summary, impact, service, severity, status, "
        "labels, data_loss, manual_intervention, detection, channel, no_runbook, created_by, "
        "impact_started_at, detected_at, declared_at, acknowledged_at, mitigated_at, resolved_at, "
        "reopen_count, updated_at) "
        f"SELECT i, i, 'bench incident', '', '', 'svc-' || (i % 20), {severity}, 'resolved', "
        f"CASE WHEN i % 100 = 7 THEN {drill} ELSE {empty} END, {false}, {false}, 'automatic', 'inc-bench', "
        f"{false}, 'bench', CASE WHEN i % 10 = 3 THEN NULL ELSE {at(f'{detected} - (i * 7919) % 3600')} END, "
        f"{at(detected)}, {at(detected)}, {at(f'{detected} + (i * 104729) % 1800')}, {at(mitigated)}, "
        f"{at(f'{mitigated} + (i * 13) % 86400')}, 0, {at(detected)} {source}"
    )
    prefix, source = numbers(SLOS - 2)
    created = at(str(END - 400 * 86400))
    series = (
        f"{prefix}INSERT INTO slo_series (service, slo, created_at) "
        f"SELECT 'payment-platform', 'slo-' || {slo_name}, {created} {source}"
    )
    originals = (
        "INSERT INTO slo_series (service, slo, created_at) VALUES "
        f"('payment-platform', 'availability', {created}), ('payment-platform', 'charge-success', {created})"
    )
    prefix, source = numbers(EVENTS)
    events = (
        f"{prefix}INSERT INTO slo_event (series_id, client_id, at, good, total) "
        f"SELECT (i % {SLOS}) + 1, 'e' || i, {at(f'{END} - 2600000 + (i / {SLOS}) * 26')}, "
        f"100 - CASE WHEN i % 997 = 0 THEN 40 WHEN i % 13 = 0 THEN 1 ELSE 0 END, 100 {source}"
    )
    return [incidents, series, originals, events]


# ---------------------------------------------------------------- timing


def _time(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """(cold seconds, best warm seconds of three, last result)."""
    started = time.perf_counter()
    result = call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(3):
        started = time.perf_counter()
        result = call()
        warm.append(time.perf_counter() - started)
    return cold, min(warm), result


def measure(engine: Engine) -> dict[str, Any]:
    sessions = make_session_factory(engine, read_only=True)
    with sessions() as s:
        config: OpsConfig = policy_service.current_config(s)

    def response_times() -> Any:
        with sessions() as s:
            return response.response_times(s, start=NOW - timedelta(days=366), end=NOW)

    def budgets() -> Any:
        with sessions() as s:
            return slo.statuses(s, config=config, now=NOW)

    out: dict[str, Any] = {}
    out["response"] = _time(response_times)
    out["slos"] = _time(budgets)
    with sessions() as s:
        out["facts"] = s.execute(text("SELECT COUNT(*) FROM incident_response")).scalar()
        out["events"] = s.execute(text("SELECT MAX(id) FROM slo_event")).scalar()
    return out


def _check(result: dict[str, Any]) -> str:
    report = result["response"][2]
    incidents = sum(r.incidents for r in report.rows)
    statuses = result["slos"][2]
    return f"{incidents:,} incidents in {len(report.rows)} severities; {len(statuses)} SLOs"


def run() -> list[Row]:
    rows: list[Row] = []
    for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        started = time.perf_counter()
        with database(kind) as found:
            if found is None:
                rows.append((f"metrics ({label})", "—", "PostgreSQL unreachable", False))
                continue
            engine, seeded = found
            seed_seconds = time.perf_counter() - started
            result = measure(engine)
        cold, warm, _ = result["response"]
        rows.append(
            (
                f"MTTD/MTTA/MTTM/MTTR count, mean, median, p90 per severity, 1,000,000 incidents ({label})",
                f"≤ {TARGET_SECONDS:g} s",
                f"{warm:.3f} s (cold {cold:.3f} s)",
                warm <= TARGET_SECONDS,
            )
        )
        cold, warm, _ = result["slos"]
        rows.append(
            (
                f"budget + burn rates (5 windows) of 100 SLOs over 10,000,000 counts ({label})",
                f"≤ {TARGET_SECONDS:g} s",
                f"{warm:.3f} s (cold {cold:.3f} s)",
                warm <= TARGET_SECONDS,
            )
        )
        rows.append(
            (
                f"metrics bench data ({label})",
                "—",
                f"{'seeded in' if seeded else 'cached; opened in'} {seed_seconds:.0f} s: {_check(result)}; "
                f"{result['facts']:,} response rows, {result['events']:,} counts",
                True,
            )
        )
    return rows


if __name__ == "__main__":
    for figure, target, result, ok in run():
        print(f"{'PASS' if ok else 'FAIL'}  {figure:<95} {target:<8} {result}")
