"""Coverage and toil on a seeded incident history (both databases); coverage of a folder on disk."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.errors import ValidationFailed
from commandpost.incidents import timeline
from commandpost.policy import service as policy_service
from commandpost.runbooks import coverage, service, toil
from tests.conftest import EXAMPLE_OPS
from tests.factories import make_alert_incident, make_incident

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SLUG = "payment-webhook-backlog"
EXTRA = """---
owner: payments
last_updated: 2026-06-01
service: payment-platform
slo: availability
severity: SEV3
alerts: [CacheCold]
---
# Runbook: Cache warm-up
## 0. Symptom
- Firing alert: CacheCold
## 1. Detect
- Hit ratio below 80%
## 2. Triage
- SEV3
## 3. Mitigate
- [ ] Warm the cache: `./scripts/warm-cache`
## 4. Verify
- [ ] Hit ratio above 95%: `./scripts/hit-ratio`
## 5. Comms
- None needed
## 6. Postmortem
- Not needed
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The example ops plus a third runbook that no alert points to, last updated 2026-06-01."""
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "runbooks" / "cache-warmup.md").write_text(EXTRA)
    return ops


@pytest.fixture
def applied(sessions: sessionmaker[Session], clock: FrozenClock, folder: Path) -> FrozenClock:
    clock.set(NOW)
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=folder, now=NOW, actor="test")
    return clock


@pytest.fixture
def reads(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine, read_only=True)


def test_coverage_on_a_seeded_history(applied, sessions, reads):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        make_alert_incident(s, now=NOW - timedelta(days=2))  # INC-1: used payment-webhook-backlog
        make_alert_incident(
            s,
            now=NOW - timedelta(days=3),
            title="Disk full",
            group_key="alertname=DiskFull",
            runbook=None,
            no_runbook=True,
        )  # INC-2: paged without a runbook, inside the window
        make_alert_incident(
            s,
            now=NOW - timedelta(days=40),
            title="CPU hot",
            group_key="alertname=CpuHot",
            runbook=None,
            no_runbook=True,
        )  # INC-3: outside a 30-day window
        make_incident(s, now=NOW - timedelta(days=1))  # declared by hand: never "paged without a runbook"
    with reads() as s:
        report = coverage.from_database(s, now=NOW, days=30)
        wide = coverage.from_database(s, now=NOW, days=60)
    assert report.paging_rules_without_runbook == [] and report.strict_ok
    assert [p["number"] for p in report.paged_without_runbook or []] == ["INC-2"]
    assert [p["number"] for p in wide.paged_without_runbook or []] == ["INC-3", "INC-2"]
    assert report.unpointed == ["cache-warmup"]
    assert [(s["slug"], s["age_days"]) for s in report.stale] == [("cache-warmup", 179)]
    assert report.never_used == ["cache-warmup", "db-connection-exhaustion"]
    with reads() as s, pytest.raises(ValidationFailed, match="days must be at least 1"):
        coverage.from_database(s, now=NOW, days=0)


def test_coverage_of_a_folder_on_disk_finds_paging_rules_without_runbook(folder: Path) -> None:
    service_file = folder / "services" / "payment-platform.yaml"
    # The DBConnectionsExhausted rule loses its runbook; the availability burn rule still names it.
    text = service_file.read_text()
    service_file.write_text(text.replace("    runbook: db-connection-exhaustion\n", "", 1))
    report = coverage.from_folder(folder, now=NOW)
    assert not report.strict_ok
    assert report.paging_rules_without_runbook == [
        {
            "service": "payment-platform",
            "alert": "DBConnectionsExhausted",
            "severity": "SEV1",
            "runbook": None,
            "problem": "no runbook",
        }
    ]
    assert report.unpointed == ["cache-warmup"]
    assert report.paged_without_runbook is None and report.never_used is None  # no history on disk
    assert coverage.from_folder(EXAMPLE_OPS, now=NOW).to_dict()["strict_ok"] is True


def _run_steps(sessions: sessionmaker[Session], marks: list[tuple[str, str]], *, day: int) -> None:
    """One declared incident (IC @yuta holds Ops) that ran the backlog runbook's steps ``marks``."""
    when = NOW - timedelta(days=day)
    with transaction(sessions) as s:
        incident = make_incident(s, now=when)
        service.attach(s, incident=incident, slug=SLUG, by="yuta", now=when)
        for step, state in marks:
            service.mark_step(
                s,
                incident=timeline.incident(s, number=incident.number),
                slug=SLUG,
                step_ref=step,
                state=state,
                by="yuta",
                now=when,
            )


def test_toil_candidates_are_commands_done_by_hand_in_n_incidents(applied, sessions, reads):  # type: ignore[no-untyped-def]
    _run_steps(sessions, [("3.3", "done"), ("3.1", "done"), ("3.2", "skipped")], day=9)
    _run_steps(sessions, [("3.3", "done"), ("3.1", "done"), ("4.3", "done")], day=5)
    _run_steps(sessions, [("3.3", "done"), ("3.1", "failed"), ("3.2", "skipped")], day=2)
    _run_steps(sessions, [("3.1", "done")], day=1)
    with reads() as s:
        ranked = toil.candidates(s, min_incidents=2)
        default = toil.candidates(s)
        everything = toil.candidates(s, min_incidents=1)
    assert [(c.step_id[:3], c.incidents) for c in ranked] == [("3.1", 3), ("3.3", 3)]
    assert ranked[0].last_done_at == NOW - timedelta(days=1)  # same count: the latest run ranks first
    assert ranked[1].text.startswith("First move: scale out the consumer")
    assert [c.step_id[:3] for c in default] == ["3.1", "3.3"]
    assert [(c.step_id[:3], c.incidents) for c in everything][-1] == ("4.3", 1)
    assert all(c.step_id[:3] != "3.2" for c in everything)  # skipped is not done
    with reads() as s, pytest.raises(ValidationFailed, match="min_incidents must be at least 1"):
        toil.candidates(s, min_incidents=0)
