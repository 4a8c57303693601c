"""The loader: the example is clean; each broken folder reports its one defect at its exact ``path:line``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import EscalationPolicy
from commandpost.policy.yamlsource import parse_yaml
from tests.conftest import EXAMPLE_OPS

# The guide's §6-2 escalation-policy.yaml, character for character.
GUIDE_POLICY = """\
# escalation-policy.yaml — エスカレーションを「設定」で表現する例
service: payment-platform
severity_routing:
  SEV1:
    page: primary_oncall
    escalate_after: 5m   # 一次が応答しなければ
    then: [secondary_oncall, team_lead]
    notify: [eng_manager, status_page]
  SEV2:
    page: primary_oncall
    escalate_after: 15m
    then: [secondary_oncall]
  SEV3:
    notify: oncall_channel  # ページングはしない（営業時間内対応）
oncall:
  rotation: weekly
  handoff: "毎週月曜 10:00、未解決インシデントとRunbook更新を引き継ぐ"
  compensation: "time-off-in-lieu（公式準拠：当番を金銭/代休で補償）"
"""


def _copy(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    return ops


def replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(ops: Path) -> None:
        path = ops / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    return edit


def write(rel: str, text: str) -> Callable[[Path], None]:
    def edit(ops: Path) -> None:
        (ops / rel).write_text(text)

    return edit


BROKEN = {
    "bad duration": (
        replace("escalation/payment-platform.yaml", "escalate_after: 5m", "escalate_after: '5x'"),
        "escalation/payment-platform.yaml:6: severity_routing.SEV1.escalate_after: '5x' is not a duration "
        "(use a number and a unit: 30s, 5m, 1h, 7d, 2w, or 1h30m)",
    ),
    "unknown person in a team": (
        replace("people.yaml", "members: [yuta, hana, ken, mei]", "members: [yuta, hana, ken, mei, bob]"),
        "people.yaml:59: team 'payments': unknown person 'bob' (people: hana, ken, mei, sato, yuta)",
    ),
    "missing SEV3": (
        replace("severities.yaml", "  SEV3:\n", "  SEV5:\n"),
        "severities.yaml:3: severities must be exactly SEV1, SEV2, SEV3 and SEV4: missing SEV3; unknown SEV5",
    ),
    "paging rule without runbook": (
        replace("services/payment-platform.yaml", "    runbook: payment-webhook-backlog\n", ""),
        "services/payment-platform.yaml:36: alert rule WebhookBacklogHigh pages (SEV2) but names no runbook: "
        "every paging alert must point to a runbook (guide §4)",
    ),
    "unknown runbook in a rule": (
        replace("services/payment-platform.yaml", "runbook: db-connection-exhaustion", "runbook: db-conn"),
        "services/payment-platform.yaml:44: alert rule DBConnectionsExhausted: unknown runbook 'db-conn' "
        "(runbooks/: db-connection-exhaustion, payment-webhook-backlog)",
    ),
    "duplicate service": (
        write("services/zz-copy.yaml", "# a copy\nname: payment-platform\nowner: payments\nslos: []\n"),
        "services/zz-copy.yaml:2: duplicate service 'payment-platform' "
        "(already defined at services/payment-platform.yaml:2)",
    ),
    "duplicate service in a file read first": (
        # the copy without SLOs is read first: the runbooks' SLOs must not be checked against it alone
        write("services/a-copy.yaml", "# a copy\nname: payment-platform\nowner: payments\nslos: []\n"),
        "services/payment-platform.yaml:2: duplicate service 'payment-platform' "
        "(already defined at services/a-copy.yaml:2)",
    ),
    "YAML syntax error": (
        replace("people.yaml", "  - handle: ken\n", "  - handle: ken\n   bad: [\n"),
        "people.yaml:29: YAML syntax error: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block collection)",
    ),
    "duplicate YAML key": (
        replace("commandpost.yaml", "timezone: Asia/Tokyo\n", "timezone: Asia/Tokyo\ntimezone: UTC\n"),
        "commandpost.yaml:4: duplicate key 'timezone' (first defined on line 3)",
    ),
    "unknown key": (
        replace("schedules/payment-platform.yaml", "      length: weekly\n", "      lenght: weekly\n"),
        "schedules/payment-platform.yaml:8: unknown key 'lenght' in layers[0].rotation — did you mean "
        "'length'? (allowed: members, length, start, handoff)",
    ),
    "bad timezone": (
        replace("commandpost.yaml", "timezone: Asia/Tokyo", "timezone: Asia/Tokio"),
        "commandpost.yaml:3: timezone: 'Asia/Tokio' is not an IANA timezone "
        "(e.g. Asia/Tokyo, Europe/Berlin, UTC)",
    ),
    "unknown target in a policy": (
        replace("escalation/payment-platform.yaml", "then: [secondary_oncall]", "then: [tertiary_oncall]"),
        "escalation/payment-platform.yaml:12: unknown target 'tertiary_oncall': add it under 'targets:' "
        "(a schedule layer, person, team, channel or status_page) or use a person handle or team name "
        "(targets: eng_manager, oncall_channel, primary_oncall, secondary_oncall, status_page, team_lead)",
    ),
    "unknown layer in a target": (
        replace("escalation/payment-platform.yaml", "layer: secondary", "layer: backup"),
        "escalation/payment-platform.yaml:27: target 'secondary_oncall': schedule 'payment-platform' has no "
        "layer 'backup' (layers: primary, secondary)",
    ),
    "runbook with broken front matter": (
        replace(
            "runbooks/db-connection-exhaustion.md",
            "alerts: [DBConnectionsExhausted]",
            "alerts: [DBConnectionsExhausted",
        ),
        "runbooks/db-connection-exhaustion.md:8: front matter: YAML syntax error: expected ',' or ']', "
        "but got '<stream end>' (while parsing a flow sequence)",
    ),
    "runbook front matter with a bad date": (
        replace(
            "runbooks/db-connection-exhaustion.md", "last_updated: 2026-11-01", "last_updated: last week"
        ),
        "runbooks/db-connection-exhaustion.md:4: front matter: last_updated: Input should be a valid date or "
        "datetime, input is too short (got 'last week')",
    ),
    "runbook without front matter": (
        write("runbooks/db-connection-exhaustion.md", "# Runbook: DB connection exhaustion\n"),
        "runbooks/db-connection-exhaustion.md:1: runbook has no front matter: start the file with '---', "
        "then owner, last_updated, slo, severity, alerts, then '---'",
    ),
    "runbook with unclosed front matter": (
        write("runbooks/db-connection-exhaustion.md", "---\nowner: payments\n# Runbook\n"),
        "runbooks/db-connection-exhaustion.md:1: front matter is not closed by a '---' line",
    ),
    "runbook slo not in service SLOs": (
        replace("runbooks/db-connection-exhaustion.md", "slo: availability", "slo: latency"),
        "runbooks/db-connection-exhaustion.md:6: front matter: slo 'latency' is not an SLO of service "
        "'payment-platform' (its SLOs: availability, charge-success)",
    ),
    "unknown policy of a service": (
        replace(
            "services/payment-platform.yaml", "escalation_policy: payment-platform", "escalation_policy: pay"
        ),
        "services/payment-platform.yaml:5: escalation_policy: unknown policy 'pay' "
        "(escalation/: payment-platform)",
    ),
    "paging rule whose policy pages nobody for its SEV": (
        replace(
            "escalation/payment-platform.yaml",
            "    page: primary_oncall\n    escalate_after: 5m   # 一次が応答しなければ\n"
            "    then: [secondary_oncall, team_lead]\n",
            "",
        ),
        "services/payment-platform.yaml:43: alert rule DBConnectionsExhausted pages (SEV1) but escalation "
        "policy 'payment-platform' pages nobody for SEV1: add severity_routing.SEV1.page",
    ),
    "missing required file": (
        lambda ops: (ops / "people.yaml").unlink(),
        "people.yaml:0: missing file (every ops folder has it; see 'commandpost init')",
    ),
    "missing required key": (
        replace("services/payment-platform.yaml", "owner: payments\n", ""),
        "services/payment-platform.yaml:2: missing required key 'owner'",
    ),
    "integer duration without unit": (
        replace("commandpost.yaml", "handover_offer_ttl: 15m", "handover_offer_ttl: 15"),
        "commandpost.yaml:15: handover_offer_ttl: 15 has no unit (write e.g. 15m or 15s)",
    ),
}


def test_the_example_is_clean() -> None:
    result = load_ops(EXAMPLE_OPS)
    assert result.errors == []
    assert result.warnings == []
    assert result.config is not None
    config = result.config
    assert config.settings.org == "Example Payments"
    assert [s.name for s in config.services] == ["payment-platform"]
    assert {(slo.name, slo.objective, slo.window) for slo in config.service("payment-platform").slos} == {
        ("availability", 99.9, "30d"),
        ("charge-success", 99.99, "quarter"),
    }
    assert {r.slug for r in config.runbooks} == {"payment-webhook-backlog", "db-connection-exhaustion"}
    assert [layer.name for layer in config.schedule("payment-platform").layers] == ["primary", "secondary"]
    assert config.severity("SEV1").paging and not config.severity("SEV3").paging
    assert len(result.content_hash) == 64


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_folder_reports_its_one_defect(case: str, tmp_path: Path) -> None:
    edit, expected = BROKEN[case]
    ops = _copy(tmp_path)
    edit(ops)
    result = load_ops(ops)
    assert [str(e) for e in result.errors] == [expected]
    assert result.config is None


def test_five_defects_are_all_reported(tmp_path: Path) -> None:
    ops = _copy(tmp_path)
    cases = [
        "bad duration",
        "unknown person in a team",
        "missing SEV3",
        "unknown key",
        "runbook slo not in service SLOs",
    ]
    for case in cases:
        BROKEN[case][0](ops)
    result = load_ops(ops)
    assert sorted(str(e) for e in result.errors) == sorted(BROKEN[c][1] for c in cases)


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    ops = _copy(tmp_path)
    (ops / "runbooks" / "orphan.md").write_text(
        "---\nowner: payments\nlast_updated: 2026-11-01\nslo: availability\nseverity: SEV3\n"
        "service: payment-platform\nalerts: [OrphanAlert]\n---\n# Runbook: orphan\n"
    )
    (ops / "notes.txt").write_text("hello")
    result = load_ops(ops)
    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        "notes.txt:0: unknown file, ignored",
        "runbooks/orphan.md:2: runbook 'orphan' is not named by any alert rule",
        "runbooks/orphan.md:7: front matter: no alert rule matches alertname 'OrphanAlert'",
    ]
    assert result.config is not None


def test_a_broken_policy_file_does_not_cascade(tmp_path: Path) -> None:
    """The service names the policy whose file is broken: one defect, one error."""
    ops = _copy(tmp_path)
    replace("escalation/payment-platform.yaml", "rotation: weekly", "rotation: [weekly")(ops)
    result = load_ops(ops)
    assert len(result.errors) == 1
    assert str(result.errors[0]).startswith("escalation/payment-platform.yaml:")


def test_the_guides_escalation_policy_verbatim_plus_targets_validates(tmp_path: Path) -> None:
    example = (EXAMPLE_OPS / "escalation" / "payment-platform.yaml").read_text()
    assert example.startswith(GUIDE_POLICY)
    ops = _copy(tmp_path)
    targets = example[len(GUIDE_POLICY) :]
    (ops / "escalation" / "payment-platform.yaml").write_text(GUIDE_POLICY + targets)
    result = load_ops(ops)
    assert result.errors == []
    policy = result.config.policy("payment-platform")
    sev1 = policy.severity_routing["SEV1"]
    assert sev1.page == ["primary_oncall"] and sev1.then == ["secondary_oncall", "team_lead"]
    assert sev1.notify == ["eng_manager", "status_page"]
    assert policy.severity_routing["SEV3"].notify == ["oncall_channel"]
    assert policy.oncall.handoff == "毎週月曜 10:00、未解決インシデントとRunbook更新を引き継ぐ"
    assert policy.targets["primary_oncall"].kind == "schedule"
    assert policy.targets["status_page"].kind == "status_page"


def test_the_guides_policy_alone_validates_as_a_model() -> None:
    parsed, problems = parse_yaml(GUIDE_POLICY)
    assert problems == [] and parsed is not None
    policy = EscalationPolicy.model_validate({**parsed.data, "name": "payment-platform"})
    assert [lvl.targets for lvl in policy.severity_routing["SEV2"].escalation_levels()] == [
        ["primary_oncall"],
        ["secondary_oncall"],
    ]


def test_not_a_directory(tmp_path: Path) -> None:
    result = load_ops(tmp_path / "nope")
    assert [e.message for e in result.errors] == ["not a directory (expected an ops folder)"]


def test_yaml_lines_duplicates_and_clock_times() -> None:
    parsed, problems = parse_yaml("a:\n  b: 1\n  c: 10:00\n  b: 2\nlist:\n  - x\n  - y\n")
    assert parsed is not None
    assert parsed.data == {"a": {"b": 1, "c": "10:00"}, "list": ["x", "y"]}
    assert [(p.line, p.message) for p in problems] == [(4, "duplicate key 'b' (first defined on line 2)")]
    assert parsed.line(("a", "c")) == 3
    assert parsed.line(("list", 1)) == 7
    assert parsed.line(("a", "missing", "deeper")) == 1


def test_control_character_in_yaml_is_a_finding_not_a_crash(tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    path = ops / "people.yaml"
    lines = path.read_text().splitlines()
    lines[2] = lines[2] + " \x08"
    path.write_text("\n".join(lines) + "\n")
    result = load_ops(ops)
    assert [str(f) for f in result.errors] == [
        "people.yaml:3: YAML syntax error: control character U+0008 is not allowed"
    ]
