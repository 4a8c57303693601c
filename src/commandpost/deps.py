"""FastAPI dependencies every domain's ``api.py`` shares: the unit of work, the caller, the clock.

One request = one transaction. ``Reader``/``Responder``/``Admin`` authenticate the
bearer token, check its scope, hand the endpoint a :class:`Ctx`, and — for a
mutating method — write the audit row and commit *before* the response is sent
(``scope="function"``), so a 2xx always means "stored", and the audit row commits
or rolls back with the change it describes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import Clock, in_range
from commandpost.db.engine import transaction
from commandpost.errors import Forbidden, Unauthorized
from commandpost.security import service as security_service
from commandpost.security.rules import Principal

ROW_ID_MAX = 2_147_483_647
"""Row ids are 32-bit INTEGER columns: a larger id names no row, and PostgreSQL refuses to compare one
(500 instead of 404), so an id path or query parameter is checked against this range (422)."""
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="a row id")]
RowIdQuery = Annotated[int | None, Query(ge=1, le=ROW_ID_MAX, description="a row id")]


def _iso_only(value: object) -> object:
    """Refuse a bare number: pydantic would read ``?at=-40648`` as a Unix timestamp, which the schema
    (``format: date-time``) does not promise and which a typo should not silently turn into 1970."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError(
            f"expected an ISO 8601 date-time such as 2026-11-27T09:00:00Z, not the number {value!r}"
        )
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(in_range)]
"""A date-time query parameter: ISO 8601 text only (no offset = UTC where the endpoint says so),
from 1970 to 2999."""
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(in_range)]
"""An ISO 8601 date-time query parameter that must carry its timezone, from 1970 to 2999."""

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUERY_TOKEN_NAMES = ("token", "access_token", "api_key", "apikey")


@dataclass
class Ctx:
    """What an endpoint works with: its session, who called, and the instant the request is handled."""

    session: Session
    principal: Principal
    now: datetime
    request: Request
    audit: dict[str, Any] = field(default_factory=dict)

    def audit_target(self, target: str, **details: Any) -> None:
        """Name what the audit row is about (default: the request path) and add details."""
        self.audit["target"] = target
        self.audit.setdefault("details", {}).update(details)

    def write_audit(self, **details: Any) -> None:
        """The one way a request writes its audit row, in its transaction: the method and route
        template, what the endpoint named (:meth:`audit_target`, else the path), and the details."""
        route = self.request.scope.get("route")
        security_service.record_audit(
            self.session,
            principal=self.principal,
            action=f"{self.request.method} {getattr(route, 'path', self.request.url.path)}",
            target=self.audit.get("target", self.request.url.path),
            details={**self.audit.get("details", {}), **details},
            now=self.now,
        )


def clock_of(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def bearer_token(request: Request) -> str:
    for name in QUERY_TOKEN_NAMES:
        if name in request.query_params:
            raise Unauthorized(
                f"tokens are never accepted in a query string (found ?{name}=); "
                "send 'Authorization: Bearer <token>'"
            )
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return value.strip()


def sessions_for(request: Request) -> sessionmaker[Session]:
    """A mutating request writes (on SQLite: BEGIN IMMEDIATE); any other reads (a deferred transaction)."""
    state = request.app.state
    factory: sessionmaker[Session] = state.sessions if request.method in MUTATING else state.read_sessions
    return factory


def _unit_of_work(needed: str) -> Callable[[Request], Iterator[Ctx]]:
    def dependency(request: Request) -> Iterator[Ctx]:
        with transaction(sessions_for(request)) as session:
            now = clock_of(request).now()
            principal = security_service.authenticate(session, token=bearer_token(request), now=now)
            if not principal.allows(needed):
                raise Forbidden(
                    f"this needs a token with scope '{needed}'; yours has '{principal.scope}'",
                    details={"needed": needed, "held": principal.scope},
                )
            ctx = Ctx(session=session, principal=principal, now=now, request=request)
            yield ctx
            if request.method in MUTATING:
                ctx.write_audit()

    dependency.__name__ = f"require_{needed}"
    return dependency


Reader = Annotated[Ctx, Depends(_unit_of_work("read"), scope="function")]
Responder = Annotated[Ctx, Depends(_unit_of_work("responder"), scope="function")]
Admin = Annotated[Ctx, Depends(_unit_of_work("admin"), scope="function")]


def _public_read(request: Request) -> Iterator[Session]:
    """A read without a bearer token (the public status page, iCal feeds): nothing it does is kept."""
    with transaction(request.app.state.read_sessions, commit=False) as session:
        yield session


PublicRead = Annotated[Session, Depends(_public_read)]
