"""Parsing runbooks into sections and steps: tolerant headings, stable step ids, commands, warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commandpost.runbooks import rules
from commandpost.runbooks.document import SnapshotView
from commandpost.runbooks.parse import match_heading, parse_file, parse_text, step_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ops" / "runbooks"

DOC = """---
owner: payments
---
# Runbook: Queue stuck

## 0. Symptom
- Firing alert: QueueStuck

## 3) Mitigation: stop the bleeding
- ⚠️ Read the whole section first
- [ ] Check the depth: `aws sqs get-queue-attributes --queue-url "$Q"` then `wc`
- [ ] First move: drain it
  ```sh
  ./drain --all
  ```
- [ ] Roll back
```
deploy rollback payments
```
- Never do a purge: the idempotency key makes reprocessing safe
- A note that is not a step

## Rollback details
- [x] Confirm the previous version is healthy: `curl -sf https://payments/healthz`

## Verify — is it fixed
- [ ] Queue depth normal for 10 minutes
"""


def test_sections_steps_commands_and_lines() -> None:
    rb = parse_text(DOC, path="runbooks/q.md", slug="q")
    assert rb.title == "Queue stuck" and rb.title_line == 4
    assert [(s.number, s.line) for s in rb.sections] == [(0, 6), (3, 9), (4, 26)]
    mitigate = rb.section(3)
    assert mitigate is not None
    assert [s.position for s in mitigate.steps] == [1, 2, 3, 4]
    check, first, rollback, confirm = mitigate.steps
    assert (
        check.line == 11 and check.command == 'aws sqs get-queue-attributes --queue-url "$Q"'
    )  # the longest span
    assert first.command == "./drain --all"  # a fence inside the item
    assert rollback.command == "deploy rollback payments"  # a fence right under the list
    assert confirm.checked and confirm.line == 24  # an unknown ## heading stays in its section
    assert [i.text for i in mitigate.items] == ["A note that is not a step"]


def test_warnings_stand_beside_the_step_they_follow() -> None:
    rb = parse_text(DOC, path="runbooks/q.md", slug="q")
    mitigate = rb.section(3)
    assert mitigate is not None
    # before any step: a section-level warning; right after step 3: guards step 3
    assert [c.text for c in mitigate.cautions] == ["⚠️ Read the whole section first"]
    rollback = mitigate.steps[2]
    assert [(c.guards, c.line) for c in rollback.cautions] == [(rollback.id, 20)]
    assert not any(s.warning for s in mitigate.steps)


def test_step_ids_are_section_position_and_text_hash() -> None:
    rb = parse_text(DOC, path="runbooks/q.md", slug="q")
    step = rb.steps[0]
    assert step.id.startswith("3.1-") and len(step.text_hash) == 6
    assert step.id == step_id(
        3, 1, '  Check   the depth: `aws sqs get-queue-attributes --queue-url "$Q"` then `wc`'
    )
    # whitespace and case do not change the id; the words do
    assert step_id(3, 2, "A  b") == step_id(3, 2, "a b") != step_id(3, 2, "a c")
    moved = parse_text(
        DOC.replace("- [ ] First move: drain it", "- [ ] First move: drain it now"), path="x", slug="q"
    )
    assert moved.steps[0].id == step.id and moved.steps[1].id != rb.steps[1].id


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("3. Mitigate — first stop the bleeding (before root-cause analysis)", (3, 3)),
        ("Mitigate", (3, None)),
        ("2. Triage — decide before you mitigate", (2, 2)),
        ("3. Stop the bleeding", (3, 3)),
        ("4. Mitigate", (3, 4)),
        ("5. Communication", (5, 5)),
        ("Post-mortem", (6, None)),
        ("0. The symptom this Runbook covers", (0, 0)),
        ("Appendix", (None, None)),
        ("9. Appendix", (None, 9)),
    ],
)
def test_headings_match_tolerantly(heading: str, expected: tuple[int | None, int | None]) -> None:
    assert match_heading(heading) == expected


def test_first_move_prefers_the_labelled_step() -> None:
    rb = parse_file(EXAMPLES / "payment-webhook-backlog.md")
    move = rules.first_move(rb)
    assert move is not None and move.step_id.startswith("3.3-")
    assert move.text.startswith("First move: scale out the consumer")
    assert (
        move.command
        == "aws ecs update-service --cluster payments --service payment-webhook-consumer --desired-count 12"
    )
    plain = parse_text(
        "## 3. Mitigate\n- [ ] Restart it: `systemctl restart x`\n", path="x", slug="x", front_matter=False
    )
    assert rules.first_move(plain) is not None and rules.first_move(plain).text.startswith("Restart")  # type: ignore[union-attr]
    assert (
        rules.first_move(parse_text("## 3. Mitigate\n- a\n", path="x", slug="x", front_matter=False)) is None
    )


def test_snapshot_round_trips() -> None:
    rb = parse_file(EXAMPLES / "db-connection-exhaustion.md")
    view = SnapshotView.from_snapshot(rb.snapshot())
    assert [s.id for s in view.steps] == [s.id for s in rb.steps]
    assert view.steps == rb.steps and view.content_hash == rb.content_hash


def test_resolve_step_by_id_or_short_id() -> None:
    rb = parse_file(EXAMPLES / "db-connection-exhaustion.md")
    step = rb.steps[1]
    assert rules.resolve_step(rb.steps, step.id) == step
    assert rules.resolve_step(rb.steps, "3.2") == step
    assert rules.resolve_step(rb.steps, "3.2-ffffff") is None


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    missing = parse_file(tmp_path / "nope.md")
    assert missing.problems and missing.problems[0].message.startswith("cannot read the file")


_MARKDOWN_BITS = st.sampled_from(
    [
        "---\n",
        "owner: x\n",
        "## 3. Mitigate\n",
        "## Verify\n",
        "- [ ] step `cmd`\n",
        "- ⚠️ never do it\n",
        "```\n",
        "  ```sh\n",
        "# Runbook: t\n",
        "last_updated: 2026-13-45\n",
        "- [x] done\n",
        "\n",
        ": [\n",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_MARKDOWN_BITS, st.text(max_size=20)), max_size=30))
def test_parse_and_lint_never_raise(parts: list[str]) -> None:
    """Whatever a person writes, parse and lint answer with findings, never an exception."""
    from datetime import date

    from commandpost.runbooks.context import LintContext
    from commandpost.runbooks.lint import lint_runbook

    runbook = parse_text("".join(parts), path="runbooks/x.md", slug="x")
    for finding in lint_runbook(runbook, context=LintContext(), today=date(2026, 11, 27)):
        assert finding.line >= 1 and finding.rule.startswith("RB")


def test_first_move_of_the_ops_model_runbook() -> None:
    """What the paging domain calls with ``config.runbook(slug)``: the ops model keeps the body only."""
    from commandpost.policy.loader import load_ops
    from commandpost.runbooks import service

    config = load_ops(EXAMPLES.parent).config
    assert config is not None
    move = service.first_move(config.runbook("db-connection-exhaustion"))
    assert move is not None and move.text.startswith("First move: rate-limit the runaway caller")
    assert move.command is not None and move.command.startswith("aws lambda put-function-concurrency ")
    parsed = service.first_move(parse_file(EXAMPLES / "db-connection-exhaustion.md"))
    assert parsed is not None and move.step_id == parsed.step_id
    with pytest.raises(TypeError):
        service.first_move("db-connection-exhaustion")


def test_an_impossible_date_is_a_finding_not_a_crash() -> None:
    """YAML reads 2026-13-45 as a timestamp and raises; the loader keeps the text for the lint to name."""
    from datetime import date

    from commandpost.runbooks.context import LintContext
    from commandpost.runbooks.lint import lint_runbook

    runbook = parse_text("---\nlast_updated: 2026-13-45\n---\n# Runbook: t\n", path="runbooks/x.md", slug="x")
    findings = lint_runbook(runbook, context=LintContext(), today=date(2026, 11, 27))
    assert ("RB004", 2) in {(f.rule, f.line) for f in findings}
    assert any("'2026-13-45' is not a date" in f.message for f in findings)
