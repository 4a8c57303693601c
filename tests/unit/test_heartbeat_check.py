"""``commandpost check`` on heartbeats: a missed heartbeat is an alert like any other, so a paging one
needs a runbook and someone to page; its name is an integration key's, unique across both; interval
and grace are bounded. Each defect is reported at its ``path:line``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from commandpost.policy.loader import load_ops
from tests.conftest import EXAMPLE_OPS

SERVICE = "services/payment-platform.yaml"
EXAMPLE_BEAT = """heartbeats:
  - name: charge-ledger-reconciliation
    interval: 1d
    grace: 2h
    severity: SEV3
"""


def _line() -> int:
    """The line of the example's first heartbeat (where a replacement's first one lands)."""
    lines = (EXAMPLE_OPS / SERVICE).read_text().splitlines()
    return lines.index("heartbeats:") + 2


def _check(tmp_path: Path, beats: str) -> list[str]:
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    path = ops / SERVICE
    text = path.read_text()
    assert EXAMPLE_BEAT in text
    path.write_text(text.replace(EXAMPLE_BEAT, beats))
    return [str(f) for f in load_ops(ops).errors]


def test_the_examples_heartbeat_is_clean(tmp_path: Path) -> None:
    assert _check(tmp_path, EXAMPLE_BEAT) == []


@pytest.mark.parametrize(
    ("beats", "error"),
    [
        (
            "heartbeats:\n  - {name: nightly, interval: 1d, severity: SEV2}\n",
            "services/payment-platform.yaml:{first}: heartbeat nightly pages (SEV2) when missed but names no "
            "runbook (and the service has no default_runbook): every paging alert must point to a runbook "
            "(guide §4)",
        ),
        (
            "heartbeats:\n  - {name: nightly, interval: 1d, runbook: nope}\n",
            "services/payment-platform.yaml:{first}: heartbeat nightly: unknown runbook 'nope' (runbooks/: "
            "db-connection-exhaustion, payment-webhook-backlog)",
        ),
        (
            "heartbeats:\n  - {name: payment-platform-generic, interval: 1d}\n",
            "services/payment-platform.yaml:{first}: heartbeat 'payment-platform-generic' has the name of an "
            "integration (heartbeat keys are integration keys: names are unique across both)",
        ),
        (
            "heartbeats:\n  - {name: a, interval: 1d}\n  - {name: a, interval: 1h}\n",
            "services/payment-platform.yaml:{second}: duplicate heartbeat 'a' (already defined at "
            "services/payment-platform.yaml:{first})",
        ),
        (
            "heartbeats:\n  - {name: a, interval: 10s}\n",
            "interval must be between 30s and 31d",
        ),
        (
            "heartbeats:\n  - {name: a, interval: 1h, grace: 8d}\n",
            "grace must be at most 7d",
        ),
        (
            "heartbeats:\n  - {name: a, interval: 60}\n",
            "has no unit",
        ),
    ],
)
def test_a_broken_heartbeat_is_reported_where_it_is(tmp_path: Path, beats: str, error: str) -> None:
    errors = _check(tmp_path, beats)
    assert len(errors) == 1, errors
    assert error.format(first=_line(), second=_line() + 1) in errors[0], errors[0]
