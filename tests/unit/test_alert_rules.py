"""Routing decisions (SEV, runbook, group, paging), business hours and the token buckets: pure logic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commandpost.alerts import rules
from commandpost.alerts.intake.ratelimit import TokenBuckets, retry_after_seconds
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.policy.loader import load_ops
from tests.alert_support import EXAMPLE_OPS


@pytest.fixture(scope="module")
def config():
    result = load_ops(EXAMPLE_OPS)
    assert result.config is not None, result.errors
    return result.config


def event(**fields) -> NormalizedEvent:
    return NormalizedEvent(**{"action": "trigger", "dedup_key": "k", **fields})


def test_matched_rule_gives_severity_runbook_and_group(config):
    svc = config.service("payment-platform")
    got = rules.route(config, svc, event(alertname="DBConnectionsExhausted", labels={"instance": "db-1"}))
    assert got == rules.Route("SEV1", True, "db-connection-exhaustion", "alertname=DBConnectionsExhausted", 1)


def test_unmatched_alert_gets_the_service_default(config):
    svc = config.service("payment-platform")
    got = rules.route(config, svc, event(alertname="Other", group_key="g1"))
    assert (got.severity, got.paging, got.runbook, got.group_key, got.rule) == (
        "SEV3",
        False,
        None,
        "g1",
        None,
    )


def test_unknown_service_falls_back_to_sev3(config):
    assert rules.route(config, None, event()).severity == "SEV3"


def test_match_on_labels_and_source_severity():
    from commandpost.policy.opsfiles import AlertMatch

    m = AlertMatch(labels={"team": "payments"}, source_severity="CRITICAL")
    assert rules.matches(m, event(labels={"team": "payments", "x": "y"}, source_severity="critical"))
    assert not rules.matches(m, event(labels={"team": "search"}, source_severity="critical"))
    assert not rules.matches(m, event(labels={"team": "payments"}, source_severity="warning"))
    assert not rules.matches(AlertMatch(alertname="A"), event(alertname="B"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://runbooks.internal/payment-webhook-backlog", "payment-webhook-backlog"),
        ("https://runbooks.internal/payment-webhook-backlog/", "payment-webhook-backlog"),
        ("https://runbooks.internal/payment-webhook-backlog.md#3-mitigate", "payment-webhook-backlog"),
        ("payment-webhook-backlog", "payment-webhook-backlog"),
        ("https://runbooks.internal/not-a-runbook", "https://runbooks.internal/not-a-runbook"),
        (
            "https://wiki.example.com/payment-webhook-backlog",
            "https://wiki.example.com/payment-webhook-backlog",
        ),
    ],
)
def test_runbook_url_resolves_to_a_slug_when_it_names_an_ops_runbook(config, url, expected):
    assert rules.resolve_runbook(config, url) == expected


def test_runbook_annotation_is_used_when_the_rule_names_none(config):
    svc = config.service("payment-platform")
    got = rules.route(
        config,
        svc,
        event(alertname="Other", runbook_url="https://runbooks.internal/db-connection-exhaustion"),
    )
    assert got.runbook == "db-connection-exhaustion"


def test_group_key_precedence():
    assert rules.group_key(event(alertname="A", labels={"job": "api"}), ["alertname", "job"]) == (
        "alertname=A,job=api"
    )
    assert rules.group_key(event(alertname="A", group_key="{}:{x}"), []) == "{}:{x}"
    assert rules.group_key(event(alertname="A"), []) == "alertname=A"
    assert rules.group_key(event(dedup_key="only-key"), []) == "only-key"


def test_business_hours_in_the_org_timezone(config):
    # examples/ops: Asia/Tokyo, Mon–Fri 09:00–18:00. 2026-06-24 is a Wednesday.
    assert rules.within_business_hours(config, datetime(2026, 6, 24, 3, 0, tzinfo=UTC))  # 12:00 JST
    assert not rules.within_business_hours(config, datetime(2026, 6, 24, 12, 0, tzinfo=UTC))  # 21:00 JST
    friday_night = datetime(2026, 6, 26, 12, 0, tzinfo=UTC)  # Fri 21:00 JST
    assert rules.next_business_start(config, friday_night) == datetime(
        2026, 6, 29, 0, 0, tzinfo=UTC
    )  # Mon 09:00
    noon = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
    assert rules.next_business_start(config, noon) == noon


def test_token_bucket_allows_the_burst_then_says_how_long_to_wait():
    now = [0.0]
    buckets = TokenBuckets(default_per_minute=60, clock=lambda: now[0])
    assert all(buckets.take(1, 1) == 0.0 for _ in range(60))
    wait = buckets.take(1, 1)
    assert wait == pytest.approx(1.0)
    assert buckets.take(2, 1) == 0.0, "another integration has its own bucket"
    now[0] += 1.0
    assert buckets.take(1, 1) == 0.0
    assert buckets.take(1, 1, per_minute=60) > 0


def test_token_bucket_batch_larger_than_the_bucket_passes_only_when_full():
    now = [0.0]
    buckets = TokenBuckets(default_per_minute=10, clock=lambda: now[0])
    assert buckets.take(1, 50) == 0.0
    assert buckets.take(1, 50) == pytest.approx(60.0)
    assert retry_after_seconds(0.2) == 1 and retry_after_seconds(59.1) == 60
