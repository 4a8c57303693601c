"""Helpers for the importers' tests: check a written folder, and ask commandpost who is on call.

The round-trip property of docs/migrate.md: for each imported schedule, who commandpost puts on call
at random instants equals what the source's layers say. The commandpost side is the real thing —
the folder loaded by the loader ``check`` uses, applied, and asked through the on-call service —
so a mapping that only looks right in YAML fails here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from commandpost.importers.result import ImportResult
from commandpost.oncall import service as oncall_service
from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import OpsConfig


def checked_config(folder: Path) -> OpsConfig:
    """The folder as ``commandpost check`` reads it; every error in the failure message."""
    result = load_ops(folder)
    errors = "\n".join(map(str, result.errors))
    assert not result.errors, f"the imported folder does not pass check:\n{errors}"
    assert result.config is not None
    return result.config


def random_instants(start: datetime, *, days: int = 60, n: int = 200, seed: int = 7) -> list[datetime]:
    """``n`` instants in [start, start + days), to the second, reproducible per seed."""
    rng = random.Random(seed)
    span = days * 86400
    return sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(n))


def who_commandpost_pages(
    session: Session, config: OpsConfig, *, schedule: str, layer: str, instants: Sequence[datetime]
) -> list[str | None]:
    """Who commandpost's on-call service puts on ``schedule``/``layer`` at each instant."""
    return [
        oncall_service.who_is_on_call(session, config=config, schedule=schedule, layer=layer, at=at)
        for at in instants
    ]


def add_imported_overrides(
    session: Session, config: OpsConfig, result: ImportResult, *, now: datetime
) -> None:
    """Add the overrides the import reports (to add after apply) through the on-call service."""
    for o in result.overrides:
        oncall_service.add_override(
            session,
            config=config,
            schedule=o.schedule,
            layer=o.layer,
            person=o.person,
            start=o.start,
            end=o.end,
            actor="import",
            now=now,
            note=o.note,
        )


def iso_time(text: str) -> datetime:
    """A vendor's ISO 8601 instant, ``Z`` or an offset (the references' own reading, not the importer's)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
