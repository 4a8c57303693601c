"""Use cases over applied ops revisions and integration keys: the server always runs on the latest revision.

``apply_folder`` validates a folder and stores it as a revision (content hash, the normalized
model, the file texts, what changed); identical content stores nothing. Integration keys are
secrets, so they are generated here — one per declared integration, stable across applies —
and never written to YAML.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, NotFound, PolicyInvalid, Unavailable
from commandpost.policy import hooks
from commandpost.policy.loader import LoadResult, load_ops
from commandpost.policy.models import IntegrationKey, OpsRevision
from commandpost.policy.opsfiles import OpsConfig
from commandpost.policy.plan import Plan, plan
from commandpost.policy.yamlsource import parse_yaml

HEARTBEAT = "heartbeat"
"""The source of a heartbeat's integration key (``services/*.yaml`` ``heartbeats:``): its ping URL's key."""

# keyed by content hash too: ids repeat across databases (tests, a second --database-url)
_cache: dict[tuple[int, str], OpsConfig] = {}


@dataclass
class ApplyResult:
    revision: OpsRevision
    created: bool
    changes: list[str]


def latest_revision(session: Session) -> OpsRevision | None:
    return session.scalars(select(OpsRevision).order_by(OpsRevision.id.desc()).limit(1)).first()


def get_revision(session: Session, *, revision_id: int) -> OpsRevision:
    revision = session.get(OpsRevision, revision_id)
    if revision is None:
        raise NotFound(f"ops revision {revision_id} does not exist")
    return revision


def recent_revisions(session: Session, *, limit: int) -> list[OpsRevision]:
    """The last ``limit`` applied revisions, newest first."""
    return list(session.scalars(select(OpsRevision).order_by(OpsRevision.id.desc()).limit(limit)))


def previous_revision(session: Session, *, revision: OpsRevision) -> OpsRevision | None:
    """The revision applied just before ``revision`` (None for the first): what it is diffed against."""
    query = select(OpsRevision).where(OpsRevision.seq < revision.seq).order_by(OpsRevision.seq.desc())
    return session.scalars(query.limit(1)).first()


_LATEST = select(OpsRevision.id, OpsRevision.content_hash).order_by(OpsRevision.id.desc()).limit(1)
"""Built once: the engine's processors and every intake transaction ask it (building it each time cost
about a third of the call)."""


def current_config(session: Session) -> OpsConfig:
    """The OpsConfig of the latest applied revision (parsed once per revision per process). Asks for
    the revision's id and hash only: its JSON columns (the model, every file's text, the changes)
    are read for a new revision alone — decoding them on every call cost two thirds of the call."""
    latest = session.execute(_LATEST).first()
    if latest is None:
        raise Unavailable("no ops revision is applied yet: run 'commandpost apply OPS_DIR'")
    key = (latest.id, latest.content_hash)
    config = _cache.get(key)
    if config is None:
        model = session.scalars(select(OpsRevision.model).where(OpsRevision.id == latest.id)).one()
        config = OpsConfig.model_validate(model)
        _cache.clear()
        _cache[key] = config
    return config


def people_handles(session: Session) -> frozenset[str]:
    """The handles of ``people.yaml`` in the applied revision (none before the first ``apply``)."""
    if latest_revision(session) is None:
        return frozenset()
    return frozenset(p.handle for p in current_config(session).people)


def _validated(path: str | Path, shown: str) -> LoadResult:
    result = load_ops(path)
    if result.config is None:
        raise PolicyInvalid(
            f"{shown} has {len(result.errors)} error(s); nothing was applied",
            details=[str(f) for f in result.errors],
        )
    return result


def plan_folder(session: Session, *, path: str | Path, source: str | None = None) -> Plan:
    """What :func:`apply_folder` would change (``apply --dry-run``); reads only."""
    result = _validated(path, source or str(path))
    assert result.config is not None
    stored = latest_revision(session)
    planned = plan(stored, result.config)
    if stored is None or stored.content_hash != result.content_hash:
        planned.files = _file_changes(stored.files if stored else None, result.files)
    return planned


def apply_folder(
    session: Session, *, path: str | Path, now: datetime, actor: str, source: str | None = None
) -> ApplyResult:
    """Validate the folder and store it as a new revision unless the latest one has the same content.

    Raises PolicyInvalid (details: every ``path:line: message``) when it does not validate;
    nothing is stored then. Integration keys are brought in line with the folder either way.
    ``source`` is what the revision records as where it came from (default: the path).
    """
    result = _validated(path, source or str(path))
    config = result.config
    assert config is not None
    key_changes = _sync_integration_keys(session, config, now=now)
    previous = latest_revision(session)
    if previous is not None and previous.content_hash == result.content_hash:
        return ApplyResult(previous, False, key_changes)
    changes = _file_changes(previous.files if previous else None, result.files) + key_changes
    revision = OpsRevision(
        seq=(previous.seq + 1) if previous else 1,
        content_hash=result.content_hash,
        applied_at=now,
        applied_by=actor,
        source=(source or str(path))[:500],
        model=config.model_dump(mode="json"),
        files=result.files,
        changes=changes,
    )
    try:
        with session.begin_nested():
            session.add(revision)
    except IntegrityError:
        # another apply stored a revision on the same base at the same moment (seq is unique)
        winner = latest_revision(session)
        if winner is not None and winner.content_hash == result.content_hash:
            return ApplyResult(winner, False, key_changes)
        raise Conflict("another ops revision was applied at the same moment; apply again") from None
    hooks.ops_applied(session, config, now)  # a changed rotation keeps who is on call now
    return ApplyResult(revision, True, changes)


# ------------------------------------------------------------------ integration keys


def _new_key() -> str:
    return secrets.token_hex(16)


def _sync_integration_keys(session: Session, config: OpsConfig, *, now: datetime) -> list[str]:
    """One active key per declared integration and heartbeat (source ``heartbeat``: its ping URL's
    key); keys of integrations no longer declared go inactive."""
    rows = {row.name: row for row in session.scalars(select(IntegrationKey))}
    declared = set()
    changes = []
    wanted = [(s.name, i.name, str(i.source)) for s, i in config.integrations()]
    wanted += [(s.name, beat.name, HEARTBEAT) for s, beat in config.heartbeats()]
    for service, name, source in wanted:
        declared.add(name)
        row = rows.get(name)
        if row is None:
            session.add(
                IntegrationKey(
                    name=name,
                    service=service,
                    source=source,
                    key=_new_key(),
                    created_at=now,
                    rotated_at=None,
                    active=True,
                )
            )
            changes.append(f"integration {name}: key generated ({source}, {service})")
            continue
        if not row.active:
            row.active = True
            changes.append(f"integration {name}: reactivated with its previous key")
        if (row.service, row.source) != (service, source):
            was = f"was {row.source} of {row.service}"
            changes.append(f"integration {name}: now {source} of {service} ({was})")
            row.service, row.source = service, source
    for name, row in rows.items():
        if name not in declared and row.active:
            row.active = False
            changes.append(f"integration {name}: deactivated (no longer in ops); its key stops working")
    session.flush()
    return changes


def list_integrations(session: Session, *, include_inactive: bool = False) -> list[IntegrationKey]:
    query = select(IntegrationKey).order_by(IntegrationKey.service, IntegrationKey.name)
    if not include_inactive:
        query = query.where(IntegrationKey.active.is_(True))
    return list(session.scalars(query))


def integration_by_key(session: Session, *, key: str) -> IntegrationKey | None:
    """The active integration a key belongs to (None for unknown or deactivated keys)."""
    return session.scalars(
        select(IntegrationKey).where(IntegrationKey.key == key, IntegrationKey.active.is_(True))
    ).first()


def rotate_integration(session: Session, *, name: str, now: datetime) -> IntegrationKey:
    """Replace an integration's key; the old key stops working at once."""
    row = session.scalars(
        select(IntegrationKey).where(IntegrationKey.name == name, IntegrationKey.active.is_(True))
    ).first()
    if row is None:
        known = ", ".join(r.name for r in list_integrations(session)) or "none; run 'commandpost apply'"
        raise NotFound(f"no active integration named '{name}' (integrations: {known})")
    row.key = _new_key()
    row.rotated_at = now
    session.flush()
    return row


