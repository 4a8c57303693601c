"""YAML bombs in ops files (issue 14, item 5): refused with ``path:line``, fast, in bounded memory.

An alias bomb (each anchor a list of nine aliases of the one before: ~500 bytes that mean 10⁹
values) used to run ``commandpost check`` for 45 s and 844 MB, because the builder walked each
aliased node again at every reference; 600 nested ``[`` gave a RecursionError traceback. Every
YAML text commandpost reads from a person — ops files, runbook front matter (both readers), and
``check --prometheus-rules`` files — goes through ``policy.yamlsource.parse_yaml``, which refuses a
document whose aliases expand past a budget or that nests past a depth limit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts.promrules import lint_prometheus_rules
from commandpost.clock import FrozenClock
from commandpost.errors import PolicyInvalid
from commandpost.policy import service as policy_service
from commandpost.policy.loader import load_ops
from commandpost.policy.models import OpsRevision
from commandpost.policy.yamlsource import MAX_ALIAS_VALUES, MAX_DEPTH, parse_yaml
from commandpost.runbooks.parse import parse_text
from tests.conftest import EXAMPLE_OPS


def alias_bomb(levels: int = 9) -> str:
    """``a0`` is 9 strings, ``a1`` 9 × a0, … ``a9`` 9⁹ ≈ 387 million values; about 500 bytes."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB = alias_bomb()
# a4 stands for 66 430 values and the aliases before it for 8 289: the total passes 100 000 at the
# first *a4, on a5's line
BOMB_LINE = 6
DEEP = "[" * 600 + "]" * 600 + "\n"


def ops_copy(tmp_path: Path) -> Path:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    return ops


def with_bomb(ops: Path) -> int:
    """Append the bomb to commandpost.yaml; the line its budget is crossed on."""
    path = ops / "commandpost.yaml"
    before = path.read_text()
    path.write_text(before + BOMB)
    return before.count("\n") + BOMB_LINE


def test_the_bomb_is_small():
    assert len(BOMB.encode()) < 600


def test_alias_bomb_is_refused_with_its_line():
    parsed, problems = parse_yaml(BOMB)
    assert parsed is None
    assert [(p.line, p.message) for p in problems] == [
        (
            BOMB_LINE,
            f"refused: aliases (*name) in this document expand to more than {MAX_ALIAS_VALUES} values "
            "(a YAML alias bomb?); write the values out instead",
        )
    ]


def test_deep_nesting_is_refused_with_its_line_not_a_traceback():
    parsed, problems = parse_yaml("org: x\nbad: " + DEEP)
    assert parsed is None
    assert [(p.line, p.message) for p in problems] == [(2, f"refused: nested deeper than {MAX_DEPTH} levels")]


def test_a_recursive_alias_is_refused():
    parsed, problems = parse_yaml("a: &a [x, *a]\n")
    assert parsed is None
    assert [(p.line, p.message) for p in problems] == [
        (1, "refused: alias *a refers to the value that contains it (a cycle)")
    ]


def test_ordinary_aliases_and_nesting_still_work():
    text = textwrap.dedent(
        """
        base: &base {objective: 99.9, window: 30d}
        slos:
          - *base
          - *base
        deep: [[[[[[[[[[1]]]]]]]]]]
        """
    )
    parsed, problems = parse_yaml(text)
    assert problems == []
    assert parsed is not None
    assert parsed.data["slos"] == [{"objective": 99.9, "window": "30d"}] * 2
    assert parsed.data["deep"] == [[[[[[[[[[1]]]]]]]]]]


def test_check_refuses_the_bomb_with_path_and_line(tmp_path):
    ops = ops_copy(tmp_path)
    line = with_bomb(ops)
    result = load_ops(ops)
    assert result.config is None
    assert [str(f) for f in result.errors if "refused" in f.message] == [
        f"commandpost.yaml:{line}: refused: aliases (*name) in this document expand to more than "
        f"{MAX_ALIAS_VALUES} values (a YAML alias bomb?); write the values out instead"
    ]


def test_check_refuses_deep_nesting_in_a_service_file(tmp_path):
    ops = ops_copy(tmp_path)
    (ops / "services" / "deep.yaml").write_text("name: deep\nowner: payments\nslos: " + DEEP)
    result = load_ops(ops)
    assert f"services/deep.yaml:3: refused: nested deeper than {MAX_DEPTH} levels" in [
        str(f) for f in result.errors
    ]


