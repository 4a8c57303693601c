"""Local users of the web pages and their browser sessions.

A user is a person of ``people.yaml`` (by handle) with an argon2 password hash and a role
(``admin`` | ``responder`` | ``read``) that means what a token's scope means: a logged-in
browser acts as a :class:`Principal` with that scope, through the same services as the API.
A disabled user keeps their row (and the audit log's mentions of them) but cannot log in, and
disabling them ends their sessions. There is always one enabled admin: the last one can be neither
demoted nor disabled, or nobody could manage users from the pages again.

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
from commandpost.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from commandpost.policy.opsfiles import SLUG, OpsConfig
from commandpost.security.rules import SCOPES, Principal

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_HANDLE = 100
MAX_ROLE = 20
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 random bits
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
    disabled_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="set: cannot log in and has no session; the row stays for the audit log"
    )


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
        shown = role if len(role) <= MAX_ROLE else role[:MAX_ROLE] + "…"
        raise ValidationFailed(
            f"unknown role {shown!r}; valid roles: {', '.join(SCOPES)}",
            details={"field": "role", "valid": list(SCOPES)},
        )
    return role


def _check_password(password: str) -> None:
    """Never echoes the password: error messages reach pages, terminals and logs."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"the password is {len(password)} characters; use at least {MIN_PASSWORD}",
            details={"field": "password"},
        )
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(
            f"the password is longer than {MAX_PASSWORD} characters", details={"field": "password"}
        )
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in password):
        raise ValidationFailed(
            "the password contains a control character (NUL, tab, newline …), which no login form can type",
            details={"field": "password"},
        )


def generate_password() -> str:
    """A password for an admin to hand over (shown once, never stored): long enough that nobody guesses it."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _clean_handle(handle: str) -> str:
    """The handle without its ``@``. A value no people.yaml handle can be — megabytes, NUL, control
    characters, markup — is refused without being repeated back."""
    clean = handle.strip().lstrip("@")
    if len(clean) > MAX_HANDLE or not SLUG.fullmatch(clean):
        raise ValidationFailed(
            "a handle is a person's handle in people.yaml: lowercase letters, digits, '-' and '_', "
            f"at most {MAX_HANDLE} characters",
            details={"field": "handle"},
        )
    return clean


def _person(config: OpsConfig, handle: str) -> str:
    clean = _clean_handle(handle)
    if config.person(clean) is None:
        valid = ", ".join("@" + p.handle for p in config.people)
        raise ValidationFailed(
            f"unknown person @{clean}: a user is a person of people.yaml ({valid})",
            details={"field": "handle", "value": clean},
        )
    return clean


def get_user(session: Session, *, handle: str) -> User | None:
    return session.scalars(select(User).where(User.handle == handle.strip().lstrip("@"))).first()


def require_user(session: Session, *, handle: str) -> User:
    """The user ``handle``: NotFound when there is none, ValidationFailed when it cannot be a handle."""
    clean = _clean_handle(handle)
    user = get_user(session, handle=clean)
    if user is None:
        raise NotFound(f"no user @{clean}; create one first")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.handle)))


def _end_sessions(session: Session, user: User) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    """Refuse to leave no enabled admin. The admins' rows are locked (PostgreSQL), so two admins
    demoting each other at once cannot both pass; SQLite's one writer serialises them anyway."""
    if user.role != "admin" or user.disabled_at is not None:
        return
    admins = session.scalars(
        select(User.id).where(User.role == "admin", User.disabled_at.is_(None)).with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise Conflict(
            f"@{user.handle} is the last enabled admin: make someone else admin before you {doing} them",
            details={"field": "handle", "value": user.handle},
        )


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
    clean = _person(config, handle)
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
        if wanted not in (None, "admin"):
            _keep_an_admin(session, user, "demote")
        user.password_hash = _hasher.hash(password)
        user.password_changed_at = now
        if wanted is not None:
            user.role = wanted
        _end_sessions(session, user)
    session.flush()
    return user, created


def create_user(
    session: Session, *, config: OpsConfig, handle: str, role: str, password: str, now: datetime
) -> tuple[User, str]:
    """A new user for a person of people.yaml, from the settings page.

    An empty ``password`` makes one; it is returned (to be shown once) and otherwise ``""`` is.
    A person who already has a user is a Conflict: that is a role change or a password reset.
    """
    clean = _person(config, handle)
    wanted = _check_role(role)
    if password:
        _check_password(password)
    if get_user(session, handle=clean) is not None:
        raise Conflict(
            f"@{clean} already has a user: change their role or reset their password instead",
            details={"field": "handle", "value": clean},
        )
    generated = "" if password else generate_password()
    user = User(
        handle=clean,
        password_hash=_hasher.hash(password or generated),
        role=wanted,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user, generated


def reset_password(session: Session, *, handle: str, password: str, now: datetime) -> tuple[User, str]:
    """A new password for an existing user (made when ``password`` is empty, and returned to be shown
    once; else ``""`` is); their browser sessions end, so whoever held the old one is logged out."""
    user = require_user(session, handle=handle)
    if password:
        _check_password(password)
    generated = "" if password else generate_password()
    user.password_hash = _hasher.hash(password or generated)
    user.password_changed_at = now
    _end_sessions(session, user)
    session.flush()
    return user, generated


def set_role(session: Session, *, handle: str, role: str) -> User:
    user = require_user(session, handle=handle)
    wanted = _check_role(role)
    if wanted != "admin":
        _keep_an_admin(session, user, "demote")
    user.role = wanted
    session.flush()
    return user


def set_disabled(session: Session, *, handle: str, disabled: bool, now: datetime) -> User:
    """Disable (their sessions end, logging in is refused) or enable a user; either twice is a no-op."""
    user = require_user(session, handle=handle)
    if disabled:
        _keep_an_admin(session, user, "disable")
        if user.disabled_at is None:
            user.disabled_at = now
        _end_sessions(session, user)
    else:
        user.disabled_at = None
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
    if user.disabled_at is not None:  # said only to whoever knows the password
        raise Unauthorized(f"@{user.handle}'s user is disabled: ask an admin to enable it")
    rehash = _hasher.hash(password) if _hasher.check_needs_rehash(user.password_hash) else None
    return Verified(user.id, user.handle, rehash)


def record_login(session: Session, *, verified: Verified, now: datetime) -> User:
    """The write half of a login (short): last login time and, if due, the stronger hash."""
    user = session.get(User, verified.user_id)
    if user is None or user.disabled_at is not None:  # deleted or disabled between the two transactions
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
    if row is None or row[0].expires_at <= now or row[1].disabled_at is not None:
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
