"""Runbook lint: the examples are clean; each broken runbook trips exactly its one rule, on its line."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from commandpost.errors import ValidationFailed
from commandpost.runbooks.context import LintContext, find_ops_root
from commandpost.runbooks.lint import RULES, has_errors, lint_runbook, lint_runbooks
from commandpost.runbooks.parse import parse_file, parse_text
from commandpost.runbooks.render import github_annotations, lint_json
from commandpost.runbooks.template import render

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_OPS = REPO / "examples" / "ops"
FIXTURES = REPO / "tests" / "fixtures" / "runbooks"
BROKEN = FIXTURES / "broken"
TODAY = date(2026, 11, 27)
FLAGGED = {"rb015-update-requested": "postmortem:7 of INC-3 (resolved 2026-11-20) asked for an update"}

# file, rule, line, severity — one defect each
TABLE = [
    ("rb000-no-front-matter.md", "RB000", 1, "error"),
    ("rb000-broken-yaml.md", "RB000", 3, "error"),
    ("rb000-not-utf8.md", "RB000", 15, "error"),
    ("RB000-Bad-Name.md", "RB000", 1, "error"),
    ("rb001-missing-owner.md", "RB001", 1, "error"),
    ("rb002-invalid-owner.md", "RB002", 2, "error"),
    ("rb003-missing-last-updated.md", "RB003", 1, "error"),
    ("rb004-invalid-last-updated.md", "RB004", 3, "error"),
    ("rb004-future-last-updated.md", "RB004", 3, "error"),
    ("rb005-missing-slo.md", "RB005", 1, "error"),
    ("rb006-invalid-slo.md", "RB006", 5, "error"),
    ("rb007-missing-severity.md", "RB007", 1, "error"),
    ("rb008-invalid-severity.md", "RB008", 6, "error"),
    ("rb008-escalates-down.md", "RB008", 7, "error"),
    ("rb009-missing-section.md", "RB009", 23, "error"),
    ("rb010-section-order.md", "RB010", 23, "error"),
    ("rb010-duplicate-section.md", "RB010", 26, "error"),
    ("rb010-misnumbered.md", "RB010", 29, "error"),
    ("rb011-mitigate-without-steps.md", "RB011", 20, "error"),
    ("rb012-step-without-command.md", "RB012", 21, "warning"),
    ("rb013-no-firing-alert.md", "RB013", 10, "error"),
    ("rb014-stale.md", "RB014", 3, "warning"),
    ("rb015-update-requested.md", "RB015", 3, "error"),
    ("rb016-secret.md", "RB016", 31, "error"),
    ("rb017-unknown-key.md", "RB017", 7, "error"),
]


@pytest.fixture(scope="module")
def context() -> LintContext:
    return LintContext.from_folder(EXAMPLE_OPS)


def test_every_rule_has_a_broken_runbook() -> None:
    assert {rule for _f, rule, _l, _s in TABLE} == set(RULES)
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(f for f, *_ in TABLE)


@pytest.mark.parametrize(("name", "rule", "line", "severity"), TABLE, ids=[t[0] for t in TABLE])
def test_broken_runbook_trips_exactly_its_rule(
    context: LintContext, name: str, rule: str, line: int, severity: str
) -> None:
    found = lint_runbooks(BROKEN / name, today=TODAY, context=context, flagged=FLAGGED)
    assert [(f.rule, f.line, f.severity) for f in found] == [(rule, line, severity)]
    assert str(found[0]).startswith(f"{BROKEN / name}:{line}: {rule} ")


def test_the_base_runbook_of_the_table_is_clean(context: LintContext) -> None:
    assert (
        lint_runbooks(FIXTURES / "good.md", today=TODAY, context=context, flagged=FLAGGED, strict=True) == []
    )


def test_example_runbooks_lint_clean_and_strict() -> None:
    assert lint_runbooks(EXAMPLE_OPS / "runbooks", today=TODAY) == []
    assert lint_runbooks(EXAMPLE_OPS, today=TODAY, strict=True) == []


def test_strict_turns_stale_into_an_error(context: LintContext) -> None:
    [plain] = lint_runbooks(BROKEN / "rb014-stale.md", today=TODAY, context=context)
    [strict] = lint_runbooks(BROKEN / "rb014-stale.md", today=TODAY, context=context, strict=True)
    assert (plain.severity, strict.severity) == ("warning", "error")
    assert not has_errors([plain]) and has_errors([strict])


def test_staleness_boundary_follows_runbook_max_age(context: LintContext) -> None:
    """Frozen dates: 2026-11-01 + 90 days is still fresh, one day more is stale."""
    runbook = parse_file(EXAMPLE_OPS / "runbooks" / "payment-webhook-backlog.md")
    fresh_until = date(2026, 11, 1) + timedelta(days=90)
    assert lint_runbook(runbook, context=context, today=fresh_until) == []
    [stale] = lint_runbook(runbook, context=context, today=fresh_until + timedelta(days=1))
    assert (stale.rule, stale.line) == ("RB014", 4)
    assert "91 days ago (runbook_max_age 90 days)" in stale.message


def test_context_comes_from_the_ops_folder_a_runbook_sits_in(tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    (ops / "runbooks").mkdir(parents=True)
    for name in ("commandpost.yaml", "people.yaml", "severities.yaml"):
        (ops / name).write_text((EXAMPLE_OPS / name).read_text())
    (ops / "services").mkdir()
    (ops / "services" / "payment-platform.yaml").write_text(
        (EXAMPLE_OPS / "services" / "payment-platform.yaml").read_text()
    )
    (ops / "runbooks" / "x.md").write_text((BROKEN / "rb006-invalid-slo.md").read_text())
    assert find_ops_root(ops / "runbooks" / "x.md") == ops.resolve()
    [found] = lint_runbooks(ops / "runbooks", today=TODAY, relative_to=ops)
    assert (found.path, found.rule) == ("runbooks/x.md", "RB006")
    # outside an ops folder there is no context: the SLO cannot be checked, nothing is reported
    alone = tmp_path / "alone.md"
    alone.write_text((BROKEN / "rb006-invalid-slo.md").read_text())
    assert lint_runbooks(alone, today=TODAY) == []


def test_template_output_lints_clean(context: LintContext, tmp_path: Path) -> None:
    service = context.service("payment-platform")
    assert service is not None
    text = render(
        "queue-stuck", service=service, alert="QueueStuck", severity="2", today=TODAY, escalates_to="SEV1"
    )
    runbook = parse_text(text, path="runbooks/queue-stuck.md", slug="queue-stuck")
    assert runbook.meta["owner"] == "payments" and runbook.meta["slo"] == "availability"
    assert runbook.meta["last_updated"] == TODAY and runbook.meta["severity"] == "SEV2"
    assert [s.number for s in runbook.sections] == [0, 1, 2, 3, 4, 5, 6]
    assert lint_runbook(runbook, context=context, today=TODAY, strict=True) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slug": "Bad Slug"}, "not a runbook slug"),
        ({"severity": "P1"}, "--severity 'P1' is not one of"),
        ({"escalates_to": "SEV3"}, "--escalates-to SEV3 is not more severe"),
        ({"alert": ""}, "is not an alert name"),
    ],
)
def test_template_refuses_bad_input(context: LintContext, kwargs: dict[str, str], message: str) -> None:
    service = context.service("payment-platform")
    assert service is not None
    values: dict[str, str] = {"slug": "queue-stuck", "alert": "QueueStuck", "severity": "SEV2"}
    values.update(kwargs)
    slug = values.pop("slug")
    with pytest.raises(ValidationFailed, match=message):
        render(slug, service=service, today=TODAY, **values)


def test_github_format_is_workflow_annotations(context: LintContext) -> None:
    found = lint_runbooks(
        [BROKEN / "rb014-stale.md", BROKEN / "rb002-invalid-owner.md"], today=TODAY, context=context
    )
    lines = github_annotations(found).splitlines()
    assert lines[0].startswith(
        f"::error file={BROKEN / 'rb002-invalid-owner.md'},line=2,title=RB002 invalid-owner::owner 'paymnts'"
    )
    assert lines[1].startswith(f"::warning file={BROKEN / 'rb014-stale.md'},line=3,title=RB014 stale::stale:")
    assert "%0A" not in lines[0] and len(lines) == 2


def test_github_format_escapes_what_would_break_a_command() -> None:
    from commandpost.runbooks.lint import RunbookFinding

    finding = RunbookFinding("a,b:c.md", 4, "RB016", "error", "50% sure\nnext")
    assert (
        github_annotations([finding])
        == "::error file=a%2Cb%3Ac.md,line=4,title=RB016 secret::50%25 sure%0Anext"
    )


def test_json_format_names_rule_and_severity(context: LintContext) -> None:
    found = lint_runbooks(BROKEN / "rb012-step-without-command.md", today=TODAY, context=context)
    [item] = json.loads(lint_json(found))
    assert item["rule"] == "RB012" and item["name"] == "step-without-command"
    assert item["severity"] == "warning" and item["line"] == 21
