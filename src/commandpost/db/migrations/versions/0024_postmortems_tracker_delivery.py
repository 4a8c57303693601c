"""postmortems: tracker_delivery (the trackers' webhook deliveries already applied)

Revision ID: 0024
Revises: 0023

One row per verified tracker webhook delivery, by the id the tracker gives it, so a replay changes
nothing; ``(tracker, delivery_id)`` is unique and ``received_at`` indexed (rows older than 7 days
are pruned as new ones arrive). Nothing to backfill.
Create Date: 2026-12-07 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0024"
down_revision: str | tuple[str, ...] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracker_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracker", sa.String(length=10), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracker_delivery")),
        sa.UniqueConstraint("tracker", "delivery_id", name=op.f("uq_tracker_delivery_tracker_delivery_id")),
    )
    with op.batch_alter_table("tracker_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_tracker_delivery_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracker_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_tracker_delivery_received_at")
    op.drop_table("tracker_delivery")
