"""Similar past incidents (issue 21): precision@3 on the labelled set, and what a query costs.

In-process, on the real code and both databases: a fresh migrated database gets the labelled set of
tests/fixtures/similar/labelled.yaml (through the triggers that keep the full-text index), then each
query incident's three suggestions are compared with its expected ones. Twice: with the queries'
alerts (an incident opened by an alert) and without (declared by a person: words and service only).
Then 5,000 filler incidents of words drawn from the same vocabulary join the history, and the
13 queries are timed again (median of 5 rounds each).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session
from tests.backup_support import empty_database
from tests.similar_support import FIRST, LABELLED, load, precision_at_3

from commandpost import wiring
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.incidents.models import Incident
from commandpost.settings import Settings
from commandpost.similar import service

Row = tuple[str, str, str, bool]
FLOOR = 0.9
FILLER = 5_000

NOTES = f"""\
The labelled set is {LABELLED.relative_to(LABELLED.parents[3])}: 62 incidents (13 failure modes
seen four or five times, with varied wording; distractors on the same services; two drills that look
like real incidents and must never be suggested). precision@3 is the share of each query's three
suggestions that are among its expected ones, averaged over the 13 queries. Scores come from the
database's own full-text index (FTS5 with porter stemming; PostgreSQL `tsvector`, `english`, GIN)
combined with alert identity and service (docs/incidents.md, "Similar past incidents"); no embedding
model was tried. The set was written by the same hand as the scorer, so it is a regression floor, not
a claim about every team's history. The query timings are in-process on a shared 2-core machine.
"""


def _filler(session: Session, *, count: int) -> None:
    """``count`` incidents of random words from the labelled set's vocabulary, before it in time."""
    doc = yaml.safe_load(LABELLED.read_text())
    vocabulary = sorted(
        {w for item in doc["incidents"] for w in (item["title"] + " " + item.get("summary", "")).split()}
    )
    services = sorted({item["service"] for item in doc["incidents"]})
    rng = random.Random(21)
    start = FIRST - timedelta(days=count)
    for i in range(count):
        at = start + timedelta(hours=i)
        session.add(
            Incident(
                number=100_000 + i,
                title=" ".join(rng.sample(vocabulary, 5)),
                summary=" ".join(rng.sample(vocabulary, 12)),
                impact="",
                service=rng.choice(services),
                severity="SEV3",
                status="closed",
                labels={},
                data_loss=False,
                manual_intervention=False,
                detection="manual",
                channel=f"filler-{i}",
                no_runbook=True,
                created_by="bench",
                detected_at=at,
                declared_at=at,
                reopen_count=0,
                updated_at=at,
            )
        )
        if i % 500 == 499:
            session.flush()
    session.flush()


def _timed(session: Session, numbers: list[int]) -> float:
    """Median milliseconds of one ``similar`` call, over 5 rounds of every query."""
    times = []
    for _ in range(5):
        for number in numbers:
            started = time.perf_counter()
            service.similar(session, number=number)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _one(backend: str) -> list[Row]:
    rows: list[Row] = []
    for declared in (False, True):
        with tempfile.TemporaryDirectory() as tmp, empty_database(backend, Path(tmp)) as url:
            engine = create_db_engine(url)
            migrate.upgrade(engine)
            with make_session_factory(engine)() as s:
                labelled = load(s, declared_queries=declared)
                s.commit()
                precision = precision_at_3(s, labelled)
                mean = sum(precision.values()) / len(precision)
                misses = ", ".join(q for q, p in precision.items() if p < 1) or "none"
                how = "declared, no alerts" if declared else "opened by their alerts"
                rows.append(
                    (
                        f"{backend}: precision@3, 13 queries {how} (below 1: {misses})",
                        f">= {FLOOR}",
                        f"{mean:.2f}",
                        mean >= FLOOR,
                    )
                )
                if not declared:
                    queries = [labelled.numbers[q] for q in labelled.expected]
                    small = _timed(s, queries)
                    _filler(s, count=FILLER)
                    s.commit()
                    large = _timed(s, queries)
                    after = sum(precision_at_3(s, labelled).values()) / len(precision)
                    rows.append(
                        (
                            f"{backend}: one query, 62 incidents (median)",
                            "< 50 ms",
                            f"{small:.1f} ms",
                            small < 50,
                        )
                    )
                    rows.append(
                        (
                            f"{backend}: one query, {FILLER + 62:,} incidents (median)",
                            "< 100 ms",
                            f"{large:.1f} ms",
                            large < 100,
                        )
                    )
                    rows.append(
                        (
                            f"{backend}: precision@3 with the {FILLER:,} filler incidents",
                            f">= {FLOOR}",
                            f"{after:.2f}",
                            after >= FLOOR,
                        )
                    )
            engine.dispose()
    return rows


def run() -> list[Row]:
    wiring.wire(Settings(engine_enabled=False))
    return [*_one("sqlite"), *_one("postgresql")]
