"""One-tap links on a page: signed, single-purpose, expiring, bound to (message, person, incident).

Whoever is paged acts from wherever the page lands — a push action, an email, a Slack button, a
voice call — without logging in, so the link itself is the credential. It is an HMAC-SHA256
signature (``itsdangerous``) over ``action.message.person.incident.expiry``: altering any part,
or using an ack link to escalate, breaks the signature. The expiry is inside what is signed, and is
checked against the injected clock.

Links are made when a message is sent, never stored: the outbox holds no credential. The key is
``COMMANDPOST_LINK_SECRET`` when set (replicas must then share it), else a random key kept once in
the database (``server_setting``), which every replica on that database reads.

SMS replies carry a 4-digit code instead (:func:`reply_code`): the reply comes from the person's
own number through the provider's signed webhook, so the code only has to say *which* page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.db.upsert import insert_for
from commandpost.errors import Forbidden
from commandpost.public_url import ServerSetting
from commandpost.settings import Settings

Action = Literal["ack", "escalate"]
_CODES: dict[str, Action] = {"a": "ack", "e": "escalate"}
_LETTERS = {action: code for code, action in _CODES.items()}
SALT = "commandpost.page-action.v1"
SECRET_NAME = "link_secret"
PATH = "/a/"
_KEYS: dict[str, bytes] = {}
"""Each database's key, once read: keyed by the database URL (tests use many databases)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid link allows: ``action`` on ``message_id``'s page, as ``person``, about ``incident_id``
    (None: a test page)."""

    action: Action
    message_id: int
    person: str
    incident_id: int | None
    expires_at: datetime


def key(session: Session, settings: Settings) -> bytes:
    """The signing key: the configured secret, else this database's own (made at first use)."""
    configured = settings.link_secret.get_secret_value()
    if configured:
        return configured.encode()
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    found = _KEYS.get(url)
    if found is None:
        table = ServerSetting.__table__
        session.execute(
            insert_for(session, table)
            .values(name=SECRET_NAME, value=secrets.token_urlsafe(32), updated_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = session.scalar(select(ServerSetting.value).where(ServerSetting.name == SECRET_NAME))
        found = _KEYS[url] = str(value).encode()
    return found


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._signer = Signer(secret, salt=SALT, digest_method=hashlib.sha256, sep="~")
        self._secret = secret

    def token(
        self, *, action: Action, message_id: int, person: str, incident_id: int | None, expires_at: datetime
    ) -> str:
        body = ".".join(
            (
                _LETTERS[action],
                format(message_id, "x"),
                person,
                format(incident_id or 0, "x"),
                format(int(expires_at.timestamp()), "x"),
            )
        )
        return self._signer.sign(body.encode()).decode()

    def read(self, token: str, *, now: datetime) -> Grant:
        """The grant a token carries; Forbidden (one sentence, no detail that helps a forger) otherwise."""
        try:
            body = self._signer.unsign(token.encode("ascii", "strict")).decode()
            code, message, person, incident, expiry = body.split(".")
            grant = Grant(
                action=_CODES[code],
                message_id=int(message, 16),
                person=person,
                incident_id=int(incident, 16) or None,
                expires_at=datetime.fromtimestamp(int(expiry, 16), UTC),
            )
        except (BadSignature, UnicodeError, ValueError, KeyError) as exc:
            raise Forbidden("this link is not valid: it was altered or never issued") from exc
        if grant.expires_at <= now:
            raise Forbidden(
                f"this link expired at {grant.expires_at:%Y-%m-%d %H:%M} UTC; open the incident and "
                "log in, or use the newest page"
            )
        return grant

    def reply_code(self, message_id: int) -> str:
        """Four digits naming one page in an SMS reply (``ack 4821``)."""
        digest = hmac.new(self._secret, f"reply:{message_id}".encode(), hashlib.sha256).digest()
        return str(1000 + int.from_bytes(digest[:4], "big") % 9000)


@dataclass(frozen=True, slots=True)
class Links:
    """Makes the links of one message: where they point (the public URL) and for how long."""

    signer: LinkSigner
    base_url: str
    ttl: timedelta

    def for_message(
        self, *, message_id: int, person: str, incident_id: int | None, now: datetime
    ) -> dict[str, str]:
        expires = now + self.ttl
        base = self.base_url.rstrip("/") + PATH
        made = {
            f"{action}_url": base
            + self.signer.token(
                action=action,
                message_id=message_id,
                person=person,
                incident_id=incident_id,
                expires_at=expires,
            )
            for action in ("ack", "escalate")
        }
        made["reply_code"] = self.signer.reply_code(message_id)
        return made


Purpose = Literal["confirm", "unsubscribe"]
_PURPOSES: dict[str, Purpose] = {"c": "confirm", "u": "unsubscribe"}
SUBSCRIPTION_SALT = "commandpost.status-subscription.v1"
CONFIRM_TTL = timedelta(hours=24)
UNSUBSCRIBE_TTL = timedelta(days=365)


class SubscriptionSigner:
    """Links of the status page's email subscriptions: ``confirm`` (double opt-in) and ``unsubscribe``,
    each bound to one subscriber and expiring; a salt of their own, so no page link (and no link of
    the other purpose) passes for one."""

    def __init__(self, secret: bytes) -> None:
        self._signer = Signer(secret, salt=SUBSCRIPTION_SALT, digest_method=hashlib.sha256, sep="~")

    def token(self, *, purpose: Purpose, subscriber_id: int, expires_at: datetime) -> str:
        letter = next(code for code, name in _PURPOSES.items() if name == purpose)
        body = f"{letter}.{subscriber_id:x}.{int(expires_at.timestamp()):x}"
        return self._signer.sign(body.encode()).decode()

    def read(self, token: str, *, purpose: Purpose, now: datetime) -> int:
        """The subscriber a valid, unexpired link of ``purpose`` names; Forbidden (403) otherwise."""
        try:
            body = self._signer.unsign(token.encode("ascii", "strict")).decode()
            letter, subscriber, expiry = body.split(".")
            found, subscriber_id = _PURPOSES[letter], int(subscriber, 16)
            expires_at = datetime.fromtimestamp(int(expiry, 16), UTC)
        except (BadSignature, UnicodeError, ValueError, KeyError, OverflowError) as exc:
            raise Forbidden("this link is not valid: it was altered or never issued") from exc
        if found != purpose:
            raise Forbidden("this link is not valid: it was altered or never issued")
        if expires_at <= now:
            raise Forbidden("this link has expired; subscribe again on the status page")
        return subscriber_id

    def links(self, *, base_url: str, subscriber_id: int, now: datetime, confirm: bool) -> dict[str, str]:
        """``unsubscribe_url`` (and ``confirm_url`` when asked), made at send time, never stored."""
        base = base_url.rstrip("/") + "/status/"
        made = {
            "unsubscribe_url": base
            + "unsubscribe/"
            + self.token(purpose="unsubscribe", subscriber_id=subscriber_id, expires_at=now + UNSUBSCRIBE_TTL)
        }
        if confirm:
            made["confirm_url"] = (
                base
                + "confirm/"
                + self.token(purpose="confirm", subscriber_id=subscriber_id, expires_at=now + CONFIRM_TTL)
            )
        return made
