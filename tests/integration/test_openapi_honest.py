"""The OpenAPI document says what the server does: schemathesis sends a few requests per operation
(valid and invalid, with an admin token and without one) to the app in process, and every answer's
status must be documented for its operation, with the documented body, content type and headers
(``WWW-Authenticate`` on a 401). Bounded: a handful of examples per operation, about a minute."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from reliability.fuzz import fuzz_app
from reliability.stack import token
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration  # every operation of the app, in process, for about a minute

CHECKS = [status_code_conformance, response_schema_conformance, content_type_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def test_every_answer_schemathesis_sees_is_documented() -> None:
    mismatches: list[str] = []
    statuses: Counter[int] = Counter()
    schemathesis.serializer.alias("application/gzip", "application/octet-stream")  # the ops tarball
    with fuzz_app("sqlite") as (app, url):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) > 90
        for operation in operations:
            admin = {"Authorization": f"Bearer {token(url, 'admin')}"}  # fresh: DELETE /tokens/{id} revokes
            for mode, examples in EXAMPLES.items():
                _probe(operation, mode, examples, admin, statuses, mismatches)
            if operation.definition.raw.get("security"):  # no token at all: 401 with its challenge
                _probe(operation, GenerationMode.POSITIVE, 1, {}, statuses, mismatches, want=401)
    assert not mismatches, f"{len(mismatches)} answers off the document:\n" + "\n".join(mismatches[:30])
    assert statuses[401] and statuses[404] and statuses[422] and statuses[200], statuses


def _probe(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    statuses: Counter[int],
    mismatches: list[str],
    want: int | None = None,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @seed(20261207)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def probe(case: Any) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        where = f"{label} [{mode.value}] → {response.status_code}"
        if want is not None and response.status_code != want:
            mismatches.append(f"{where}: expected {want}")
        checks = [*CHECKS, response_headers_conformance] if response.status_code == 401 else CHECKS
        try:
            case.validate_response(response, checks=checks)
        except (AssertionError, BaseExceptionGroup) as exc:
            failures = getattr(exc, "exceptions", None) or [exc]
            what = "; ".join(getattr(f, "title", type(f).__name__) for f in failures)
            mismatches.append(f"{where}: {what}: {response.text[:200]}")

    with contextlib.suppress(Unsatisfiable):  # nothing invalid to make of an operation without input
        probe()
