"""The iron rule's holes (issue 14, item 12): every paging alert points to a runbook (guide §4).

1. A service whose ``default_severity`` pages but that names no ``default_runbook`` passed
   ``check`` and ``runbook coverage --strict``, then paged "NO RUNBOOK" for every alert its rules
   did not match. Now it is a ``check`` error (and ``apply`` stores nothing) and a coverage entry.
2. commandpost's own SLO burn-rate alerts on a service with no alert rule for them landed on the
   default severity — SEV3, held until business hours — silently. Now ``check`` warns, per SLO.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts import rules as alert_rules
from commandpost.clock import FrozenClock
from commandpost.errors import PolicyInvalid
from commandpost.metrics import opscheck, processors
from commandpost.metrics import rules as metrics_rules
from commandpost.policy import service as policy_service
from commandpost.policy.loader import load_ops
from commandpost.policy.models import OpsRevision
from commandpost.policy.yamlsource import parse_yaml
from commandpost.runbooks import coverage
from tests import cli_support
from tests.conftest import EXAMPLE_OPS
from tests.paging_support import ops_variant

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SERVICE_FILE = "services/payment-platform.yaml"


def page_by_default(svc: dict[str, Any]) -> None:
    svc["default_severity"] = "SEV2"


def no_burn_rule(svc: dict[str, Any]) -> None:
    svc["alert_rules"] = [
        r for r in svc["alert_rules"] if r["match"].get("alertname") != "SLOErrorBudgetBurn"
    ]


def line_of(folder: Path, relative: str, needle: str) -> int:
    lines = (folder / relative).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(needle))


DEFAULT_PAGES = (
    "default_severity SEV2 pages, but service 'payment-platform' has no default_runbook: every alert no "
    "alert rule matches would page with NO RUNBOOK; add default_runbook: <runbook-slug> (every paging "
    "alert must point to a runbook, guide §4)"
)


def test_a_paging_default_without_a_default_runbook_is_a_check_error(tmp_path):
    folder = ops_variant(tmp_path, {SERVICE_FILE: page_by_default})
    result = load_ops(folder)
    line = line_of(folder, SERVICE_FILE, "default_severity:")
    assert f"{SERVICE_FILE}:{line}: {DEFAULT_PAGES}" in [str(e) for e in result.errors]
    assert result.config is None


def test_a_paging_default_with_a_default_runbook_is_fine(tmp_path):
    def with_runbook(svc: dict[str, Any]) -> None:
        page_by_default(svc)
        svc["default_runbook"] = "db-connection-exhaustion"

    result = load_ops(ops_variant(tmp_path, {SERVICE_FILE: with_runbook}))
    assert result.errors == []


def test_a_paging_default_needs_someone_to_page(tmp_path):
    """The same hole one step on: a paging default the escalation policy pages nobody for."""

    def sev1_default(svc: dict[str, Any]) -> None:
        svc["default_severity"] = "SEV1"
        svc["default_runbook"] = "db-connection-exhaustion"

    def no_sev1(policy: dict[str, Any]) -> None:
        del policy["severity_routing"]["SEV1"]

    def drop_sev1_rule(svc: dict[str, Any]) -> None:
        sev1_default(svc)
        svc["alert_rules"] = [r for r in svc["alert_rules"] if r["severity"] != "SEV1"]

    folder = ops_variant(
        tmp_path, {SERVICE_FILE: drop_sev1_rule, "escalation/payment-platform.yaml": no_sev1}
    )
    line = line_of(folder, SERVICE_FILE, "default_severity:")
    assert [str(e) for e in load_ops(folder).errors] == [
        f"{SERVICE_FILE}:{line}: default_severity SEV1 pages, but escalation policy 'payment-platform' "
        "pages nobody for SEV1: add severity_routing.SEV1.page"
    ]


def test_apply_stores_nothing_for_a_paging_default_without_a_runbook(
    sessions: sessionmaker[Session], clock: FrozenClock, tmp_path
):
    folder = ops_variant(tmp_path, {SERVICE_FILE: page_by_default})
    with sessions() as s, pytest.raises(PolicyInvalid) as raised:
        policy_service.apply_folder(s, path=folder, now=clock.now(), actor="test")
    assert any(DEFAULT_PAGES in line for line in raised.value.details)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OpsRevision)) == 0


def test_coverage_strict_fails_on_a_paging_default_without_a_runbook(tmp_path):
    folder = ops_variant(tmp_path, {SERVICE_FILE: page_by_default})
    report = coverage.from_folder(folder, now=NOW)
    assert not report.strict_ok
    assert report.paging_rules_without_runbook == [
        {
            "service": "payment-platform",
            "alert": "default_severity (alerts no rule matches)",
            "severity": "SEV2",
            "runbook": None,
            "problem": "no default_runbook",
        }
    ]
    cli = cli_support.run_cli(
        ["runbook", "coverage", "--strict", "--ops", str(folder)], env={"COLUMNS": "300"}
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert (
        "payment-platform / default_severity (alerts no rule matches) (SEV2): no default_runbook"
        in cli.stdout
    )
    assert coverage.from_folder(EXAMPLE_OPS, now=NOW).strict_ok


def test_burn_alerts_without_a_routing_rule_are_a_check_warning(tmp_path):
    folder = ops_variant(tmp_path, {SERVICE_FILE: no_burn_rule})
    result = load_ops(folder)
    assert result.errors == []
    parsed, _ = parse_yaml((folder / SERVICE_FILE).read_text())
    assert parsed is not None
    slo_lines = [parsed.line(("slos", i)) for i in range(2)]
    found = [str(w) for w in result.warnings if "burn" in w.message]
    assert found == [
        f"{SERVICE_FILE}:{slo_lines[i]}: SLO '{slo}': its page-urgency burn-rate alerts (SLOErrorBudgetBurn, "
        "labels urgency: page) match no alert rule, so they route as SEV3 (default_severity), which does "
        "not page: SEV3 is held until business hours; add to alert_rules: {match: {alertname: "
        f"SLOErrorBudgetBurn, labels: {{urgency: page, slo: {slo}}}}}, severity: SEV2, runbook: {runbook}}}"
        # the runbook suggested is the one whose front matter names the SLO (the engine links it)
        for i, (slo, runbook) in enumerate(
            [("availability", "db-connection-exhaustion"), ("charge-success", "payment-webhook-backlog")]
        )
    ]
    assert not [w for w in load_ops(EXAMPLE_OPS).warnings if "burn" in w.message]


def test_a_burn_rule_for_one_condition_leaves_the_other_warned(tmp_path):
    def only_fast_burns(svc: dict[str, Any]) -> None:
        no_burn_rule(svc)
        svc["alert_rules"].append(
            {
                "match": {"alertname": "SLOErrorBudgetBurn", "labels": {"condition": "page_1h"}},
                "severity": "SEV2",
                "runbook": "db-connection-exhaustion",
            }
        )

    result = load_ops(ops_variant(tmp_path, {SERVICE_FILE: only_fast_burns}))
    found = [w.message for w in result.warnings if "burn" in w.message]
    assert [m.split(" match ")[0] for m in found] == [
        f"SLO '{slo}': its page-urgency burn-rate alerts (SLOErrorBudgetBurn, labels urgency: page, "
        "condition page_6h)"
        for slo in ("availability", "charge-success")
    ]


def test_a_burn_rule_that_chooses_a_non_paging_severity_is_not_warned(tmp_path):
    def burns_are_sev3(svc: dict[str, Any]) -> None:
        no_burn_rule(svc)
        svc["alert_rules"].append({"match": {"alertname": "SLOErrorBudgetBurn"}, "severity": "SEV3"})

    result = load_ops(ops_variant(tmp_path, {SERVICE_FILE: burns_are_sev3}))
    assert result.errors == []
    assert not [w for w in result.warnings if "burn" in w.message]


@pytest.mark.parametrize(
    "condition", [c for c in metrics_rules.CONDITIONS if c.kind == "page"], ids=lambda c: c.name
)
def test_check_routes_the_burn_alert_the_engine_raises(condition):
    """check asks about the same event the engine sends through intake (alertname, labels, severity)."""
    config = load_ops(EXAMPLE_OPS).config
    assert config is not None
    slo = config.services[0].slos[0]
    status = SimpleNamespace(
        service="payment-platform", slo=slo, burn={condition.long: 20, condition.short: 20}, budget=None
    )
    engine = processors._event(config, status, condition, "trigger")  # type: ignore[arg-type]
    checked = opscheck.burn_event("payment-platform", slo.name, condition)
    assert (checked.alertname, checked.source_severity, checked.labels) == (
        engine.alertname,
        engine.source_severity,
        engine.labels,
    )
    service = config.services[0]
    assert (
        alert_rules.route(config, service, checked).severity
        == alert_rules.route(config, service, engine).severity
    )
