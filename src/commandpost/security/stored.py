"""Redaction where text is stored: every text and JSON column of every table, unless declared exempt.

Services redact what they know to be free text, but a column someone forgot (an override's
note, a token's name, an alert's dedup key) used to store secrets raw. So redaction is a
property of the column, not of each caller:

- :func:`install_all` wraps the type of every ``String``/``Text``/JSON column of every model in
  :class:`Redacted`; ``db/engine.py`` calls it where engines and session factories are made.
  Any value bound to the column passes through redaction first: ORM flushes, Core
  ``insert``/``update`` (single rows and executemany), and the comparisons of ``WHERE`` clauses —
  so a lookup by a value redacted on the way in still finds its row.
- :func:`before_flush` (installed on every session factory) redacts ORM objects in place before
  they are written, so what a caller holds after a flush is what was stored.
- The few statements that go to the DBAPI cursor directly (alert intake's hot path,
  ``alerts/dedup.py``) call :func:`redact_row` and :func:`processor` for the same functions.

Each column gets one of three treatments:

- **text** (the default for ``String``/``Text``): :func:`commandpost.security.redact.redact`;
  when a secret was replaced and the column has a length, the result is cut to it (never
  inside a marker).
- **JSON** (the default for JSON columns): :func:`commandpost.security.redact.redact_data`:
  every string, every key, every value under a secret-named key.
- **identifier** (a column of a primary key, unique constraint or unique index, and the others
  in :data:`IDENTIFIERS`): a value matched on (dedup keys, idempotency keys, group keys). Kept
  as it is when it holds no secret; else redacted *and* followed by ``[sha256:<16 hex>]``, a
  digest of the original, so two keys that differ only in their secret stay two keys and a
  later delivery of the same key finds the same row.

:data:`EXEMPT` lists, with the reason, the columns left alone: digests and prefixes of
secrets, values the code chooses from a fixed set, and the few secrets the product must use
as they are. ``tests/service/test_redaction_everywhere.py`` fails on a text column that is
neither wrapped nor exempt, and on an exemption that names no column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import JSON, Column, String, Table, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.types import TypeDecorator, TypeEngine

from commandpost.security.redact import MARKER, marker, redact, redact_data

TEXT, IDENTIFIER, JSON_DATA = "text", "identifier", "json"

_FIXED_SET = "chosen by the code from a fixed set (validated before it is stored)"
_DIGEST = "a digest, not the secret: what the secret is looked up by"

EXEMPT: Mapping[str, str] = {
    # Digests and prefixes of secrets, never the secret itself.
    "api_token.token_hash": _DIGEST,
    "api_token.prefix": "the token's first characters (cp_XXXXXX), stored to be shown in token list",
    "ical_feed.token_hash": _DIGEST,
    "ical_feed.prefix": "the feed token's first characters, stored to be shown",
    "web_session.token_hash": _DIGEST,
    "user.password_hash": "an argon2 hash: redacting it (it reads as high entropy) would lock the person out",
    "outgoing_pace.destination_hash": "SHA-256 of a destination",
    "ops_revision.content_hash": "SHA-256 of the ops folder",
    "incident_runbook.content_hash": "SHA-256 of the runbook file",
    "runbook_step_state.step_hash": "a hash of the step's text",
    # Secrets the product must use as they are.
    "integration_key.key": "the intake key: every intake request is matched against it, and admins read it "
    "to configure the sender",
    "web_session.csrf_token": "compared with the token of each form the session posts",
    "outgoing_message.destination": "where the message goes: a Slack or webhook URL carries its secret in "
    "the path, and the sender must use it",
    "ops_revision.model": "the applied ops configuration every replica runs on: it holds the teams' and "
    "people's Slack and webhook URLs",
    "ops_revision.files": "the ops folder's text behind model (the same URLs), diffed against the next "
    "apply; check and apply refuse any other credential in it (security/ops_secrets.py)",
    "server_setting.value": "what serve settled for every process: the public URL, and the key of the "
    "one-tap page links (security/links.py), which signs and checks them as it is",
    "sns_subscription.subscribe_url": "the SubscribeURL with its Token, for an admin to confirm the "
    "subscription (admins only; cleared once confirmed or superseded)",
    # Values the code chooses from a fixed set.
    **{
        column: _FIXED_SET
        for column in (
            "action_item.status",
            "action_item.type",
            "action_ticket.status",
            "action_ticket.tracker",
            "alert.outcome",
            "alert.severity",
            "alert.source",
            "alert.status",
            "alert_event.action",
            "alert_event.outcome",
            "api_token.scope",
            "engine_lease.name",
            "escalation.severity",
            "escalation.state",
            "ical_feed.kind",
            "incident.detection",
            "incident.severity",
            "incident.status",
            "incident_counter.name",
            "incident_response.severity",
            "incident_response_day.severity",
            "incident_response_hist.metric",
            "incident_response_hist.severity",
            "incident_role.role",
            "incident_runbook.source",
            "integration_key.source",
            "outgoing_attempt.outcome",
            "incident.acknowledged_via",
            "outgoing_message.acted",
            "outgoing_message.channel",
            "outgoing_message.receipt",
            "outgoing_message.severity",
            "outgoing_message.status",
            "postmortem.status",
            "postmortem_revision.reason",
            "role_offer.role",
            "role_offer.state",
            "runbook_step_state.state",
            "slo_alert_state.condition",
            "slack_channel.state",
            "slack_channel.step",
            "sns_subscription.state",
            "timeline_entry.kind",
            "user.role",
        )
    },
}

# Identifiers besides the columns of a primary key, unique constraint or unique index (those are
# identifiers anyway: two values that differ only in a secret must not collide).
IDENTIFIERS: Mapping[str, str] = {
    "alert.dedup_key": "the source's key as shown: two keys that differ only in a secret stay two",
    "alert.group_key": "the routing group, as the incident has it",
    "alert_event.dedup_key": "the key of an event that touched no alert, kept apart as alert.dedup_key is",
    "incident.group_key": "the routing group an incident was opened for",
    "outgoing_message.claimed_by": "the sender holding the message",
    "outgoing_message.provider_ref": "the provider's id (Twilio SM…), matched by its callbacks",
    "engine_lease.owner": "compared to renew and release the lease",
    "slack_channel.channel_id": "Slack's id of the incident's channel (C…), every later call names it",
    "slack_channel.name": "the channel's name as Slack was asked for it, tried again as it is after a retry",
    "slack_channel.opening_ts": "Slack's ts of the opening message, the key chat.update needs",
    "slack_channel.invited": "Slack user ids (U…) already invited, compared so nobody is invited twice",
    "slack_channel.claimed_by": "the engine replica working on the channel",
}

_DIGEST_CHARS = 16
ENTROPY_KIND = "high-entropy"


def store_text(value: str, length: int | None = None) -> str:
    """``value`` as a text column stores it: redacted, cut to ``length`` if redaction made it longer."""
    found = redact(value)
    if not found.findings:
        return value
    return _clip(found.text, length)


_CLEAN_IDENTIFIERS: dict[str, None] = {}
"""Identifiers found to hold no secret, so a repeat is not scanned again: an alert's dedup key comes
back with every repeat, and scanning a fingerprint (the entropy detectors run on it, and their
findings are then set aside) was 40 % of the CPU of Alertmanager webhooks of repeats. Only clean
values are kept, so no secret stays in memory for it; the detectors never change while the
process runs, so neither does the answer."""
_CLEAN_LIMIT = 100_000
_CLEAN_MAX_CHARS = 512


def store_identifier(value: str, length: int | None = None) -> str:
    """``value`` as an identifier column stores it: as it is without a secret, else redacted and
    followed by a digest of the original (``… [sha256:0123456789abcdef]``). Idempotent.

    Randomness alone is no secret here: identifiers are fingerprints, UUIDs and hashes
    (Alertmanager's ``4edb6a9835d1ccad``, PagerDuty's generated dedup keys), which the high-entropy
    detectors would all flag. Only a secret with a name or a shape (a password assignment, a
    GitHub token, a private key…) is redacted in an identifier."""
    if value in _CLEAN_IDENTIFIERS:
        return value
    findings = [f for f in redact(value).findings if f.kind != ENTROPY_KIND]
    if not findings:
        if len(value) <= _CLEAN_MAX_CHARS:
            if len(_CLEAN_IDENTIFIERS) >= _CLEAN_LIMIT:
                _CLEAN_IDENTIFIERS.clear()  # bounded: start over rather than track the oldest
            _CLEAN_IDENTIFIERS[value] = None
        return value
    parts: list[str] = []
    pos = 0
    for finding in findings:
        parts += (value[pos : finding.start], marker(finding.kind))
        pos = finding.end
    parts.append(value[pos:])
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    tail = f" [sha256:{digest}]"
    if length is not None and length <= len(tail):  # no room for any text: the digest alone
        return tail[1 : length + 1]
    return _clip("".join(parts), None if length is None else length - len(tail)) + tail


def store_json(value: Any) -> Any:
    """``value`` as a JSON column stores it (see :func:`commandpost.security.redact.redact_data`)."""
    return redact_data(value)


def _clip(text: str, length: int | None) -> str:
    """``text`` cut to ``length`` characters, before a marker the cut would split."""
    if length is None or len(text) <= length:
        return text
    cut = text[:length]
    start = cut.rfind("[")
    if start != -1:
        marker = MARKER.match(text, start)
        if marker is not None and marker.end() > length:
            cut = cut[:start]
    return cut


def treatment(column: Column[Any]) -> str | None:
    """How a column is redacted: :data:`TEXT`, :data:`IDENTIFIER`, :data:`JSON_DATA`, or None (not
    text, or exempt)."""
    type_ = column.type.inner if isinstance(column.type, Redacted) else column.type
    name = f"{column.table.name}.{column.name}"
    if name in EXEMPT:
        return None
    if isinstance(type_, JSON):
        return JSON_DATA
    if isinstance(type_, String):
        return IDENTIFIER if name in IDENTIFIERS or _unique(column) else TEXT
    return None


def _unique(column: Column[Any]) -> bool:
    """Part of the primary key, a unique constraint or a unique index."""
    table = column.table
    return (
        column.primary_key
        or bool(column.unique)
        or any(isinstance(c, UniqueConstraint) and column.name in c.columns for c in table.constraints)
        or any(ix.unique and column.name in ix.columns for ix in table.indexes)
    )


def _function(kind: str, length: int | None) -> Callable[[Any], Any]:
    if kind == JSON_DATA:
        return store_json
    if kind == IDENTIFIER:

        def identifier(value: Any) -> Any:
            if type(value) is str and value:  # a clean repeat is answered here, without another call
                return value if value in _CLEAN_IDENTIFIERS else store_identifier(value, length)
            return value

        return identifier

    def process(value: Any) -> Any:
        return store_text(value, length) if type(value) is str and value else value

    return process


class Redacted(TypeDecorator[Any]):
    """A column type that redacts every value bound to it (see the module docstring)."""

    impl: TypeEngine[Any] | type[TypeEngine[Any]] = String  # each column's own type, set below
    cache_ok = True

    def __init__(self, inner: TypeEngine[Any], kind: str) -> None:
        super().__init__()
        self.impl = inner
        self.inner = inner
        self.kind = kind
        # JSON's own flags (unhashable values, None stored as JSON null) stay what they were.
        self.hashable = inner.hashable
        self.should_evaluate_none = inner.should_evaluate_none
        self.process = _function(kind, getattr(inner, "length", None))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.process(value)

    @property
    def python_type(self) -> type[Any]:
        return self.inner.python_type


def install(table: Table) -> None:
    """Wrap the type of each of ``table``'s text and JSON columns that is not exempt (idempotent)."""
    for column in table.columns:
        if isinstance(column.type, Redacted):
            continue
        kind = treatment(column)
        if kind is not None:
            column.type = Redacted(column.type, kind)


