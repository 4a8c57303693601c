"""incidents: maintenance_window and status_subscriber (the status page's planned work and email subscribers)

Revision ID: 0018
Revises: 0016

``maintenance_window`` keeps each scheduled window (issue 18): its public title and message, the
services it covers, when it starts and ends, and who scheduled or cancelled it. While one is on, the
status page shows its services "Under maintenance"; before, it is listed as upcoming.
``status_subscriber`` keeps the email addresses that subscribed to the page's updates (the address
only; ``confirmed_at`` once its owner followed the confirmation link).
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import commandpost.db.base

revision: str = "0018"
down_revision: str | tuple[str, ...] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "services",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("starts_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_window")),
    )
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.create_index("ix_maintenance_window_ends_at", ["ends_at"], unique=False)
    op.create_table(
        "status_subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscriber")),
        sa.UniqueConstraint("address", name=op.f("uq_status_subscriber_address")),
    )


def downgrade() -> None:
    op.drop_table("status_subscriber")
    with op.batch_alter_table("maintenance_window", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_window_ends_at")
    op.drop_table("maintenance_window")
