"""Check 6 in CI: schemathesis over every operation of /openapi.json, 200 examples each (as issue 10
asks of CI; ``make reliability`` fuzzes every operation on both databases), half the operations on each
database: no 5xx, responses match their schema, invalid requests rejected with 4xx."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report
from reliability.stack import BACKENDS

from reliability import fuzz

pytestmark = pytest.mark.integration  # a real server per backend, fuzzed for minutes


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_operation_fuzzed_without_a_5xx(backend: str) -> None:
    figures = fuzz.run((backend,), examples=200, pg_examples=200, share=(BACKENDS.index(backend), 2))
    assert not failed(figures), report(figures)
