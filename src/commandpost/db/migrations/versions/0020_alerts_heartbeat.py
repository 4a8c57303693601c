"""alerts: heartbeat (declared heartbeats and when each next ping is due)

Revision ID: 0020
Revises: 0019

One row per heartbeat a service declares in ops (issue 21), tied to its integration key (source
``heartbeat``). ``due_at`` is indexed: the engine reads only the heartbeats due by now, so a pass
costs the misses it finds, not the number of heartbeats. Nothing to backfill: ``apply`` creates the
rows.
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0020"
down_revision: str | tuple[str, ...] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "heartbeat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("due_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_ping_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration_key.id"],
            name=op.f("fk_heartbeat_integration_id_integration_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeat")),
        sa.UniqueConstraint("integration_id", name=op.f("uq_heartbeat_integration_id")),
        sa.UniqueConstraint("name", name=op.f("uq_heartbeat_name")),
    )
    with op.batch_alter_table("heartbeat", schema=None) as batch_op:
        batch_op.create_index("ix_heartbeat_due_at", ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("heartbeat", schema=None) as batch_op:
        batch_op.drop_index("ix_heartbeat_due_at")
    op.drop_table("heartbeat")
