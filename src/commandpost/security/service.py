"""API tokens: 32 random bytes shown once, stored only as a SHA-256 hash, revocable, ``last_used_at`` kept.

A SHA-256 of a 256-bit random secret is not guessable, so a slow password hash
would only cost latency on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from commandpost.errors import NotFound, Unauthorized, ValidationFailed
from commandpost.security.models import ApiToken, AuditLog
from commandpost.security.redact import redact_data
from commandpost.security.rules import (
    SCOPES,
    SERVICE_ACCOUNT_PREFIX,
    Principal,
    is_service_account,
    scope_allows,
    valid_service_account,
)

TOKEN_PREFIX = "cp_"
TOKEN_NAME_MAX = 200  # api_token.name is VARCHAR(200): PostgreSQL refuses a longer one (a 500 before)
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_holder(person: str, people: Collection[str]) -> str:
    """The handle a new token speaks for: a person of ``people.yaml`` (``people``) or ``svc:NAME``.

    A token for a handle nobody has would declare incidents with that name as IC and page no one."""
    handle = person.strip().lstrip("@")
    if is_service_account(handle):
        if not valid_service_account(handle):
            raise ValidationFailed(
                f"service account {handle!r}: write svc:NAME, NAME in lowercase letters, digits, '.', '_' "
                "or '-' (at most 60)",
                details={"field": "person", "value": handle},
            )
        return handle
    if handle not in people:
        known = ", ".join("@" + h for h in sorted(people)) or "none: apply an ops folder first"
        raise ValidationFailed(
            f"unknown person @{handle}: a token speaks for a person of people.yaml ({known}) "
            f"or for a service account written {SERVICE_ACCOUNT_PREFIX}NAME",
            details={"field": "person", "value": handle, "valid": sorted(people)},
        )
    return handle


def create_token(
    session: Session, *, person: str, scope: str, now: datetime, people: Collection[str], name: str = ""
) -> tuple[ApiToken, str]:
    """Create a token for ``person`` (see :func:`token_holder`); returns the row and the plaintext,
    which is never stored."""
    if scope not in SCOPES:
        raise ValidationFailed(f"unknown scope {scope!r}; valid scopes: {', '.join(SCOPES)}")
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationFailed(
            f"a token name is at most {TOKEN_NAME_MAX} characters; this one has {len(name)}"
        )
    holder = token_holder(person, people)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        person=holder,
        scope=scope,
        name=name,
        token_hash=_hash(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, plaintext


def authenticate(session: Session, *, token: str, now: datetime) -> Principal:
    """The principal a bearer token stands for; Unauthorized for unknown or revoked tokens."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked")
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_GRANULARITY:
        # At most once a minute, and best effort: a busy database must not fail the request over a timestamp.
        try:
            with session.begin_nested():
                session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        except OperationalError:
            pass
    return Principal(person=row.person, scope=row.scope, token_id=row.id)


def revoke_token(session: Session, *, token_id: int, now: datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def record_audit(
    session: Session,
    *,
    principal: Principal,
    action: str,
    target: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append an audit row; the caller's transaction makes it commit or roll back with the change.
    ``details`` often quote what was written (an action item's title): they are redacted like any text."""
    row = AuditLog(
        at=now,
        actor=principal.person,
        token_id=principal.token_id,
        action=action,
        target=target,
        details=redact_data(details) if details else {},
    )
    session.add(row)
    session.flush()
    return row


def may_answer_offers(session: Session, *, person: str) -> bool:
    """False when every credential ``person`` holds is read-only (a ``read`` login, ``read`` tokens):
    they could not accept a role. Someone with none yet may still be given a login or a token."""
    from commandpost.security.users import User

    scopes = set(
        session.scalars(
            select(ApiToken.scope).where(ApiToken.person == person, ApiToken.revoked_at.is_(None))
        )
    )
    scopes |= set(session.scalars(select(User.role).where(User.handle == person)))
    return not scopes or any(scope_allows(scope, "responder") for scope in scopes)
