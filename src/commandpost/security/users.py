"""Local users of the web pages and their browser sessions.

A user is a person of ``people.yaml`` (by handle) with an argon2 password hash and a role
(``admin`` | ``responder`` | ``read``) that means what a token's scope means: a logged-in
browser acts as a :class:`Principal` with that scope, through the same services as the API.

A browser session is a random 256-bit secret in an HttpOnly cookie, stored only as a SHA-256
hash (like API tokens, a hash of a random secret needs no slow hashing), with its own CSRF
token and an absolute expiry: a stolen cookie stops working at the end of the shift it was
issued in, and logging out deletes the row. No framework imports: the web adapter sets cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from commandpost.db.base import Base
from commandpost.errors import NotFound, Unauthorized, ValidationFailed
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security.rules import SCOPES, Principal

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
SESSION_TTL = timedelta(hours=12)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the handle is unknown, so a wrong handle costs as long as a wrong password.
    Made on the first login rather than at import: hashing takes 64 MiB and every process imports this."""
    return _hasher.hash(secrets.token_urlsafe(16))


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), unique=True, doc="a people.yaml handle")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), doc="admin | responder | read, as a token scope")
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class WebSession(Base):
    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class LoggedIn:
    """Who a session cookie stands for, and the CSRF token its forms must carry."""

    principal: Principal
    csrf_token: str
    session_id: int
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> str:
    if role not in SCOPES:
        raise ValidationFailed(
            f"unknown role {role!r}; valid roles: {', '.join(SCOPES)}",
            details={"field": "role", "valid": list(SCOPES)},
        )
    return role


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"the password is {len(password)} characters; use at least {MIN_PASSWORD}",
            details={"field": "password"},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(f"the password is longer than {MAX_PASSWORD} characters")


def get_user(session: Session, *, handle: str) -> User | None:
    return session.scalars(select(User).where(User.handle == handle.strip().lstrip("@"))).first()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.handle)))


def set_password(
    session: Session,
    *,
    config: OpsConfig,
    handle: str,
    password: str,
    now: datetime,
    role: str | None = None,
) -> tuple[User, bool]:
    """Create the user ``handle`` (a person of people.yaml) or change their password and role.

    A new user without ``role`` gets ``responder``; an existing one keeps theirs. Changing the
    password ends the user's browser sessions. Returns ``(user, created)``.
    """
    clean = handle.strip().lstrip("@")
    if config.person(clean) is None:
        valid = ", ".join("@" + p.handle for p in config.people)
        raise ValidationFailed(
            f"unknown person @{clean}: a user is a person of people.yaml ({valid})",
            details={"field": "handle", "value": clean},
        )
    _check_password(password)
    wanted = _check_role(role) if role is not None else None
    user = get_user(session, handle=clean)
    created = user is None
    if user is None:
        user = User(
            handle=clean,
            password_hash=_hasher.hash(password),
            role=wanted or "responder",
            created_at=now,
            password_changed_at=now,
        )
        session.add(user)
    else:
        user.password_hash = _hasher.hash(password)
        user.password_changed_at = now
        if wanted is not None:
            user.role = wanted
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    return user, created


def set_role(session: Session, *, handle: str, role: str) -> User:
    user = get_user(session, handle=handle)
    if user is None:
        raise NotFound(
            f"no user @{handle.lstrip('@')}; create one with: commandpost user set-password HANDLE"
        )
    user.role = _check_role(role)
    session.flush()
    return user


@dataclass(frozen=True)
class Verified:
    """A password that matched: who, and the new hash when the stored one uses old parameters."""

    user_id: int
    handle: str
    rehash: str | None


def verify_password(session: Session, *, handle: str, password: str) -> Verified:
    """Whose password this is; Unauthorized otherwise, saying nothing about which part was wrong.

    Only reads: run it in a read-only session, outside any write transaction — argon2 takes tens of
    milliseconds, and on SQLite a write transaction held that long stops intake and the engine."""
    user = get_user(session, handle=handle) if handle.strip() else None
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("wrong handle or password")
    rehash = _hasher.hash(password) if _hasher.check_needs_rehash(user.password_hash) else None
    return Verified(user.id, user.handle, rehash)


def record_login(session: Session, *, verified: Verified, now: datetime) -> User:
    """The write half of a login (short): last login time and, if due, the stronger hash."""
    user = session.get(User, verified.user_id)
    if user is None:  # deleted between the two transactions
        raise Unauthorized("wrong handle or password")
    if verified.rehash:
        user.password_hash = verified.rehash
    user.last_login_at = now
    session.flush()
    return user


def start_session(session: Session, *, user: User, now: datetime, ttl: timedelta = SESSION_TTL) -> str:
    """A new browser session for ``user``; returns the cookie value (stored only as a hash)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.flush()
    return token


def resume(session: Session, *, token: str, now: datetime) -> LoggedIn:
    """Who the cookie ``token`` belongs to; Unauthorized for an unknown, ended or expired session."""
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _digest(token))
    ).first()
    if row is None or row[0].expires_at <= now:
        raise Unauthorized("not logged in, or the session expired: log in again")
    web, user = row
    return LoggedIn(
        principal=Principal(person=user.handle, scope=user.role),
        csrf_token=web.csrf_token,
        session_id=web.id,
        expires_at=web.expires_at,
    )


def csrf_matches(expected: str, sent: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    return bool(sent) and hmac.compare_digest(expected.encode(), (sent or "").encode())


def end_session(session: Session, *, token: str) -> None:
    """Log out: the session row is deleted, so the cookie is worthless even if it was copied."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))
    session.flush()
