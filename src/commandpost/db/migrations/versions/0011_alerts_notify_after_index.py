"""alerts: partial index on alert.notify_after (the SEV3 channel notices' due column)

Revision ID: 0011
Revises: 0010

The engine processor ``paging.alert_notices`` polls ``notify_after <= now`` and its minimum.
Only alerts still to be announced keep a ``notify_after`` (it is cleared once decided), so the
index holds those few rows, not every alert ever stored.

Before this revision nothing sent those notices and nothing cleared the column, so every
non-paging alert since 0003 still carries one. Announcing that backlog now would flood the team
channel with old alerts: the upgrade clears what is already due (or resolved) and keeps only the
notices still ahead — SEV3 alerts that arrived outside business hours and wait for the opening.
Create Date: 2026-11-28 09:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0011"
down_revision: str | tuple[str, ...] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("notify_after IS NOT NULL")


def upgrade() -> None:
    alert = sa.table(
        "alert",
        sa.column("status", sa.String()),
        sa.column("notify_after", commandpost.db.base.UTCDateTime(timezone=True)),
    )
    op.execute(
        alert.update()
        .where(
            alert.c.notify_after.is_not(None),
            sa.or_(alert.c.status == "resolved", alert.c.notify_after <= datetime.now(UTC)),
        )
        .values(notify_after=None)
    )
    op.create_index(
        "ix_alert_notify_after",
        "alert",
        ["notify_after"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_alert_notify_after", table_name="alert")