def test_runbook_front_matter_bombs_are_refused_by_both_readers(tmp_path):
    ops = ops_copy(tmp_path)
    runbook = ops / "runbooks" / "payment-webhook-backlog.md"
    text = runbook.read_text()
    assert text.startswith("---\n")
    bombed = "---\n" + BOMB + text[len("---\n") :]
    runbook.write_text(bombed)
    expected_line = 1 + BOMB_LINE  # the opening '---' is line 1
    found = [str(f) for f in load_ops(ops).errors if "refused" in f.message]
    assert found == [
        f"runbooks/payment-webhook-backlog.md:{expected_line}: front matter: refused: aliases (*name) in "
        f"this document expand to more than {MAX_ALIAS_VALUES} values (a YAML alias bomb?); write the "
        "values out instead"
    ]
    parsed = parse_text(bombed, path="runbooks/payment-webhook-backlog.md", slug="payment-webhook-backlog")
    assert [(p.line, p.message.split(":")[0]) for p in parsed.problems if "refused" in p.message] == [
        (expected_line, "front matter")
    ]
    deep = "---\nowner: payments\nalerts: " + DEEP + text[len("---\n") :]
    parsed = parse_text(deep, path="runbooks/x.md", slug="x")
    assert [p.line for p in parsed.problems if "nested deeper" in p.message] == [3]


def test_prometheus_rules_bombs_are_refused(tmp_path):
    config = load_ops(EXAMPLE_OPS).config
    assert config is not None
    (tmp_path / "bomb.yml").write_text("groups: []\n" + BOMB)
    (tmp_path / "deep.yml").write_text("groups: " + DEEP)
    found = [str(f) for f in lint_prometheus_rules([tmp_path], config).errors]
    assert found == [
        f"{tmp_path / 'bomb.yml'}:{1 + BOMB_LINE}: refused: aliases (*name) in this document expand to more "
        f"than {MAX_ALIAS_VALUES} values (a YAML alias bomb?); write the values out instead",
        f"{tmp_path / 'deep.yml'}:1: refused: nested deeper than {MAX_DEPTH} levels",
    ]


_CHILD = """
import json, resource, sys, time

from commandpost.cli import main


def check(folder):
    sys.argv = ["commandpost", "check", folder]
    started = time.perf_counter()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, time.perf_counter() - started


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


clean, bombed, deep, out = sys.argv[1:5]
check(clean)  # every import the command needs, and a full check, before measuring
baseline = peak_kib()
# a guard for the machine: a bomb that gets past the budget dies here instead of eating memory
with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
limit = (vm + 512 * 1024) * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
results = {"baseline_kib": baseline}
for name, folder in (("bomb", bombed), ("deep", deep)):
    code, seconds = check(folder)
    results[name] = {"code": code, "seconds": seconds, "peak_kib": peak_kib()}
with open(out, "w") as handle:
    json.dump(results, handle)
"""


def test_check_on_the_bombs_finishes_in_under_2_s_in_bounded_memory(tmp_path):
    """The real command in a child process: exit 1 with path:line, < 2 s, < 64 MiB over a clean check."""
    clean = ops_copy(tmp_path / "clean")
    bombed = ops_copy(tmp_path / "bombed")
    line = with_bomb(bombed)
    deep = ops_copy(tmp_path / "deep")
    (deep / "people.yaml").write_text("people: " + DEEP)
    out = tmp_path / "out.json"
    env = {**os.environ, "COLUMNS": "300"}
    env.pop("COMMANDPOST_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(clean), str(bombed), str(deep), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"commandpost.yaml:{line}: refused: aliases (*name)" in proc.stdout
    assert f"people.yaml:1: refused: nested deeper than {MAX_DEPTH} levels" in proc.stdout
    results = json.loads(out.read_text())
    for name in ("bomb", "deep"):
        assert results[name]["code"] == 1, results
        assert results[name]["seconds"] < 2.0, results
        assert results[name]["peak_kib"] - results["baseline_kib"] < 64 * 1024, results


@pytest.mark.parametrize("where", ["commandpost.yaml", "runbook"])
def test_apply_stores_nothing_for_a_bomb(
    sessions: sessionmaker[Session], clock: FrozenClock, tmp_path, where
):
    ops = ops_copy(tmp_path)
    if where == "commandpost.yaml":
        with_bomb(ops)
    else:
        runbook = ops / "runbooks" / "db-connection-exhaustion.md"
        runbook.write_text("---\n" + BOMB + runbook.read_text()[len("---\n") :])
    with sessions() as s, pytest.raises(PolicyInvalid) as raised:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")
    assert any("refused: aliases" in line for line in raised.value.details)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OpsRevision)) == 0


def test_revision_diffs_never_expand_a_stored_bomb():
    """A bomb stored by an apply before this fix must not hang the next apply's change list."""
    changes = policy_service._changed_keys("commandpost.yaml", "org: a\n" + BOMB, "org: b\n" + BOMB)
    assert changes == []
