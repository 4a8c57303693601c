"""One escalation row per incident: where its chain stands and when the next level is due.

``next_escalation_at`` is the one due column the engine polls (indexed). It is NULL unless the
row is ``active`` and a level is still to fire, so "what is due" is an index range scan and
"when is the next" an index lookup.

``chain`` counts restarts (a severity raised into a paging one starts the new severity's chain
from level 0); ``level`` / ``repeat`` name the next level to fire. Message keys are built from
(incident, chain, level, repeat, person, channel), so a second engine replica deciding the same
page inserts nothing, and a restarted chain pages again. Every change of the row is a
conditional UPDATE on (chain, level, repeat, state).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base


class Escalation(Base):
    __tablename__ = "escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    policy: Mapped[str | None] = mapped_column(String(100), doc="NULL: the service has no policy")
    severity: Mapped[str] = mapped_column(String(10), doc="the severity the chain was started for")
    chain: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer, default=0, doc="index of the next level to fire")
    repeat: Mapped[int] = mapped_column(Integer, default=0, doc="cycle of the next level (0 = first)")
    fired: Mapped[int] = mapped_column(Integer, default=0, doc="levels fired in this chain")
    fyi_sent: Mapped[bool] = mapped_column(Boolean, default=False, doc="this chain's notify targets told")
    state: Mapped[str] = mapped_column(String(20), doc="active | acknowledged | resolved | stopped")
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_fired_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(300))
