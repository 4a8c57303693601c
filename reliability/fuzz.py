"""Check 6, fuzzing: schemathesis generates requests for every operation of ``/openapi.json`` and sends
them in-process (its ASGI transport) to ``create_app`` with an admin token, on a database with the
example ops applied and a few incidents, so generated paths sometimes hit real rows.

Positive examples (valid by the schema) must never get a 5xx and their responses must match the
documented schema; negative examples (invalid by the schema) must be rejected with a 4xx. Every
failure is listed with its operation and a curl line that reproduces it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance
from tests.paging_support import open_alert

from commandpost.app import create_app
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.settings import Settings
from reliability.figures import Figure, at_most, equals
from reliability.stack import BACKENDS, apply_ops, database, sink_ops, token

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Findings:
    examples: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    schema_mismatches: list[str] = field(default_factory=list)
    accepted_negative: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    operations: int = 0
    refused_token: int = 0
    """401s to a request that carried the admin token (a negative example whose headers are the
    invalid part is sent with its own, bad, Authorization: 401 is its rejection, not counted here)."""


@contextlib.contextmanager
def fuzz_app(backend: str) -> Iterator[tuple[Any, str]]:
    """The app on a fresh database with ops and three incidents, and the database URL (for tokens)."""
    with tempfile.TemporaryDirectory(prefix="reliability-fuzz-") as tmp, database(backend, Path(tmp)) as url:
        apply_ops(url, sink_ops(Path(tmp), "http://127.0.0.1:9"))
        engine = create_db_engine(url)
        now = datetime.now(UTC)
        with transaction(make_session_factory(engine)) as s:
            for n, severity in enumerate(("SEV1", "SEV2", "SEV3")):
                open_alert(s, severity=severity, title=f"fuzz seed {n}", now=now, group=f"fuzz-{n}")
        app = create_app(Settings(database_url=url, engine_enabled=False), engine=engine, run_engine=False)
        try:
            yield app, url
        finally:
            engine.dispose()


def _curl(case: Any, headers: dict[str, str]) -> str:
    try:
        return str(case.as_curl_command(headers={**headers, "Authorization": "Bearer <admin>"}))
    except Exception:
        return f"{case.method} {case.formatted_path}"


def _probe(
    operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str], found: Findings
) -> bool:
    label = f"{operation.method.upper()} {operation.path}"

    @seed(20261127)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def probe(case: Any) -> None:
        found.examples[label] += 1
        # The bearer header is the document's only header: when it is what the example made invalid,
        # it is sent as made (adding the admin token would turn the example valid, and its 200 be
        # counted as an invalid request accepted).
        meta = case.meta
        bad_auth = (
            mode is GenerationMode.NEGATIVE
            and meta is not None
            and meta.is_negative_at(ParameterLocation.HEADER)
        )
        sent = dict(case.headers or {}) if bad_auth else headers
        try:
            response = case.call(headers=sent)
        except Exception as exc:  # the in-process transport re-raises what would be a 500
            found.statuses[500] += 1
            what = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            found.server_errors.append(
                f"{label} [{mode.value}] → raised: {_curl(case, headers)}\n      {what}"
            )
            return
        found.statuses[response.status_code] += 1
        if response.status_code == 401 and not bad_auth:
            found.refused_token += 1
        where = f"{label} [{mode.value}] → {response.status_code}: {_curl(case, sent)}"
        if response.status_code >= 500:
            found.server_errors.append(f"{where}\n      {response.text[:300]}")
            return
        _check(response_schema_conformance, case, response, found.schema_mismatches, where)
        if mode is GenerationMode.NEGATIVE and response.status_code < 400:  # any 4xx is a rejection (413 too)
            _check(negative_data_rejection, case, response, found.accepted_negative, where)

    try:
        probe()
    except Unsatisfiable:
        found.skipped.append(f"{label} [{mode.value}]: no examples could be generated")
        return False
    return True


def _check(check: Callable[..., Any], case: Any, response: Any, into: list[str], where: str) -> None:
    try:
        case.validate_response(response, checks=[check])
    except (AssertionError, BaseExceptionGroup) as exc:  # FailureGroup is a BaseExceptionGroup
        failures = getattr(exc, "exceptions", None) or [exc]
        what = "; ".join(f"{getattr(f, 'title', type(f).__name__)}: {_first_line(f)}" for f in failures)
        into.append(f"{where}\n      {what[:400]}")


def _first_line(failure: Any) -> str:
    text = str(getattr(failure, "message", "") or failure).strip()
    return text.splitlines()[0] if text else ""


def fuzz(backend: str, examples: int, share: tuple[int, int] = (0, 1)) -> Findings:
    """``examples`` per operation: three quarters valid, one quarter invalid (all valid when the schema
    leaves nothing to make invalid, e.g. an operation without parameters). ``share=(i, n)`` fuzzes only
    every n-th operation from the i-th (the bounded test splits the operations between the databases)."""
    found = Findings()
    negative = max(1, examples // 4)
    # POST /api/v1/ops/revisions takes a tar.gz: sent as bytes like any binary body (random bytes are
    # mostly not a tarball: its 400s are what is fuzzed)
    schemathesis.serializer.alias("application/gzip", "application/octet-stream")
    with fuzz_app(backend) as (app, url):
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for index, result in enumerate(schema.get_all_operations()):
            if index % share[1] != share[0]:
                continue
            operation = result.ok()  # type: ignore[union-attr]
            found.operations += 1
            # A fresh admin token per operation: DELETE /api/v1/tokens/{id} may revoke the one in use.
            headers = {"Authorization": f"Bearer {token(url, 'admin')}"}
            if not _probe(operation, GenerationMode.NEGATIVE, negative, headers, found):
                negative = 0
            _probe(operation, GenerationMode.POSITIVE, examples - negative, headers, found)
            negative = max(1, examples // 4)
    return found


def run(
    backends: tuple[str, ...] = BACKENDS,
    examples: int = 400,
    pg_examples: int = 200,
    share: tuple[int, int] = (0, 1),
) -> list[Figure]:
    """SQLite gets ``examples`` per operation; PostgreSQL ``pg_examples`` (its own 5xx: integer ranges,
    text encodings), since generating examples costs more CPU than sending them. Both exceed the 200
    per operation that CI gives each operation on one of the databases (tests/reliability/test_fuzz.py)."""
    figures: list[Figure] = []
    for backend in backends:
        check = f"6 fuzzing ({backend})"
        wanted = examples if backend == "sqlite" else pg_examples
        found = fuzz(backend, wanted, share)
        requests = sum(found.examples.values())
        statuses = dict(sorted(found.statuses.items()))
        figures += [
            equals(
                check,
                "operations fuzzed",
                len(found.examples),
                found.operations,
                note=f"{wanted} examples asked per operation, {requests} sent: {statuses}",
            ),
            at_most(
                check,
                "share of answers 401 with the token sent",
                100 * found.refused_token / max(1, requests),
                5.0,
                " %",
                note="high: the fuzzer revoked its own token (DELETE /api/v1/tokens/{id})",
            ),
            _listed(equals(check, "5xx answers", len(found.server_errors), 0), found.server_errors),
            _listed(
                equals(check, "responses off their schema", len(found.schema_mismatches), 0),
                found.schema_mismatches,
            ),
            _listed(
                equals(check, "invalid requests accepted", len(found.accepted_negative), 0),
                found.accepted_negative,
            ),
        ]
    return figures


def _listed(figure: Figure, items: list[str]) -> Figure:
    if not items:
        return figure
    shown = "\n    ".join(items[:10])
    return Figure(figure.check, figure.name, figure.value, figure.target, figure.ok, f"e.g.\n    {shown}")