def install_all() -> None:
    """:func:`install` on every table on ``Base.metadata``. Called where engines and session factories
    are made (``db/engine.py``, once every model is imported), before any statement runs — not when
    the models are declared, so that Alembic's autogenerate, which makes its own engine, still sees
    and renders plain types."""
    from commandpost.db.base import Base

    for table in Base.metadata.tables.values():
        if table not in _INSTALLED:
            install(table)
            _INSTALLED.add(table)


_INSTALLED: set[Table] = set()


_PROCESSORS: dict[Any, Callable[[Any], Any]] = {}


def processor(column: Column[Any]) -> Callable[[Any], Any]:
    """The function a column's values are bound through (identity for a column left alone), for
    statements that bypass SQLAlchemy's binding. The same whether or not :func:`install` ran."""
    found = _PROCESSORS.get(column)
    if found is None:
        kind = treatment(column)
        inner = column.type.inner if isinstance(column.type, Redacted) else column.type
        found = _identity if kind is None else _function(kind, getattr(inner, "length", None))
        _PROCESSORS[column] = found
    return found


def _identity(value: Any) -> Any:
    return value


_ROWS: dict[Table, dict[str, Callable[[Any], Any]]] = {}


def redact_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (column name → value) as ``table`` stores them, for raw DBAPI statements."""
    columns = _ROWS.get(table)
    if columns is None:
        columns = _ROWS[table] = {c.name: processor(c) for c in table.columns if treatment(c) is not None}
    return {k: (v if v is None or k not in columns else columns[k](v)) for k, v in values.items()}


# ---------------------------------------------------------------- ORM objects, in place

_MAPPED: dict[Mapper[Any], dict[str, Callable[[Any], Any]]] = {}


def _attributes(mapper: Mapper[Any]) -> dict[str, Callable[[Any], Any]]:
    found = _MAPPED.get(mapper)
    if found is None:
        found = {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if isinstance(column.type, Redacted):
                found[prop.key] = column.type.process
        _MAPPED[mapper] = found
    return found


def before_flush(session: Session, _flush_context: UOWTransaction, _instances: Any) -> None:
    """Redact new and changed ORM objects in place, so that what the caller holds after the flush
    is what the database holds (the column types would redact the stored copy anyway)."""
    for obj in session.new:
        _in_place(obj, new=True)
    for obj in session.dirty:
        _in_place(obj, new=False)


def _in_place(obj: Any, *, new: bool) -> None:
    state = instance_state(obj)
    attributes = _attributes(state.mapper)
    if not attributes:
        return
    values = state.dict
    keys = attributes.keys() if new else [k for k in state.committed_state if k in attributes]
    for key in keys:
        value = values.get(key)
        if value is None:
            continue
        clean = attributes[key](value)
        if clean is not value and clean != value:
            values[key] = clean
