"""Applying ops folders: revisions, idempotency, history and integration keys, on both databases."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.errors import NotFound, PolicyInvalid
from commandpost.policy import service
from commandpost.policy.models import IntegrationKey, OpsRevision
from tests.conftest import EXAMPLE_OPS


def _apply(sessions: sessionmaker[Session], path: Path, clock: FrozenClock) -> service.ApplyResult:
    with sessions() as s:
        result = service.apply_folder(s, path=path, now=clock.now(), actor="test")
        s.commit()
        return result


def _revisions(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(OpsRevision)) or 0


def test_applied_ops_fixture_gives_the_example(applied_ops, sessions):
    assert applied_ops.settings.org == "Example Payments"
    assert applied_ops.service("payment-platform") is not None
    assert _revisions(sessions) == 1


def test_identical_content_creates_no_revision(sessions, clock, tmp_path):
    first = _apply(sessions, EXAMPLE_OPS, clock)
    assert first.created and first.changes[0].startswith("initial revision")
    clock.advance(minutes=5)
    copy = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, copy)
    second = _apply(sessions, copy, clock)
    assert not second.created
    assert second.revision.id == first.revision.id
    assert second.changes == []
    assert _revisions(sessions) == 1


def test_a_change_is_a_new_revision_listing_what_changed(sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    first = _apply(sessions, ops, clock)
    policy = ops / "escalation" / "payment-platform.yaml"
    policy.write_text(policy.read_text().replace("escalate_after: 15m", "escalate_after: 10m"))
    clock.advance(hours=1)
    second = _apply(sessions, ops, clock)
    assert second.created
    assert second.revision.seq == first.revision.seq + 1
    assert second.changes == ["changed escalation/payment-platform.yaml: severity_routing.SEV2"]
    with sessions() as s:
        config = service.current_config(s)
    assert config.policy("payment-platform").severity_routing["SEV2"].escalate_after == timedelta(minutes=10)
    # going back to the first content is history too, not "no change"
    policy.write_text(policy.read_text().replace("escalate_after: 10m", "escalate_after: 15m"))
    third = _apply(sessions, ops, clock)
    assert third.created and third.revision.content_hash == first.revision.content_hash
    assert _revisions(sessions) == 3


def test_invalid_folder_stores_nothing(sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "severities.yaml").write_text("severities: {}\n")
    with pytest.raises(PolicyInvalid) as info, sessions() as s:
        service.apply_folder(s, path=ops, now=clock.now(), actor="test")
    assert any(d.startswith("severities.yaml:1: ") for d in info.value.details)
    assert _revisions(sessions) == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(IntegrationKey)) == 0


def test_integration_keys_are_generated_stable_and_rotatable(sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    _apply(sessions, ops, clock)
    with sessions() as s:
        keys = {k.name: (k.key, k.source, k.service) for k in service.list_integrations(s)}
    assert set(keys) == {
        "payment-platform-pagerduty",
        "payment-platform-alertmanager",
        "payment-platform-grafana",
        "payment-platform-cloudwatch",
        "payment-platform-generic",
        "charge-ledger-reconciliation",  # a heartbeat's key (source heartbeat)
    }
    assert keys["charge-ledger-reconciliation"][1:] == ("heartbeat", "payment-platform")
    assert all(len(k) == 32 for k, _, _ in keys.values())
    assert len({k for k, _, _ in keys.values()}) == 6

    # a change elsewhere keeps every key
    people = ops / "people.yaml"
    people.write_text(people.read_text().replace("Hana Suzuki", "Hana Suzuki-Ito"))
    assert _apply(sessions, ops, clock).created
    with sessions() as s:
        assert {k.name: (k.key, k.source, k.service) for k in service.list_integrations(s)} == keys

        row = service.rotate_integration(s, name="payment-platform-generic", now=clock.now())
        new_key = row.key
        s.commit()
    assert new_key != keys["payment-platform-generic"][0]
    with sessions() as s:
        assert service.integration_by_key(s, key=keys["payment-platform-generic"][0]) is None
        found = service.integration_by_key(s, key=new_key)
        assert found is not None and found.name == "payment-platform-generic"
        assert found.rotated_at == clock.now()
        with pytest.raises(NotFound, match="no active integration named 'nope'"):
            service.rotate_integration(s, name="nope", now=clock.now())


def test_removed_integration_is_deactivated(sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    _apply(sessions, ops, clock)
    with sessions() as s:
        old = next(k.key for k in service.list_integrations(s) if k.name == "payment-platform-grafana")
    svc = ops / "services" / "payment-platform.yaml"
    svc.write_text(svc.read_text().replace("  - name: payment-platform-grafana\n    source: grafana\n", ""))
    result = _apply(sessions, ops, clock)
    assert "integration payment-platform-grafana: deactivated (no longer in ops); its key stops working" in (
        result.changes
    )
    with sessions() as s:
        assert service.integration_by_key(s, key=old) is None
        assert "payment-platform-grafana" not in {k.name for k in service.list_integrations(s)}


def test_intake_urls(sessions, clock):
    _apply(sessions, EXAMPLE_OPS, clock)
    with sessions() as s:
        urls = {
            k.source: (service.intake_url("http://cp.example/", k), k.key)
            for k in service.list_integrations(s)
        }
    assert urls["pagerduty"][0] == "http://cp.example/v2/enqueue"
    for source in ("alertmanager", "grafana", "sns", "generic"):
        url, key = urls[source]
        assert url == f"http://cp.example/api/v1/intake/{source}/{key}"


def test_current_config_is_per_database(sessions, clock, tmp_path, sqlite_template):
    """Revision ids repeat across databases; the parsed-config cache must not mix them up."""
    from commandpost.db.engine import create_db_engine, make_session_factory

    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    settings = ops / "commandpost.yaml"
    settings.write_text(settings.read_text().replace("org: Example Payments", "org: Other Org"))
    _apply(sessions, ops, clock)
    other_db = tmp_path / "other.db"
    shutil.copy(sqlite_template, other_db)
    other_engine = create_db_engine(f"sqlite:///{other_db}")
    other = make_session_factory(other_engine)
    _apply(other, EXAMPLE_OPS, clock)
    try:
        for _ in range(2):
            with sessions() as s:
                assert service.current_config(s).settings.org == "Other Org"
            with other() as s:
                assert service.current_config(s).settings.org == "Example Payments"
    finally:
        other_engine.dispose()
