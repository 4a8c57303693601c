"""``commandpost check`` on stacked layers: each mistake is one finding at its file and line, hostile
input is refused the same way, and the editors' JSON Schema agrees on the shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from commandpost.policy.jsonschema import schema
from commandpost.policy.loader import load_ops
from tests.conftest import EXAMPLE_OPS

BASE = """\
timezone: America/New_York
layers:
  - name: weekdays
    rotation: {members: [yuta, hana], length: weekly, start: 2026-01-05}
  - name: nights
    rotation: {members: [ken, mei], length: daily, start: 2026-01-05}
    restrictions: [{days: [mon, tue], start: "18:00", end: "09:00"}]
"""
GOOD = "  - name: final\n    stack: [weekdays, nights]\n"
EXACTLY_ONE = (
    "layers[2]: layer 'final' needs exactly one of 'rotation' (who takes turns) or 'stack' "
    "(a list of this schedule's layers, the last with someone on call wins)"
)
F = "schedules/support.yaml"
SECONDARY = "schedule: payment-platform\n    layer: secondary"

BAD = {
    "rotation and stack": (
        "  - name: final\n    stack: [weekdays]\n    rotation: {members: [yuta], start: 2026-01-05}\n",
        f"{F}:8: {EXACTLY_ONE}",
    ),
    "neither": ("  - name: final\n", f"{F}:8: {EXACTLY_ONE}"),
    "unknown layer": (
        "  - name: final\n    stack:\n      - weekdays\n      - nigths\n",
        f"{F}:11: layer 'final': stack names unknown layer 'nigths' "
        "(layers with a rotation: nights, weekdays)",
    ),
    "stack of a stack": (
        "  - name: final\n    stack: [weekdays, nights]\n  - name: top\n    stack: [final]\n",
        f"{F}:11: layer 'top': 'final' is itself a stack; "
        "a stack lists layers with a rotation (nights, weekdays)",
    ),
    "itself": (
        "  - name: final\n    stack: [weekdays, final]\n",
        f"{F}:8: layers[2]: layer 'final': a stack cannot contain itself",
    ),
    "duplicate": (
        "  - name: final\n    stack: [weekdays, nights, weekdays]\n",
        f"{F}:8: layers[2]: layer 'final': stack names weekdays more than once",
    ),
    "restrictions on the stack": (
        "  - name: final\n    stack: [weekdays]\n    restrictions: [{start: '09:00', end: '17:00'}]\n",
        f"{F}:8: layers[2]: layer 'final': a stack has no restrictions of its own; "
        "restrict the layers it stacks",
    ),
    "empty": (
        "  - name: final\n    stack: []\n",
        f"{F}:9: layers[2].stack: List should have at least 1 item after validation, not 0",
    ),
    "a string": (
        "  - name: final\n    stack: weekdays\n",
        f"{F}:9: layers[2].stack: Input should be a valid list (got 'weekdays')",
    ),
    "NUL byte": (
        '  - name: final\n    stack: ["week\\0days"]\n',
        f"{F}:9: layers[2].stack[0]: String should match pattern '^[a-z0-9][a-z0-9_-]*$' "
        "(got 'week\\x00days')",
    ),
    "huge": (
        "  - name: final\n    stack: [" + ", ".join(f"l{i}" for i in range(5000)) + "]\n",
        f"{F}:9: layers[2].stack: List should have at most 50 items after validation, not 5000",
    ),
    "deep": (
        "  - name: final\n    stack: " + "[" * 200 + "]" * 200 + "\n",
        f"{F}:9: refused: nested deeper than 64 levels",
    ),
}


def _folder(tmp_path: Path, extra: str) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "schedules" / "support.yaml").write_text(BASE + extra)
    return ops


def test_a_stack_of_existing_rotation_layers_is_clean(tmp_path: Path) -> None:
    ops = _folder(tmp_path, GOOD)
    policy = ops / "escalation" / "payment-platform.yaml"
    policy.write_text(policy.read_text().replace(SECONDARY, "schedule: support\n    layer: final"))
    result = load_ops(ops)
    assert result.errors == [] and result.warnings == []
    assert result.config is not None
    schedule = result.config.schedule("support")
    assert schedule is not None
    final = schedule.layer("final")
    assert final is not None and final.rotation is None and final.stack == ["weekdays", "nights"]
    assert [x.name for x in schedule.stacked_layers(final)] == ["weekdays", "nights"]
    assert schedule.in_stacks() == {"weekdays", "nights"}


def test_a_target_naming_a_missing_layer_still_lists_the_stack(tmp_path: Path) -> None:
    ops = _folder(tmp_path, GOOD)
    policy = ops / "escalation" / "payment-platform.yaml"
    policy.write_text(policy.read_text().replace(SECONDARY, "schedule: support\n    layer: finale"))
    errors = [str(e) for e in load_ops(ops).errors]
    assert len(errors) == 1
    assert "schedule 'support' has no layer 'finale' (layers: final, nights, weekdays)" in errors[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_mistake_is_one_finding_at_its_line(case: str, tmp_path: Path) -> None:
    extra, expected = BAD[case]
    result = load_ops(_folder(tmp_path, extra))
    assert [str(e) for e in result.errors] == [expected]
    assert result.config is None


def _json(text: str) -> Any:
    """The YAML as an editor's language server sees it: JSON values (dates are strings)."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def test_the_json_schema_takes_a_stack_and_wants_exactly_one_of_rotation_and_stack() -> None:
    validator = jsonschema.Draft202012Validator(schema("schedules"))
    assert list(validator.iter_errors(_json(BASE + GOOD))) == []
    for extra in ("  - name: final\n", BAD["rotation and stack"][0]):
        errors = list(validator.iter_errors(_json(BASE + extra)))
        assert errors, extra