def intake_url(base_url: str, key: IntegrationKey) -> str:
    """Where a source sends alerts: PagerDuty Events v2 takes the key as routing_key in the body."""
    base = base_url.rstrip("/")
    if key.source == "pagerduty":
        return f"{base}/v2/enqueue"
    if key.source == HEARTBEAT:
        return f"{base}/api/v1/heartbeats/{key.key}"
    return f"{base}/api/v1/intake/{key.source}/{key.key}"


def intake_line(base_url: str, key: IntegrationKey) -> str:
    """What ``serve`` prints for an integration: everything a sender needs, on one line."""
    where = intake_url(base_url, key)
    if key.source == "pagerduty":
        where += f"  routing_key={key.key}"
    if key.source == HEARTBEAT:
        return f"heartbeat {key.name} ({key.service}): curl -fsS -m 10 --retry 3 {where}"
    return f"intake {key.name} ({key.source}, {key.service}): {where}"


# ------------------------------------------------------------------ what changed


def _file_changes(old: dict[str, Any] | None, new: dict[str, str]) -> list[str]:
    if old is None:
        return [f"initial revision: {len(new)} files"]
    changes = []
    for path in sorted(set(old) | set(new)):
        if path not in old:
            changes.append(f"added {path}")
        elif path not in new:
            changes.append(f"removed {path}")
        elif old[path] != new[path]:
            keys = _changed_keys(path, old[path], new[path])
            changes.append(f"changed {path}" + (f": {', '.join(keys)}" if keys else ""))
    return changes


def _changed_keys(path: str, old_text: str, new_text: str) -> list[str]:
    """Dotted keys (two levels deep) whose values differ; runbooks just say "changed".

    Read with :func:`parse_yaml`, whose limits hold for stored texts too: a revision stored before
    them may hold an alias bomb, which then says "changed" instead of expanding.
    """
    if not path.endswith((".yaml", ".yml")):
        return []
    old, old_problems = parse_yaml(old_text)
    new, new_problems = parse_yaml(new_text)
    if old is None or new is None or old_problems or new_problems:
        return []
    return _diff(old.data, new.data, prefix="", depth=2)


def _diff(old: Any, new: Any, *, prefix: str, depth: int) -> list[str]:
    if old == new:
        return []
    if depth == 0 or not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix or "content"]
    keys: list[str] = []
    for key in list(old) + [k for k in new if k not in old]:
        name = f"{prefix}.{key}" if prefix else str(key)
        if key not in new:
            keys.append(f"{name} (removed)")
        elif key not in old:
            keys.append(f"{name} (added)")
        else:
            keys.extend(_diff(old[key], new[key], prefix=name, depth=depth - 1))
    return keys
