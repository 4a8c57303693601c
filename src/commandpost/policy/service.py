"""Use cases over applied ops revisions: the server always runs on the latest one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.errors import Unavailable
from commandpost.policy.models import OpsRevision
from commandpost.policy.schema import OpsConfig

_cache: dict[int, OpsConfig] = {}


def latest_revision(session: Session) -> OpsRevision | None:
    return session.scalars(select(OpsRevision).order_by(OpsRevision.id.desc()).limit(1)).first()


def current_config(session: Session) -> OpsConfig:
    """The OpsConfig of the latest applied revision (parsed once per revision per process)."""
    revision = latest_revision(session)
    if revision is None:
        raise Unavailable("no ops revision is applied yet: run 'commandpost apply OPS_DIR'")
    config = _cache.get(revision.id)
    if config is None:
        config = OpsConfig.model_validate(revision.model)
        _cache.clear()
        _cache[revision.id] = config
    return config
